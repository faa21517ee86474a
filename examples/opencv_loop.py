"""A frame loop of your own with OpenCV: read frames, stylize them, smooth them over time, draw on them and
write them wherever you like (here: an MP4 through cv2.VideoWriter, and a window with --show).

    python examples/opencv_loop.py                       # rtstyle's generated sample clip, the built-in style
    python examples/opencv_loop.py in.mp4 out.mp4 --show
    python examples/opencv_loop.py 0 out.mp4 --show      # a camera (index 0) works the same way

Needs no camera and no download: without IN it generates the sample clip `rtstyle demo` uses.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

import rtstyle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="?", help="a video file, URL or camera index (default: a generated clip)")
    ap.add_argument("output", nargs="?", type=Path, default=Path("loop.mp4"))
    ap.add_argument("--style", default=None, help="style name or .onnx path (default: the built-in style)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=2.0, help="length of the generated sample clip")
    ap.add_argument("--show", action="store_true", help="show the frames in a window (q quits)")
    args = ap.parse_args()

    spec = args.input
    if spec is None:
        from rtstyle.io.demo_clip import write_demo_clip

        spec = str(write_demo_clip(args.output.with_name("sample.mp4"), seconds=args.seconds, size=(320, 180)))

    smooth = rtstyle.Smoother("flow")  # motion-compensated blending against flicker
    with rtstyle.Stylizer(args.style, device=args.device) as stylize, rtstyle.open_source(spec) as source:
        fps = source.fps or 25.0
        writer = cv2.VideoWriter(str(args.output), cv2.VideoWriter_fourcc(*"mp4v"), fps, (source.width, source.height))
        t0, n = time.perf_counter(), 0
        try:
            for frame in source:  # uint8 BGR frames, upright; `for frame, t in source.timed()` adds timestamps
                shown = smooth(frame, stylize(frame))
                n += 1
                cv2.putText(
                    shown,
                    f"{n / (time.perf_counter() - t0):.1f} fps",
                    (8, 24),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.6,
                    (255, 255, 255),
                    2,
                )
                writer.write(shown)
                if args.show:
                    cv2.imshow("rtstyle", shown)
                    if cv2.waitKey(1) & 0xFF == ord("q"):
                        break
                if args.max_frames is not None and n >= args.max_frames:
                    break
        finally:
            writer.release()
            if args.show:
                cv2.destroyAllWindows()
    print(f"{args.output}: {n} frames with {stylize.style!r}")


if __name__ == "__main__":
    main()
