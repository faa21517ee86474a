"""``rtstyle demo``: stylize a sample clip that rtstyle generates itself (no camera, no download, no third-party
media) with the built-in default style, and say where the result is (:func:`rtstyle.pipeline.jobs.stylize_demo`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rtstyle.cli import options as o


def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the stylized clip.", rich_help_panel=o.PANEL_OUTPUT)
    ] = Path("rtstyle-demo.mp4"),
    style: o.Style = None,
    device: o.DeviceOpt = o.DEFAULT_DEVICE,
    tier: o.Tier = None,
    max_side: o.MaxSide = None,
    seconds: Annotated[
        float,
        typer.Option(
            "--seconds",
            min=0.2,
            max=60.0,
            callback=o.number(lo=0.2, hi=60),
            help="Length of the sample clip.",
            rich_help_panel=o.PANEL_INPUT,
        ),
    ] = 4.0,
    smooth: o.Smooth = o.DEFAULT_SMOOTH,
    lanes: o.Lanes = None,
    keep_clip: Annotated[
        Path | None,
        typer.Option("--keep-clip", help="Also save the unstylized sample clip here.", rich_help_panel=o.PANEL_OUTPUT),
    ] = None,
    force: o.Force = False,
    as_json: o.AsJson = False,
    be_quiet: o.Quiet = False,
    be_verbose: o.Verbose = False,
) -> None:
    """Stylize a generated sample clip with the default style and write it (default ./rtstyle-demo.mp4)."""
    from rtstyle.cli.console import say
    from rtstyle.cli.progress import progress_bar
    from rtstyle.errors import Interrupted
    from rtstyle.pipeline.jobs import stylize_demo

    how = o.stylize_options(style, device, tier, max_side, lanes=lanes)
    try:
        with progress_bar() as bar:
            stats, style_used = stylize_demo(out, how, seconds, smooth.value, keep_clip, progress=bar, force=force)
    except KeyboardInterrupt as exc:
        raise Interrupted.after(exc, f"nothing written to {out}") from None
    if as_json:
        result = {
            "output": str(out.resolve()), "frames": stats.frames, "seconds": round(stats.seconds, 3),
            "fps": round(stats.fps, 2), "style": style_used, "provider": stats.provider,
        }  # fmt: skip
        print(json.dumps(result, indent=2))
        return
    say(f"wrote {out.resolve()} ({stats.summary()}, style {style_used})")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
