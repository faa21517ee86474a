"""The choices the library accepts, defined once and light to import (the CLI's option types list them).

Devices, model tiers, smoothing modes and x264 presets: the runtime, the smoother and the encoder validate against
these, and ``rtstyle.cli.options`` turns them into the choice lists that ``--help`` and shell completion show.
"""

from __future__ import annotations

from rtstyle.contract import TIERS

DEVICES = ("auto", "cuda", "cpu")
SMOOTH_MODES = ("flow", "ema", "off")
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)

__all__ = ["DEVICES", "SMOOTH_MODES", "TIERS", "X264_PRESETS"]
