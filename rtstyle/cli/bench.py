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
import tempfile
from pathlib import Path
from typing import Annotated, Any

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
    import onnxruntime

    from rtstyle import catalog
    from rtstyle.adjust import parse_sizes
    from rtstyle.bench import bench_model, bench_video, export_random_johnson
    from rtstyle.choices import DEVICES
    from rtstyle.errors import DeviceError, InputError
    from rtstyle.runtime import hardware

    size_list = parse_sizes(sizes)
    styles, models, tier_name = o.parse_styles(style), model or [], tier.value if tier is not None else None
    devices, skipped = [], {}
    for d in device.split(","):
        d = d.strip()
        if d not in DEVICES:
            raise InputError(f"--device: {d!r} is not one of {', '.join(DEVICES)}")
        d = hardware.resolve_device(d) if d == "auto" else d
        reason = hardware.cuda_unavailable_reason() if d == "cuda" else None
        if reason is not None:
            skipped[d] = f"CUDA cannot run: {reason}"
        elif d not in devices:
            devices.append(d)
    if not devices:
        raise DeviceError(f"no device to time on: {'; '.join(skipped.values())}")
    if video is not None and not video.is_file():
        raise InputError(f"video not found: {video}")
    for m in models:
        if not m.is_file():
            raise InputError(f"model file not found: {m}")

    with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
        jobs: list[tuple[Path, list[str]]] = [(m, devices) for m in models]
        for name in styles:
            for d in devices:
                jobs.append((catalog.resolve(name, tier=tier_name, device=d).file, [d]))
        if random_johnson:
            print("exporting a random-weight Johnson model ...", file=sys.stderr)
            jobs.append((export_random_johnson(Path(tmp)), devices))
            if "cuda" in devices:
                jobs.append((export_random_johnson(Path(tmp), fp16=True), ["cuda"]))
        if not jobs:
            d0 = devices[0]
            jobs.append((catalog.default_style(tier=tier_name, device=d0).file, devices))
        rows: list[dict[str, Any]] = []
        video_rows: list[dict[str, Any]] = []
        for path, devs in jobs:
            for d in devs:
                print(f"timing {path.name} on {d} ...", file=sys.stderr)
                rows += bench_model(path, d, size_list, frames, warmup, threads if d == "cpu" else None)
                if video is not None:
                    video_rows.append(bench_video(path, video, d, smooth.value, video_frames))
    result = {
        "physical_cores": hardware.physical_cores(),
        "onnxruntime": onnxruntime.__version__,
        "frames": frames,
        "warmup": warmup,
        "results": rows,
        "video": video_rows,
        "skipped_devices": skipped,
    }
    if as_json:
        print(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    c = Console()
    t = Table(title=f"rtstyle bench (median of {frames} after {warmup} warm-up runs)")
    for col in ("model", "precision", "provider", "size", "ms/frame", "fps", "p90 ms"):
        t.add_column(col, overflow="fold")
    errors = []
    for r in rows:
        if "error" in r:
            t.add_row(r["model"], r.get("precision", ""), r["device"], r["size"], "-", "-", "error (below)")
            errors.append(f"{r['model']} on {r['device']} at {r['size']}: {r['error']}")
        else:
            t.add_row(
                r["model"],
                r["precision"],
                r["provider"].replace("ExecutionProvider", ""),
                r["size"],
                f"{r['ms_median']:.2f}",
                f"{r['fps']:.1f}",
                f"{r['ms_p90']:.2f}",
            )
    c.print(t)
    for line in errors:
        c.print(f"error: {line}")
    for d, why in skipped.items():
        c.print(f"{d} skipped: {why}")
    for v in video_rows:
        if "error" in v:
            c.print(f"video {v['video']} with {v['model']} on {v['device']}: {v['error']}")
        else:
            c.print(
                f"video {v['video']} with {v['model']} on {v['provider']}, smooth {v['smooth']}: "
                f"{v['frames']} frames in {v['seconds']} s = {v['fps']} fps end to end"
            )


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
