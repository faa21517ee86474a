#!/usr/bin/env python
"""Files per minute and CPU use of ``rtstyle batch`` against a plain loop of ``rtstyle video`` (docs/batch.md).

    python tools/batch_bench.py [--clips 20] [--seconds 3] [--size 640x360] [--style mosaic] [--tier fast]
                                [--modes loop,pool,pool-1x2,ray] [--json FILE]

Generates ``--clips`` copies of rtstyle's own sample clip (no download), then runs each mode on them into a fresh
folder: ``loop`` (one ``rtstyle video`` process per clip, one after the other), ``pool`` (``rtstyle batch`` with its
default local pool), ``pool-1x2`` (one worker with two onnxruntime threads), ``pool-2x2`` and ``ray`` (``--ray
local``: a Ray instance started for the run, its start-up included). CPU use is the machine's busy share over the
run, from /proc/stat (so run it on a quiet machine). Linux only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = {
    "loop": None,
    "pool": [],
    "pool-1x2": ["--workers", "1", "--threads", "2"],
    "pool-2x2": ["--workers", "2", "--threads", "2"],
    "ray": ["--ray", "local"],
}


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs together."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def run_mode(mode: str, clips: list[Path], out: Path, common: list[str]) -> dict[str, float]:
    rtstyle = [sys.executable, "-m", "rtstyle"]
    b0, t0 = cpu_times()
    w0 = time.perf_counter()
    if MODES[mode] is None:
        out.mkdir(parents=True)
        for clip in clips:
            subprocess.run([*rtstyle, "video", str(clip), str(out / clip.name), *common], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    else:
        subprocess.run([*rtstyle, "batch", str(clips[0].parent), "-o", str(out), *common, *MODES[mode], "--json"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    wall = time.perf_counter() - w0
    b1, t1 = cpu_times()
    done = len(list(out.glob("*.mp4")))
    if done != len(clips):
        raise SystemExit(f"batch_bench: {mode} wrote {done} of {len(clips)} outputs")
    return {
        "seconds": round(wall, 2),
        "files_per_minute": round(60.0 * len(clips) / wall, 2),
        "cpu_busy_percent": round(100.0 * (b1 - b0) / max(1, t1 - t0), 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--style", default="mosaic")
    ap.add_argument("--tier", default="fast")
    ap.add_argument("--modes", default="loop,pool,pool-1x2,ray")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    from rtstyle.adjust import parse_size
    from rtstyle.io.demo_clip import write_demo_clip
    from rtstyle.runtime.hardware import physical_cores

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        print(f"batch_bench: error: unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
        return 2
    size = parse_size(args.size, "--size")
    common = ["-s", args.style, "--tier", args.tier, "-d", "cpu"]
    with tempfile.TemporaryDirectory(prefix="rtstyle-batch-bench-") as tmp:
        src = Path(tmp) / "clips"
        src.mkdir()
        first = write_demo_clip(src / "clip00.mp4", seconds=args.seconds, size=size)
        clips = [first] + [shutil.copyfile(first, src / f"clip{i:02d}.mp4") for i in range(1, args.clips)]
        frames = round(args.seconds * 25) * args.clips
        results = {"clips": args.clips, "frames": frames, "size": args.size, "style": args.style, "tier": args.tier,
                   "cores": physical_cores(), "modes": {}}  # fmt: skip
        for mode in modes:
            r = run_mode(mode, [Path(c) for c in clips], Path(tmp) / f"out-{mode}", common)
            r["frames_per_second"] = round(frames / r["seconds"], 1)
            results["modes"][mode] = r
            print(f"{mode:>9}: {r['seconds']:7.1f} s  {r['files_per_minute']:6.1f} files/min  "
                  f"{r['frames_per_second']:6.1f} frames/s  CPU {r['cpu_busy_percent']:5.1f} %", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
