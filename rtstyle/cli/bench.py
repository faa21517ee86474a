"""``rtstyle bench``: ms/frame and fps per model x resolution x provider, plus end-to-end video fps.

Per-frame figures time ``StyleSession.run`` (uint8 BGR frame in, uint8 frame out, host<->device copies included
on CUDA): ``--warmup`` runs first, then the median of ``--frames`` runs. ``--video FILE`` also runs the real
pipeline (decode -> stylize -> smooth -> H.264 encode to a temporary file) and reports its fps.
``--random-johnson`` exports a Johnson-size contract model (32/64/128 channels, 5 residual blocks) with random
weights (needs torch: ``pip install rtstyle[train]``), fp32 plus an fp16 variant measured on CUDA only.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

from rtstyle.cli.image import TIER_HELP


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"640x360,1280x720"`` -> ``[(640, 360), (1280, 720)]``."""
    from rtstyle.errors import InputError

    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        try:
            w, h = (int(v) for v in part.split("x"))
            if w < 1 or h < 1:
                raise ValueError
        except ValueError:
            raise InputError(f"--sizes: {part!r} is not WIDTHxHEIGHT (e.g. 640x360,1280x720)") from None
        out.append((w, h))
    if not out:
        raise InputError("--sizes lists no size")
    return out


def export_random_johnson(folder: Path, fp16: bool = False, arch: str = "johnson") -> Path:
    """A contract-v1 model of the named architecture with random weights (seeded), written into ``folder``."""
    try:
        import torch

        from rtstyle.contract import StyleEntry
        from rtstyle.export import export_onnx
        from rtstyle.nets import build_net
    except ImportError as exc:
        from rtstyle.errors import RtstyleError

        raise RtstyleError(
            f"--random-johnson needs the training extra (torch): pip install rtstyle[train] ({exc.name} missing); "
            "or pass an exported model with --model"
        ) from None
    torch.manual_seed(0)
    net = build_net(arch)
    name = f"random-{arch}" + (".fp16" if fp16 else "")
    return export_onnx(
        net,
        folder / f"{name}.onnx",
        [StyleEntry(f"random-{arch}", f"Random {arch}", "none")],
        arch=arch,
        tier="full",
        recipe={"weights": "random", "seed": 0},
        working_size=512,
        fp16=fp16,
        check=False,
    )


def bench_model(
    path: Path, device: str, sizes: list[tuple[int, int]], frames: int = 20, warmup: int = 3, threads: int | None = None
) -> list[dict[str, Any]]:
    """Per-size timing rows for one model file on one device (a row with ``error`` when it cannot run)."""
    import numpy as np

    from rtstyle.engine import StyleSession
    from rtstyle.errors import RtstyleError

    try:
        sess = StyleSession(path, device, threads=threads)
    except RtstyleError as exc:
        return [{"model": path.name, "device": device, "size": f"{w}x{h}", "error": str(exc)} for w, h in sizes]
    rows = []
    rng = np.random.default_rng(0)
    for w, h in sizes:
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        row: dict[str, Any] = {
            "model": path.name,
            "arch": sess.info.arch,
            "precision": sess.info.precision,
            "device": device,
            "provider": sess.provider,
            "threads": threads if device == "cpu" else None,
            "size": f"{w}x{h}",
        }
        try:
            for _ in range(max(0, warmup)):
                sess.run(frame)
            times = []
            for _ in range(max(1, frames)):
                t0 = time.perf_counter()
                sess.run(frame)
                times.append((time.perf_counter() - t0) * 1000.0)
        except RtstyleError as exc:
            row["error"] = str(exc)
            rows.append(row)
            continue
        med = statistics.median(times)
        row.update(
            ms_median=round(med, 2),
            ms_min=round(min(times), 2),
            ms_p90=round(sorted(times)[int(0.9 * (len(times) - 1))], 2),
            fps=round(1000.0 / med, 2) if med > 0 else None,
            frames=len(times),
        )
        rows.append(row)
    return rows


