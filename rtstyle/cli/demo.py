"""``rtstyle demo``: stylize a sample clip that rtstyle generates itself (no camera, no download, no third-party
media) with the built-in default style, and say where the result is."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from rtstyle.cli.image import DEVICE_HELP, MAX_SIDE_HELP, TIER_HELP
from rtstyle.cli.progress import run_with_progress


def make_smoother(mode: str) -> Any:
    """A ``rtstyle.smoothing.Smoother`` in ``mode`` (None for ``off``)."""
    if mode == "off":
        return None
    from rtstyle.smoothing import Smoother

    return Smoother(mode=mode)


def demo(
    out: Path = typer.Option(Path("rtstyle-demo.mp4"), "--out", "-o", help="Where to write the stylized clip."),
    style: str | None = typer.Option(None, "--style", "-s", help="Style name or .onnx path (default: built-in)."),
    device: str = typer.Option("auto", "--device", "-d", help=DEVICE_HELP),
    tier: str | None = typer.Option(None, "--tier", help=TIER_HELP),
    max_side: int | None = typer.Option(None, "--max-side", help=MAX_SIDE_HELP),
    seconds: float = typer.Option(4.0, "--seconds", min=0.2, max=60.0, help="Length of the sample clip."),
    smooth: str = typer.Option("flow", "--smooth", help="Temporal smoothing: flow, ema or off."),
    keep_clip: Path | None = typer.Option(None, "--keep-clip", help="Also save the unstylized sample clip here."),
) -> None:
    """Stylize a generated sample clip with the default style and write it (default ./rtstyle-demo.mp4)."""
    from rtstyle.errors import InputError, OutputError

    if smooth not in ("flow", "ema", "off"):
        raise InputError(f"--smooth must be flow, ema or off, not {smooth!r}")
    if out.suffix.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
        raise OutputError(f"{out}: the demo writes a video; name it .mp4")
    if not out.parent.is_dir():
        raise OutputError(f"output folder does not exist: {out.parent}")

    from rtstyle.engine import Stylizer
    from rtstyle.errors import Interrupted

    stylizer = Stylizer(style, device=device, tier=tier, max_side=max_side)
    try:
        stats = _run_demo(stylizer, out, seconds, smooth, keep_clip)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: nothing written to {out}") from None
    print(f"wrote {out.resolve()} ({stats.summary()}, style {stylizer.style})")


def _run_demo(stylizer: Any, out: Path, seconds: float, smooth: str, keep_clip: Path | None) -> Any:
    from rtstyle.demo_clip import DemoClipSource, write_demo_clip
    from rtstyle.pipeline import Pipeline
    from rtstyle.sinks_video import VideoFileSink

    with tempfile.TemporaryDirectory(prefix="rtstyle-demo-") as tmp:
        clip = Path(tmp) / "sample.mp4"
        print(f"generating a {seconds:g} s sample clip ...", file=sys.stderr)
        write_demo_clip(clip, seconds=seconds)
        if keep_clip is not None:
            import shutil

            shutil.copyfile(clip, keep_clip)
        try:
            from rtstyle.sources import open_source

            source: Any = open_source(str(clip))
        except ImportError:  # file source not available: feed the generated frames directly
            source = DemoClipSource(seconds)
        sink = VideoFileSink(out, source.fps or 25.0, (source.width, source.height))
        pipe = Pipeline(source, stylizer, smoother=make_smoother(smooth), sinks=[sink])
        return run_with_progress(pipe, f"stylizing with {stylizer.style}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
