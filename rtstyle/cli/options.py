"""The options every command shares: one declaration each (name, short flag, default, help, choices).

Commands annotate their parameters with these types (``style: options.Style = None``), so the same option has
the same spelling, short flag, default and help everywhere, and the choice options (``--device``, ``--tier``,
``--smooth``, ``--preset``) list their choices in ``--help`` and in shell completion. Only typer and the light
``rtstyle.choices`` are imported here, so ``rtstyle --help`` stays fast.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from enum import Enum
from pathlib import Path
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
DEVICE_HELP = (
    "Where the network runs: auto (CUDA when it really runs, else CPU), cpu, or an onnxruntime provider: cuda, "
    "coreml (macOS), directml (Windows), openvino, tensorrt (see `rtstyle doctor`)."
)
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

# Help panels: the options of the long commands grouped by what they are about (``--help`` shows a box each).
PANEL_INPUT = "Input"
PANEL_STYLE = "Style"
PANEL_SMOOTHING = "Smoothing"
PANEL_OUTPUT = "Output"
PANEL_STREAMING = "Streaming"
PANEL_DISPLAY = "Display"
PANEL_PERFORMANCE = "Performance"
PANEL_RUN = "Run"  # how many, how, and what is said: --workers, --max-frames, --json, --quiet, ...

# Environment defaults: ``RTSTYLE_STYLE=mosaic`` and ``RTSTYLE_DEVICE=cpu`` stand in for --style and --device.
STYLE_ENV = "RTSTYLE_STYLE"
DEVICE_ENV = "RTSTYLE_DEVICE"

Style = Annotated[
    str | None, typer.Option("--style", "-s", envvar=STYLE_ENV, help=STYLE_HELP, rich_help_panel=PANEL_STYLE)
]
Styles = Annotated[
    list[str] | None,
    typer.Option("--style", "-s", envvar=STYLE_ENV, help=STYLES_HELP, rich_help_panel=PANEL_STYLE),
]
DeviceOpt = Annotated[
    Device, typer.Option("--device", "-d", envvar=DEVICE_ENV, help=DEVICE_HELP, rich_help_panel=PANEL_PERFORMANCE)
]
Tier = Annotated[TierChoice | None, typer.Option("--tier", help=TIER_HELP, rich_help_panel=PANEL_STYLE)]

# --quiet and --verbose: set for the whole run (worker processes included) through the environment.
QUIET_ENV = "RTSTYLE_QUIET"
VERBOSE_ENV = "RTSTYLE_VERBOSE"
VERBOSITY_VARS = (QUIET_ENV, VERBOSE_ENV)


def _set_verbosity(var: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value:
            for other in VERBOSITY_VARS:
                os.environ.pop(other, None)
            os.environ[var] = "1"
        return value

    return check


Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        callback=_set_verbosity(QUIET_ENV),
        help="Say nothing but errors (and the --json result): no notices, no progress bar, no summary line.",
        rich_help_panel=PANEL_RUN,
    ),
]
Verbose = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        callback=_set_verbosity(VERBOSE_ENV),
        help="Say more: the model file, the providers onnxruntime runs, timings.",
        rich_help_panel=PANEL_RUN,
    ),
]
AsJson = Annotated[
    bool,
    typer.Option("--json", help="Print the result as JSON on stdout (nothing else there).", rich_help_panel=PANEL_RUN),
]


def number(lo: float | None = None, hi: float | None = None, above: float | None = None) -> Callable[[Any], Any]:
    """A parse-time check for a numeric option: finite (no nan, no inf), at least ``lo``, more than ``above``, at
    most ``hi``. Every numeric option of every command is checked this way, so a bad value is the same one line
    (``Invalid value for '--scale': ...``) wherever it is given."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        # worded as typer words its own range checks, so every bad number reads alike
        if not math.isfinite(value):
            raise typer.BadParameter(f"Input should be a finite number, not {value}")
        if above is not None and value <= above:
            raise typer.BadParameter(f"Input should be greater than {above:g}")
        if lo is not None and value < lo:
            raise typer.BadParameter(f"Input should be greater than or equal to {lo:g}")
        if hi is not None and value > hi:
            raise typer.BadParameter(f"Input should be less than or equal to {hi:g}")
        return value

    return check


def text(what: str) -> Callable[[Any], Any]:
    """A parse-time check for a text option that must not be empty when given (``--serve ''``)."""

    def check(value: Any) -> Any:
        if value is not None and not str(value).strip():
            raise typer.BadParameter(f"empty; give {what}")
        return value

    return check