def bench_video(path: Path, video: Path, device: str, smooth: str = "flow", max_frames: int | None = None) -> dict:
    """End-to-end fps of ``rtstyle video`` itself on ``video`` (decode, stylize, smooth, H.264 + audio) into a
    temporary file that is deleted afterwards."""
    from rtstyle.cli.video import run_video
    from rtstyle.errors import RtstyleError

    row: dict[str, Any] = {"model": path.name, "device": device, "video": str(video), "smooth": smooth}
    try:
        with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
            stats, audio = run_video(
                video, Path(tmp) / "out.mp4", style=str(path), device=device, smooth=smooth, max_frames=max_frames
            )
    except RtstyleError as exc:
        row["error"] = str(exc)
        return row
    row.update(
        provider=stats.provider,
        frames=stats.frames,
        seconds=round(stats.seconds, 2),
        fps=round(stats.fps, 2),
        audio=audio,
    )
    return row


def bench(
    style: list[str] = typer.Option([], "--style", "-s", help="Catalogue style to time (repeatable)."),
    model: list[Path] = typer.Option([], "--model", "-m", help="Path to a contract-v1 .onnx file (repeatable)."),
    sizes: str = typer.Option("640x360,1280x720", "--sizes", help="Comma-separated WIDTHxHEIGHT list."),
    device: str = typer.Option("auto", "--device", "-d", help="Comma-separated: cpu, cuda, auto."),
    tier: str | None = typer.Option(None, "--tier", help=TIER_HELP),
    frames: int = typer.Option(20, "--frames", "-n", min=1, help="Timed runs per size (median reported)."),
    warmup: int = typer.Option(3, "--warmup", min=0, help="Untimed runs first."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads (default: physical cores)."),
    video: Path | None = typer.Option(None, "--video", help="Also time the full pipeline on this video file."),
    video_frames: int | None = typer.Option(None, "--video-frames", min=1, help="Stop the video run after N frames."),
    smooth: str = typer.Option("flow", "--smooth", help="Smoothing for the --video run: flow, ema, off."),
    random_johnson: bool = typer.Option(
        False, "--random-johnson", help="Time a Johnson-size model with random weights (exported now; needs torch)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Time models: ms/frame (median after warm-up) and fps per model x resolution x provider."""
    from rtstyle import catalog, engine
    from rtstyle.errors import DeviceError, InputError

    size_list = parse_sizes(sizes)
    devices, skipped = [], {}
    for d in device.split(","):
        d = d.strip()
        if d not in engine.DEVICES:
            raise InputError(f"--device: {d!r} is not one of {', '.join(engine.DEVICES)}")
        d = engine.resolve_device(d) if d == "auto" else d
        reason = engine.cuda_unavailable_reason() if d == "cuda" else None
        if reason is not None:
            skipped[d] = f"CUDA cannot run: {reason}"
        elif d not in devices:
            devices.append(d)
    if not devices:
        raise DeviceError(f"no device to time on: {'; '.join(skipped.values())}")
    if video is not None and not video.is_file():
        raise InputError(f"video not found: {video}")
    for m in model:
        if not m.is_file():
            raise InputError(f"model file not found: {m}")

    with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
        jobs: list[tuple[Path, list[str]]] = [(m, devices) for m in model]
        for name in style:
            for d in devices:
                jobs.append((catalog.resolve(name, tier=tier, device=d).file, [d]))
        if random_johnson:
            print("exporting a random-weight Johnson model ...", file=sys.stderr)
            jobs.append((export_random_johnson(Path(tmp)), devices))
            if "cuda" in devices:
                jobs.append((export_random_johnson(Path(tmp), fp16=True), ["cuda"]))
        if not jobs:
            d0 = devices[0]
            jobs.append((catalog.default_style(tier=tier, device=d0).file, devices))
        rows: list[dict[str, Any]] = []
        video_rows: list[dict[str, Any]] = []
        for path, devs in jobs:
            for d in devs:
                print(f"timing {path.name} on {d} ...", file=sys.stderr)
                rows += bench_model(path, d, size_list, frames, warmup, threads if d == "cpu" else None)
                if video is not None:
                    video_rows.append(bench_video(path, video, d, smooth, video_frames))
    result = {
        "physical_cores": engine.physical_cores(),
        "onnxruntime": __import__("onnxruntime").__version__,
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
