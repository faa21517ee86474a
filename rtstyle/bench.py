"""Timing: ms per frame of a model file (``StyleSession.run``: uint8 BGR frame in, uint8 frame out, host<->device
copies included on CUDA) and the end-to-end fps of the video job; used by ``rtstyle bench`` and the figure tools.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from rtstyle import catalog
from rtstyle.choices import DEVICES
from rtstyle.contract import StyleEntry
from rtstyle.errors import DeviceError, InputError, RtstyleError
from rtstyle.pipeline.jobs import StylizeOptions, stylize_video
from rtstyle.runtime import hardware
from rtstyle.runtime.session import StyleSession
from rtstyle.runtime.stylizer import lane_threads, resolve_lanes


def export_random_johnson(folder: Path, fp16: bool = False, arch: str = "johnson") -> Path:
    """A contract-v1 model of the named architecture with random weights (seeded), written into ``folder``."""
    try:  # the training extra: imported here, where it is needed
        import torch

        from rtstyle.export import export_onnx
        from rtstyle.nets import build_net
    except ImportError as exc:
        raise RtstyleError(
            f"--random-johnson needs the training extra (torch): pip install 'rtstyle[train]' ({exc.name} missing); "
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
    path: Path,
    device: str,
    sizes: list[tuple[int, int]],
    frames: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    lanes: int = 1,
) -> list[dict[str, Any]]:
    """Per-size timing rows for one model file on one device (a row with ``error`` when it cannot run).

    ``lanes`` > 1 (the CPU only): each timed run stylizes that many frames at once, each on its own thread with
    ``threads`` (default: the physical cores shared out) onnxruntime threads, as ``Stylizer(lanes=)`` does in the
    frame loop; the row's ms/frame is then the run's time over its frames (throughput), ``ms_frame_latency`` the
    median time of one frame."""
    lanes = resolve_lanes(lanes, device)
    threads = lane_threads(lanes, threads)
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
            "lanes": lanes,
            "size": f"{w}x{h}",
        }
        try:
            for _ in range(max(0, warmup)):
                sess.run(frame)
            times, latencies = _timed_runs(sess, frame, max(1, frames), lanes)
        except RtstyleError as exc:
            row["error"] = str(exc)
            rows.append(row)
            continue
        med = statistics.median(times)
        if lanes > 1:
            row["ms_frame_latency"] = round(statistics.median(latencies), 2)
        row.update(
            ms_median=round(med, 2),
            ms_min=round(min(times), 2),
            ms_p90=round(sorted(times)[int(0.9 * (len(times) - 1))], 2),
            fps=round(1000.0 / med, 2) if med > 0 else None,
            frames=len(times),
        )
        rows.append(row)
    return rows


def _timed_runs(sess: StyleSession, frame: Any, runs: int, lanes: int) -> tuple[list[float], list[float]]:
    """``runs`` timed runs of ``lanes`` frames at once: each run's ms per frame, and each frame's own ms."""

    def one() -> float:
        t0 = time.perf_counter()
        sess.run(frame)
        return (time.perf_counter() - t0) * 1000.0

    if lanes == 1:
        times = [one() for _ in range(runs)]
        return times, times
    times, latencies = [], []
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="rtstyle-bench") as pool:
        for _ in range(runs):
            t0 = time.perf_counter()
            latencies += list(pool.map(lambda _: one(), range(lanes)))
            times.append((time.perf_counter() - t0) * 1000.0 / lanes)
    return times, latencies


def bench_video(path: Path, video: Path, device: str, smooth: str = "flow", max_frames: int | None = None) -> dict:
    """End-to-end fps of ``rtstyle video`` itself on ``video`` (decode, stylize, smooth, H.264 + audio) into a
    temporary file that is deleted afterwards."""
    row: dict[str, Any] = {"model": path.name, "device": device, "video": str(video), "smooth": smooth}
    try:
        with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
            r = stylize_video(
                video,
                Path(tmp) / "out.mp4",
                StylizeOptions(style=str(path), device=device),
                smooth=smooth,
                max_frames=max_frames,
            )
    except RtstyleError as exc:
        row["error"] = str(exc)
        return row
    row.update(
        provider=r.stats.provider,
        frames=r.stats.frames,
        seconds=round(r.stats.seconds, 2),
        fps=round(r.stats.fps, 2),
        audio=r.audio_mode,
    )
    return row


def bench_devices(spec: str) -> tuple[list[str], dict[str, str]]:
    """``"cpu,cuda"`` -> (devices to time on, {device: why it is skipped}); ``auto`` resolves. DeviceError when
    none is left; InputError for a name that is not a device."""
    devices: list[str] = []
    skipped: dict[str, str] = {}
    for d in spec.split(","):
        d = d.strip()
        if d not in DEVICES:
            raise InputError(f"--device: {d!r} is not one of {', '.join(DEVICES)}")
        d = hardware.resolve_device(d) if d == "auto" else d
        reason = hardware.unavailable_reason(d) if d != "cpu" else None
        if reason is not None:
            skipped[d] = f"{hardware.device_label(d)} cannot run: {reason}"
        elif d not in devices:
            devices.append(d)
    if not devices:
        raise DeviceError(f"no device to time on: {'; '.join(skipped.values())}")
    return devices, skipped


def run_bench(
    *,
    styles: list[str],
    models: list[Path],
    sizes: list[tuple[int, int]],
    device: str = "auto",
    tier: str | None = None,
    frames: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    lanes: int = 1,
    video: Path | None = None,
    video_frames: int | None = None,
    smooth: str = "flow",
    random_johnson: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """What ``rtstyle bench`` reports: per-size rows for each model x device, end-to-end video rows, and the devices
    skipped with the reason. ``log`` is told what is being timed."""
    devices, skipped = bench_devices(device)
    if video is not None and not video.is_file():
        raise InputError(f"video not found: {video}")
    for m in models:
        if not m.is_file():
            raise InputError(f"model file not found: {m}")
    with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
        jobs: list[tuple[Path, list[str]]] = [(m, devices) for m in models]
        for name in styles:
            for d in devices:
                jobs.append((catalog.resolve(name, tier=tier, device=d).file, [d]))
        if random_johnson:
            log("exporting a random-weight Johnson model ...")
            jobs.append((export_random_johnson(Path(tmp)), devices))
            if "cuda" in devices:
                jobs.append((export_random_johnson(Path(tmp), fp16=True), ["cuda"]))
        if not jobs:
            jobs.append((catalog.default_style(tier=tier, device=devices[0]).file, devices))
        rows: list[dict[str, Any]] = []
        video_rows: list[dict[str, Any]] = []
        for path, devs in jobs:
            for d in devs:
                log(f"timing {path.name} on {d} ...")
                rows += bench_model(path, d, sizes, frames, warmup, threads if d == "cpu" else None, lanes)
                if video is not None:
                    video_rows.append(bench_video(path, video, d, smooth, video_frames))
    return {
        "physical_cores": hardware.physical_cores(),
        "onnxruntime": hardware.onnxruntime_module().__version__,
        "frames": frames,
        "warmup": warmup,
        "results": rows,
        "video": video_rows,
        "skipped_devices": skipped,
    }
