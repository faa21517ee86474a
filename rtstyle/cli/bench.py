"""``rtstyle bench``: ms/frame and fps per model x resolution x provider, plus end-to-end video fps.

Per-frame figures time ``StyleSession.run`` (uint8 BGR frame in, uint8 frame out, host<->device copies included
on CUDA): ``--warmup`` runs first, then the median of ``--frames`` runs. ``--video FILE`` also runs the real
pipeline (decode -> stylize -> smooth -> H.264 encode to a temporary file) and reports its fps.
``--random-johnson`` exports a Johnson-size contract model (32/64/128 channels, 5 residual blocks) with random
weights (needs torch: ``pip install rtstyle[train]``), fp32 plus an fp16 variant measured on CUDA only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rtstyle.cli import options as o


def bench(
    style: o.Styles = None,
    model: Annotated[
        list[Path] | None, typer.Option("--model", "-m", help="Path to a contract-v1 .onnx file (repeatable).")
    ] = None,
    sizes: Annotated[str, typer.Option("--sizes", help="Comma-separated WIDTHxHEIGHT list.")] = "640x360,1280x720",
    device: Annotated[
        str, typer.Option("--device", "-d", help="Comma-separated devices to time on: cpu, cuda, auto.")
    ] = "auto",
    tier: o.Tier = None,
    frames: Annotated[int, typer.Option("--frames", "-n", min=1, help="Timed runs per size (median reported).")] = 20,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed runs first.")] = 3,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="CPU threads (default: physical cores).")
    ] = None,
    lanes: Annotated[
        int,
        typer.Option(
            "--lanes",
            min=1,
            help="CPU: stylize this many frames at once, each on cores/lanes threads (or --threads), and report "
            "ms per frame as the time of a run over its frames (throughput), beside each frame's own time.",
        ),
    ] = 1,
    video: Annotated[
        Path | None, typer.Option("--video", help="Also time the full pipeline on this video file.")
    ] = None,
    video_frames: Annotated[
        int | None, typer.Option("--video-frames", min=1, help="Stop the video run after N frames.")
    ] = None,
    smooth: o.Smooth = o.DEFAULT_SMOOTH,
    random_johnson: Annotated[
        bool,
        typer.Option("--random-johnson", help="Time a Johnson-size model with random weights (exported now; torch)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Time models: ms/frame (median after warm-up) and fps per model x resolution x provider."""
    from rtstyle.adjust import parse_sizes
    from rtstyle.bench import run_bench

    result = run_bench(
        styles=o.parse_styles(style), models=model or [], sizes=parse_sizes(sizes), device=device,
        tier=tier.value if tier is not None else None, frames=frames, warmup=warmup, threads=threads, lanes=lanes, video=video,
        video_frames=video_frames, smooth=smooth.value, random_johnson=random_johnson,
        log=lambda line: print(line, file=sys.stderr),
    )  # fmt: skip
    rows, video_rows, skipped = result["results"], result["video"], result["skipped_devices"]
    if as_json:
        print(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from rtstyle.cli.console import safe

    c = Console()
    many = any(r.get("lanes", 1) > 1 for r in rows)
    title = f"rtstyle bench (median of {frames} after {warmup} warm-up runs"
    t = Table(
        title=title + (f"; CPU: {lanes} frames at once, ms/frame = a run's time over its frames)" if many else ")")
    )
    cols = ("model", "precision", "provider", "size", "ms/frame", "fps", "p90 ms") + (("1 frame ms",) if many else ())
    for col in cols:
        t.add_column(col, overflow="fold")
    errors = []
    for r in rows:
        if "error" in r:
            cells = [safe(r["model"]), safe(r.get("precision", "")), r["device"], r["size"], "-", "-", "error (below)"]
            t.add_row(*cells, *(["-"] if many else []))
            errors.append(f"{r['model']} on {r['device']} at {r['size']}: {r['error']}")
        else:
            t.add_row(
                safe(r["model"]),
                safe(r["precision"]),
                r["provider"].replace("ExecutionProvider", ""),
                r["size"],
                f"{r['ms_median']:.2f}",
                f"{r['fps']:.1f}",
                f"{r['ms_p90']:.2f}",
                *([f"{r.get('ms_frame_latency', r['ms_median']):.2f}"] if many else []),
            )
    c.print(t)
    for line in errors:
        c.print(f"error: {safe(line)}")
    for d, why in skipped.items():
        c.print(f"{d} skipped: {safe(why)}")
    for v in video_rows:
        if "error" in v:
            c.print(f"video {safe(v['video'])} with {safe(v['model'])} on {v['device']}: {safe(v['error'])}")
        else:
            c.print(
                f"video {safe(v['video'])} with {safe(v['model'])} on {v['provider']}, smooth {v['smooth']}: "
                f"{v['frames']} frames in {v['seconds']} s = {v['fps']} fps end to end"
            )


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