MaxSide = Annotated[
    int | None,
    typer.Option("--max-side", callback=number(lo=1), help=MAX_SIDE_HELP, rich_help_panel=PANEL_STYLE),
]
Scale = Annotated[
    float | None, typer.Option("--scale", callback=number(above=0), help=SCALE_HELP, rich_help_panel=PANEL_STYLE)
]
Strength = Annotated[
    float,
    typer.Option(
        "--strength",
        min=0.0,
        max=1.0,
        callback=number(lo=0, hi=1),
        help=STRENGTH_HELP,
        rich_help_panel=PANEL_STYLE,
    ),
]
PreserveColor = Annotated[
    bool, typer.Option("--preserve-color/--no-preserve-color", help=PRESERVE_HELP, rich_help_panel=PANEL_STYLE)
]
Blend = Annotated[str | None, typer.Option("--blend", help=BLEND_HELP, rich_help_panel=PANEL_STYLE)]
LANES_HELP = (
    "Frames stylized at once on the CPU, each on its share of the cores: more frames per second where the cores "
    "have room, each frame taking longer. Default: 2 for a camera or stream (two or more cores), 1 for a file."
)
Lanes = Annotated[int | None, typer.Option("--lanes", min=1, help=LANES_HELP, rich_help_panel=PANEL_PERFORMANCE)]
Smooth = Annotated[SmoothMode, typer.Option("--smooth", help=SMOOTH_HELP, rich_help_panel=PANEL_SMOOTHING)]
Crf = Annotated[int, typer.Option("--crf", min=0, max=51, help=CRF_HELP, rich_help_panel=PANEL_OUTPUT)]
Preset = Annotated[X264Preset, typer.Option("--preset", help=PRESET_HELP, rich_help_panel=PANEL_OUTPUT)]
ENCODER_HELP = (
    "Video encoder: nvenc, qsv, videotoolbox (hardware H.264, when this machine has it; rtstyle doctor lists them),"
    " x264, or an FFmpeg encoder name. Default: the output container's (libx264; libvpx-vp9 for .webm)."
)
EncoderOpt = Annotated[str | None, typer.Option("--encoder", help=ENCODER_HELP, rich_help_panel=PANEL_OUTPUT)]
MaxFrames = Annotated[int | None, typer.Option("--max-frames", min=1, help=MAX_FRAMES_HELP, rich_help_panel=PANEL_RUN)]
Force = Annotated[bool, typer.Option("--force", "-f", help=FORCE_HELP, rich_help_panel=PANEL_OUTPUT)]


