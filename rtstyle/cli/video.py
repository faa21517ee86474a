"""``rtstyle video IN OUT``: stylize a video file into an H.264 MP4 with the input's timing, size and audio.

Decoding (ffmpeg + reader thread), inference and encoding (ffmpeg in its own thread) overlap. The output is
written to ``.OUT.part.mp4`` and renamed at the end: Ctrl-C or an error never leaves a half-written OUT.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from rtstyle.cli.image import (
    BLEND_HELP,
    DEVICE_HELP,
    MAX_SIDE_HELP,
    PRESERVE_HELP,
    SCALE_HELP,
    STRENGTH_HELP,
    STYLE_HELP,
    TIER_HELP,
)
from rtstyle.cli.progress import run_with_progress

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
SMOOTH_MODES = ("flow", "ema", "off")


def _notice(message: str) -> None:
    print(f"rtstyle: notice: {message}", file=sys.stderr, flush=True)


def run_video(
    inp: Path,
    out: Path,
    style: str | None = None,
    device: str = "auto",
    tier: str | None = None,
    max_side: int | None = None,
    scale: float | None = None,
    strength: float = 1.0,
    preserve_color: bool = False,
    blend: str | None = None,
    smooth: str = "flow",
    crf: int = 18,
    preset: str = "veryfast",
    audio: bool = True,
    max_frames: int | None = None,
) -> tuple[Any, str | None]:
    """Stylize ``inp`` into ``out``; returns (the pipeline's RunStats, audio mode).

    Raises rtstyle errors (one line each)."""
    from rtstyle.errors import InputError, OutputError
    from rtstyle.media import check_readable
    from rtstyle.sinks_video import check_output_path

    if smooth not in SMOOTH_MODES:
        raise InputError(f"--smooth must be one of {', '.join(SMOOTH_MODES)}, not {smooth!r}")
    if preset not in X264_PRESETS:
        raise InputError(f"--preset must be one of {', '.join(X264_PRESETS)}, not {preset!r}")
    if not 0 <= crf <= 51:
        raise InputError(f"--crf must be in 0..51 (lower = better), not {crf}")
    check_readable(inp)
    check_output_path(out, (inp,))  # before any work: OUT == IN is refused and the input never touched

    from rtstyle.engine import Stylizer
    from rtstyle.pipeline import Pipeline
    from rtstyle.sinks_video import VideoFileSink
    from rtstyle.sources import FileSource

    stylizer = Stylizer(
        style,
        device=device,
        tier=tier,
        max_side=max_side,
        scale=scale,
        strength=strength,
        preserve_color=preserve_color,
        blend=blend,
    )
    source = FileSource(inp)
    sink = None
    try:
        stylizer.check_size(source.width, source.height)  # refuse frames too large before writing anything
        smoother = None
        if smooth != "off":
            from rtstyle.smoothing import Smoother

            smoother = Smoother(mode=smooth)
        sink = VideoFileSink(
            out,
            source.fps,
            (source.width, source.height),
            audio_from=inp if audio else None,
            crf=crf,
            preset=preset,
            timescale=source.info.timescale,
            input_path=inp,
            shortest=max_frames is not None,
        )
        if source.info.rotation:
            _notice(f"input is rotated {source.info.rotation} degrees: written upright")
        if source.info.sar != 1:
            _notice(f"non-square pixels (SAR {source.info.sar}): written with square pixels")
        if out.suffix.lower() not in (".mp4", ".m4v", ".mov"):
            _notice(f"{out.name}: written as MP4 (H.264) whatever the extension")
        for note in sink.notes:
            _notice(note)
        pipeline = Pipeline(source, stylizer, smoother, [sink])
        stats = run_with_progress(pipeline, f"{inp.name} [{stylizer.style}]", max_frames)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        source.close()
    if sink.failed or not out.exists():
        raise OutputError(f"{out}: {sink.failed or 'the encoder wrote nothing'}")
    info = source.info
    promised = round(info.duration * info.fps) if info.duration and info.fps else 0
    if max_frames is None and stats.frames < 0.9 * promised - 1:
        _notice(f"{inp.name}: only {stats.frames} of about {promised} frames could be read (truncated or damaged?)")
    return stats, sink.audio_mode


def video(
    inp: Path = typer.Argument(..., metavar="IN", help="Input video file."),
    out: Path = typer.Argument(..., metavar="OUT", help="Output .mp4 (H.264); never the input file."),
    style: str | None = typer.Option(None, "--style", "-s", help=STYLE_HELP),
    device: str = typer.Option("auto", "--device", "-d", help=DEVICE_HELP),
    tier: str | None = typer.Option(None, "--tier", help=TIER_HELP),
    max_side: int | None = typer.Option(None, "--max-side", help=MAX_SIDE_HELP),
    scale: float | None = typer.Option(None, "--scale", help=SCALE_HELP),
    strength: float = typer.Option(1.0, "--strength", min=0.0, max=1.0, help=STRENGTH_HELP),
    preserve_color: bool = typer.Option(False, "--preserve-color/--no-preserve-color", help=PRESERVE_HELP),
    blend: str | None = typer.Option(None, "--blend", help=BLEND_HELP),
    smooth: str = typer.Option("flow", "--smooth", help="Temporal smoothing against flicker: flow, ema or off."),
    crf: int = typer.Option(18, "--crf", help="H.264 quality, 0..51 (lower = better, larger file)."),
    preset: str = typer.Option(
        "veryfast",
        "--preset",
        help="x264 speed preset (ultrafast ... veryslow): slower presets give smaller files at the same --crf.",
    ),
    no_audio: bool = typer.Option(False, "--no-audio", help="Leave the input's audio out."),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Stop after this many frames."),
) -> None:
    """Stylize a video file: same timing (variable frame rate kept), size and audio; H.264 MP4 out."""
    from rtstyle.errors import Interrupted

    try:
        stats, audio_mode = run_video(
            inp,
            out,
            style=style,
            device=device,
            tier=tier,
            max_side=max_side,
            scale=scale,
            strength=strength,
            preserve_color=preserve_color,
            blend=blend,
            smooth=smooth,
            crf=crf,
            preset=preset,
            audio=not no_audio,
            max_frames=max_frames,
        )
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: nothing written to {out}") from None
    audio = {"copy": "audio copied", "aac": "audio re-encoded to AAC", None: "no audio"}[audio_mode]
    print(f"{stats.summary()}, style {stats.style}, {audio} -> {out}")


def register(app: typer.Typer) -> None:
    app.command("video")(video)
