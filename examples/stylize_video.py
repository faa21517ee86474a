"""Stylize a video file with the job `rtstyle video` runs: the input's timing and audio kept, temporal
smoothing against flicker, an H.264 MP4 written safely.

    python examples/stylize_video.py                     # rtstyle's generated sample clip, the built-in style
    python examples/stylize_video.py in.mp4 out.mp4 --style mosaic --max-side 640

Needs no camera and no download: without IN it generates the sample clip `rtstyle demo` uses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import rtstyle


class Progress:
    """What the job reports to: ``start`` once, then a call after every frame (here: one updating line)."""

    def start(self, label: str) -> None:
        print(label)

    def __call__(self, done: int, total: int | None, fps: float) -> None:
        print(f"\r{done}/{total or '?'} frames, {fps:.1f} fps", end="", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="?", type=Path, help="a video file (default: a generated sample clip)")
    ap.add_argument("output", nargs="?", type=Path, default=Path("stylized.mp4"))
    ap.add_argument("--style", default=None, help="style name or .onnx path (default: the built-in style)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--max-side", type=int, default=None, help="stylize at most this many pixels a side")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of the generated sample clip")
    args = ap.parse_args()

    inp = args.input
    if inp is None:
        from rtstyle.io.demo_clip import write_demo_clip

        inp = write_demo_clip(args.output.with_name("sample.mp4"), seconds=args.seconds, size=(320, 180))

    how = rtstyle.StylizeOptions(style=args.style, device=args.device, max_side=args.max_side)

    result = rtstyle.stylize_video(inp, args.output, how, smooth="flow", progress=Progress(), force=True)
    print(f"\n{result.path or args.output}: {result.stats.summary()}, audio {result.audio_mode or 'none'}")


if __name__ == "__main__":
    main()