def _library_check(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    """A parse-time check that runs the library's own parser (imported when the option is given) and turns its
    one-line error into a bad-option error."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        from rtstyle.errors import RtstyleError

        try:
            parse(value)
        except RtstyleError as exc:
            raise typer.BadParameter(str(exc)) from None
        return value

    return check


def _serve_address(value: str) -> Any:
    from rtstyle.io.sinks.mjpeg import parse_address

    if not value.strip():
        raise typer.BadParameter("empty; give [HOST:]PORT, e.g. 8080")
    return parse_address(value)


def _vcam_size(value: str) -> Any:
    from rtstyle.adjust import parse_size

    return parse_size(value, "--vcam-size", lo=2, hi=8192)


def _push_audio(value: str) -> Any:
    from rtstyle.io.sinks.push import audio_source

    return audio_source(value)


def _push_bitrate(value: str) -> Any:
    from rtstyle.io.sinks.push import parse_bitrate

    return parse_bitrate(value, (640, 360), 30.0)


# The live session (``rtstyle webcam``) and its outputs.
Camera = Annotated[
    str,
    typer.Option(
        "--camera", rich_help_panel=PANEL_INPUT, help="Camera index (see `rtstyle cameras`), video file or URL."
    ),
]
Loop = Annotated[
    bool,
    typer.Option(
        "--loop",
        rich_help_panel=PANEL_INPUT,
        help="A file standing in for the camera starts again at its end (until q, Ctrl-C, ...).",
    ),
]
CaptureWidth = Annotated[
    int | None, typer.Option("--width", min=1, rich_help_panel=PANEL_INPUT, help="Capture width to ask the camera for.")
]
CaptureHeight = Annotated[
    int | None,
    typer.Option("--height", min=1, rich_help_panel=PANEL_INPUT, help="Capture height to ask the camera for."),
]
CaptureFps = Annotated[
    float | None,
    typer.Option(
        "--fps", callback=number(above=0), rich_help_panel=PANEL_INPUT, help="Capture frame rate to ask the camera for."
    ),
]
Record = Annotated[
    Path | None,
    typer.Option(
        "--record", rich_help_panel=PANEL_OUTPUT, help="Also record to this MP4 (no HUD; a camera on wall-clock time)."
    ),
]
VirtualCam = Annotated[
    bool, typer.Option("--virtual-cam", rich_help_panel=PANEL_STREAMING, help="Send the stream to a virtual camera.")
]
VcamSize = Annotated[
    str | None,
    typer.Option(
        "--vcam-size",
        callback=_library_check(_vcam_size),
        rich_help_panel=PANEL_STREAMING,
        help="Virtual camera size WxH (default: the stream's).",
    ),
]
VcamFps = Annotated[
    float | None,
    typer.Option(
        "--vcam-fps",
        callback=number(above=0),
        rich_help_panel=PANEL_STREAMING,
        help="Virtual camera frame rate (default: the stream's).",
    ),
]
VcamDevice = Annotated[
    str | None,
    typer.Option("--vcam-device", rich_help_panel=PANEL_STREAMING, help="Virtual camera device (e.g. /dev/video10)."),
]
VcamBackend = Annotated[
    str | None,
    typer.Option(
        "--vcam-backend",
        rich_help_panel=PANEL_STREAMING,
        help="pyvirtualcam backend (v4l2loopback, obs, unitycapture); default: auto.",
    ),
]
Serve = Annotated[
    str | None,
    typer.Option(
        "--serve",
        callback=_library_check(_serve_address),
        rich_help_panel=PANEL_STREAMING,
        help="[HOST:]PORT: MJPEG over HTTP (OBS browser source).",
    ),
]
JpegQuality = Annotated[
    int,
    typer.Option("--jpeg-quality", min=1, max=100, rich_help_panel=PANEL_STREAMING, help="JPEG quality for --serve."),
]
ServeFps = Annotated[
    float | None,
    typer.Option(
        "--serve-fps",
        callback=number(above=0),
        rich_help_panel=PANEL_STREAMING,
        help="Cap on frames per second sent to --serve viewers.",
    ),
]
ServeMaxClients = Annotated[
    int,
    typer.Option(
        "--serve-max-clients",
        min=1,
        rich_help_panel=PANEL_STREAMING,
        help="Viewers --serve takes at once; more get HTTP 503.",
    ),
]
Push = Annotated[
    str | None,
    typer.Option(
        "--push",
        callback=text("a URL"),
        rich_help_panel=PANEL_STREAMING,
        help="Push H.264 to an rtmp://, srt://, ... URL.",
    ),
]
PushAudio = Annotated[
    str | None,
    typer.Option(
        "--push-audio",
        callback=_library_check(_push_audio),
        rich_help_panel=PANEL_STREAMING,
        help="Audio for --push: FMT:INPUT microphone, 'none', default: silence.",
    ),
]
PushBitrate = Annotated[
    str | None,
    typer.Option(
        "--push-bitrate",
        callback=_library_check(_push_bitrate),
        rich_help_panel=PANEL_STREAMING,
        help="Video bitrate for --push, e.g. 2500k.",
    ),
]
HudOnOutput = Annotated[
    bool,
    typer.Option("--hud-on-output", rich_help_panel=PANEL_STREAMING, help="Draw the HUD on the streaming outputs too."),
]


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
    "number",
    "parse_styles",
    "text",
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
    lanes: int | None = None,
) -> Any:
    """The stylizing options as ``rtstyle.pipeline.jobs.StylizeOptions`` (imported here, when a command runs).
    ``--style`` and ``--blend`` both choose the style: giving both is refused (one would be ignored)."""
    from rtstyle.pipeline.jobs import StylizeOptions

    if style is not None and blend is not None and style == os.environ.get(STYLE_ENV):
        style = None  # RTSTYLE_STYLE is a default: --blend chooses the styles (the same --style given too: no matter)
    if style is not None and blend is not None:
        raise typer.BadParameter("give either --style or --blend (which names the styles it mixes), not both")

    return StylizeOptions(
        style=style,
        device=device.value,
        tier=tier.value if tier is not None else None,
        max_side=max_side,
        scale=scale,
        strength=strength,
        preserve_color=preserve_color,
        blend=blend,
        lanes=1 if lanes is None else lanes,
    )
