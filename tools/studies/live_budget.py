"""Where a live frame's CPU goes: decoding, the smoother's two halves and the network, one thread each.

The live path (``rtstyle webcam``) runs these side by side on the cores; their sum per frame, against the cores
times the frame interval, says how many frames per second the machine can reach at best (docs/performance.md,
*Frames in lanes*). For a video file and a model file:

- decoding: ``rtstyle.io.sources.FileSource`` reading ``--frames`` frames, CPU time of this process per frame
  (PyAV decodes on its own threads, so this is CPU time, not wall time);
- the smoother (flow mode, the defaults): ``Smoother.prepare`` (motion analysis) and ``Smoother.blend`` on those
  frames with OpenCV on one thread, the median per frame, a blurred copy of each frame standing in for the
  stylized one (the cost does not depend on the picture);
- the network: ``StyleSession.run`` on one onnxruntime thread, the median per frame.

    python tools/studies/live_budget.py ../shared/assets/videos/moviepy_fire2.mp4 models/mosaic-fast.onnx
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle.io.sources import FileSource  # noqa: E402
from rtstyle.pipeline.smoothing import Smoother  # noqa: E402
from rtstyle.runtime.session import StyleSession  # noqa: E402


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def budget(video: Path, model: Path, frames: int = 60, warmup: int = 5) -> dict:
    """Per frame, ms: decode (CPU), smoother prepare and blend, network (one thread each, medians)."""
    src = FileSource(video)
    got = []
    c0 = cpu_seconds()
    try:
        while len(got) < frames:
            item = src.read()
            if item is None:
                break
            got.append(item[0])
    finally:
        src.close()
    if len(got) <= warmup:
        raise SystemExit(f"live_budget: {video} has {len(got)} frames, need more than {warmup}")
    decode = 1000.0 * (cpu_seconds() - c0) / len(got)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        smoother, prep, blend = Smoother("flow"), [], []
        for frame in got:
            stylized = cv2.GaussianBlur(frame, (5, 5), 0)
            t0 = time.perf_counter()
            motion = smoother.prepare(frame)
            t1 = time.perf_counter()
            smoother.blend(motion, stylized)
            prep.append(t1 - t0)
            blend.append(time.perf_counter() - t1)
    finally:
        cv2.setNumThreads(threads)
    sess = StyleSession(model, "cpu", threads=1)
    net = []
    for i, frame in enumerate(got[: warmup + 20]):
        t0 = time.perf_counter()
        sess.run(frame)
        if i >= warmup:
            net.append(time.perf_counter() - t0)
    h, w = got[0].shape[:2]
    row = {
        "size": f"{w}x{h}",
        "frames": len(got),
        "decode_cpu_ms": round(decode, 2),
        "prepare_ms": round(1000 * statistics.median(prep[warmup:]), 2),
        "blend_ms": round(1000 * statistics.median(blend[warmup:]), 2),
        "network_ms": round(1000 * statistics.median(net), 2),
    }
    row["total_ms"] = round(sum(row[k] for k in ("decode_cpu_ms", "prepare_ms", "blend_ms", "network_ms")), 2)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("model", type=Path)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    row = budget(a.video, a.model, a.frames)
    if a.json:
        print(json.dumps(row, indent=2))
    else:
        print(
            f"{row['size']}, {row['frames']} frames, ms per frame: decode {row['decode_cpu_ms']} (CPU), smoother "
            f"prepare {row['prepare_ms']} + blend {row['blend_ms']}, network {row['network_ms']} (one thread): "
            f"{row['total_ms']} ms of CPU"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
