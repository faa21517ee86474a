"""The options every command shares: one declaration each (name, short flag, default, help, choices).

Commands annotate their parameters with these types (``style: options.Style = None``), so the same option has
the same spelling, short flag, default and help everywhere, and the choice options (``--device``, ``--tier``,
``--smooth``, ``--preset``) list their choices in ``--help`` and in shell completion. Only typer and the light
``rtstyle.choices`` are imported here, so ``rtstyle --help`` stays fast.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from rtstyle.choices import DEVICES, SMOOTH_MODES, TIERS, X264_PRESETS

# Choice enums built from the library's own lists (values are the strings the library takes: ``.value``).
Device = Enum("Device", [(d, d) for d in DEVICES], type=str)  # type: ignore[misc]
TierChoice = Enum("TierChoice", [(t, t) for t in TIERS], type=str)  # type: ignore[misc]
SmoothMode = Enum("SmoothMode", [(m, m) for m in SMOOTH_MODES], type=str)  # type: ignore[misc]
X264Preset = Enum("X264Preset", [(p, p) for p in X264_PRESETS], type=str)  # type: ignore[misc]

STYLE_HELP = "Style name (see `rtstyle styles`) or path to a contract-v1 .onnx model. Default: the built-in style."
STYLES_HELP = "Style(s), repeatable or comma-separated (names or .onnx paths); default: all styles of the tier."
DEVICE_HELP = "Where the network runs: auto (CUDA when it really runs, else CPU), cuda or cpu."
TIER_HELP = "Model tier: full or fast (default: fast on CPU, full on CUDA, whichever exists)."
MAX_SIDE_HELP = (
    "Stylize at most this many pixels on the long side, then resize back. This sets the stroke size: "
    "smaller values give larger brush strokes relative to the picture (and run faster)."
)
SCALE_HELP = "Stylize at this fraction of the input size, then resize back (sets the stroke size, like --max-side)."
STRENGTH_HELP = "0..1: blend the stylized picture with the original (1 = fully stylized)."
PRESERVE_HELP = "Keep the input's colours: luminance from the stylized picture, colour from the original."
BLEND_HELP = "Mix two styles: FIRST:SECOND:T (T = share of SECOND, 0..1), or first=0.7,second=0.3."
SMOOTH_HELP = "Temporal smoothing against flicker: flow (motion-compensated), ema (plain blend) or off."
CRF_HELP = "H.264 quality, 0..51 (lower = better, larger file)."
PRESET_HELP = "x264 speed preset: slower presets give smaller files at the same --crf."
MAX_FRAMES_HELP = "Stop after this many frames."
FORCE_HELP = "Overwrite the output file when it exists (without it, an existing output is refused)."

Style = Annotated[str | None, typer.Option("--style", "-s", help=STYLE_HELP)]
Styles = Annotated[list[str] | None, typer.Option("--style", "-s", help=STYLES_HELP)]
DeviceOpt = Annotated[Device, typer.Option("--device", "-d", help=DEVICE_HELP)]
Tier = Annotated[TierChoice | None, typer.Option("--tier", help=TIER_HELP)]
MaxSide = Annotated[int | None, typer.Option("--max-side", help=MAX_SIDE_HELP)]
Scale = Annotated[float | None, typer.Option("--scale", help=SCALE_HELP)]
Strength = Annotated[float, typer.Option("--strength", min=0.0, max=1.0, help=STRENGTH_HELP)]
PreserveColor = Annotated[bool, typer.Option("--preserve-color/--no-preserve-color", help=PRESERVE_HELP)]
Blend = Annotated[str | None, typer.Option("--blend", help=BLEND_HELP)]
Smooth = Annotated[SmoothMode, typer.Option("--smooth", help=SMOOTH_HELP)]
Crf = Annotated[int, typer.Option("--crf", min=0, max=51, help=CRF_HELP)]
Preset = Annotated[X264Preset, typer.Option("--preset", help=PRESET_HELP)]
MaxFrames = Annotated[int | None, typer.Option("--max-frames", min=1, help=MAX_FRAMES_HELP)]
Force = Annotated[bool, typer.Option("--force", "-f", help=FORCE_HELP)]

# Defaults, the same in every command.
DEFAULT_DEVICE = Device("auto")
DEFAULT_SMOOTH = SmoothMode("flow")
DEFAULT_CRF = 18
DEFAULT_PRESET = X264Preset("veryfast")

__all__ = [
    "Blend",
    "Crf",
    "DEFAULT_CRF",
    "DEFAULT_DEVICE",
    "DEFAULT_PRESET",
    "DEFAULT_SMOOTH",
    "DeviceOpt",
    "Force",
    "MaxFrames",
    "MaxSide",
    "PreserveColor",
    "Preset",
    "Scale",
    "Smooth",
    "Strength",
    "Style",
    "Styles",
    "Tier",
    "parse_styles",
]


def parse_styles(values: list[str] | None) -> list[str]:
    """``--style a --style b,c`` -> ``["a", "b", "c"]`` (order kept, duplicates dropped)."""
    out: list[str] = []
    for v in values or []:
        for name in v.split(","):
            name = name.strip()
            if name and name not in out:
                out.append(name)
    return out


def stylize_options(
    style: str | None,
    device: Enum,
    tier: Enum | None,
    max_side: int | None = None,
    scale: float | None = None,
    strength: float = 1.0,
    preserve_color: bool = False,
    blend: str | None = None,
) -> Any:
    """The stylizing options as ``rtstyle.pipeline.jobs.StylizeOptions`` (imported here, when a command runs)."""
    from rtstyle.pipeline.jobs import StylizeOptions

    return StylizeOptions(
        style=style,
        device=device.value,
        tier=tier.value if tier is not None else None,
        max_side=max_side,
        scale=scale,
        strength=strength,
        preserve_color=preserve_color,
        blend=blend,
    )
