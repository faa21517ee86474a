"""The choices the library accepts, defined once and light to import (the CLI's option types list them).

Devices, model tiers, smoothing modes and x264 presets: the runtime, the smoother and the encoder validate against
these, and ``rtstyle.cli.options`` turns them into the choice lists that ``--help`` and shell completion show.
``Device``, ``Tier`` and ``SmoothMode`` are the ``Literal`` types of the public API (type checkers see the
choices); each tuple is read from its type, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Literal, get_args

from rtstyle.contract import TIERS

# auto: CUDA when it really runs, else the CPU. The others name one onnxruntime execution provider
# (rtstyle.runtime.hardware.PROVIDERS), with the CPU provider behind it for the operators it does not take.
Device = Literal["auto", "cpu", "cuda", "coreml", "directml", "openvino", "tensorrt"]
Tier = Literal["full", "fast"]
SmoothMode = Literal["flow", "ema", "off"]
Channels = Literal["bgr", "rgb"]

DEVICES: tuple[str, ...] = get_args(Device)
SMOOTH_MODES: tuple[str, ...] = get_args(SmoothMode)
CHANNELS: tuple[str, ...] = get_args(Channels)
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

__all__ = [
    "CHANNELS",
    "DEVICES",
    "SMOOTH_MODES",
    "TIERS",
    "X264_PRESETS",
    "Channels",
    "Device",
    "SmoothMode",
    "Tier",
]
