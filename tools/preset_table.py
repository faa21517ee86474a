"""The x264 preset table of `rtstyle video` end to end: fps, file size and quality per preset.

Each preset runs the real command (``rtstyle video IN OUT --json --preset P``: decoding, the network, flow
smoothing, H.264 with audio) on a clip looped to ``--frames`` frames, one preset after the other, ``--runs`` times
round-robin. Quality is the PSNR of each output against a lossless encode of the same stylized frames (``--crf 0
--preset ultrafast``: x264 lossless, same 4:2:0 chroma), so it measures what the preset loses at the given CRF.
Run it on a quiet machine (pause any training run):

    python tools/preset_table.py ../shared/assets/videos/moviepy_fire2.mp4 --frames 200 --runs 2

Prints one markdown row per preset: median fps (the command's own), file size, Mbit/s and PSNR in dB.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from loop_clip import loop_clip  # tools/: this script's folder is on sys.path
from warp_error import read_frames

from rtstyle.io.probe import probe

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")


def run_video(inp: Path, out: Path, frames: int, style: str, tier: str, preset: str, crf: int) -> dict:
    cmd = [sys.executable, "-m", "rtstyle", "video", str(inp), str(out), "--style", style, "--tier", tier]
    cmd += ["--device", "cpu", "--preset", preset, "--crf", str(crf), "--max-frames", str(frames), "--force"]
    r = subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"preset_table: {' '.join(cmd)} failed: {r.stderr.strip()[-500:]}")
    return json.loads(r.stdout)


def psnr(ref: list[np.ndarray], test: list[np.ndarray]) -> float:
    if len(ref) != len(test):
        raise SystemExit(f"preset_table: {len(test)} frames against {len(ref)} in the reference")
    mse = np.mean([np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2) for a, b in zip(ref, test, strict=True)])
    return math.inf if mse == 0 else float(10 * math.log10(255.0**2 / mse))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--style", default="mosaic")
    ap.add_argument("--tier", default="fast")
    ap.add_argument("--crf", type=int, default=18)
    args = ap.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        clip = loop_clip(args.clip, args.frames, t / "looped.mp4")
        ref = run_video(clip, t / "ref.mp4", args.frames, args.style, args.tier, "ultrafast", 0)
        ref_frames = read_frames(t / "ref.mp4")
        fps: dict[str, list[float]] = {p: [] for p in presets}
        for _ in range(args.runs):
            for p in presets:
                fps[p].append(run_video(clip, t / f"{p}.mp4", args.frames, args.style, args.tier, p, args.crf)["fps"])
        info = probe(t / "ref.mp4")
        seconds = (info.frame_count or len(ref_frames)) / (info.fps or 25.0)
        print(f"# {args.clip.name} looped to {args.frames} frames, {info.width}x{info.height}, {args.style} "
              f"{args.tier} tier, CRF {args.crf}, {args.runs} run(s); lossless reference {ref['fps']} fps")  # fmt: skip
        print("| preset | fps (median; runs) | file MB | Mbit/s | PSNR against lossless, dB |")
        print("|---|---|---|---|---|")
        for p in presets:
            size = (t / f"{p}.mp4").stat().st_size
            q = psnr(ref_frames, read_frames(t / f"{p}.mp4"))
            runs = ", ".join(f"{f:.1f}" for f in fps[p])
            print(f"| {p} | {statistics.median(fps[p]):.1f} ({runs}) | {size / 1e6:.2f} | "
                  f"{size * 8 / seconds / 1e6:.1f} | {q:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
