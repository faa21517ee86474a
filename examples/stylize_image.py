"""Stylize one picture, three ways: the job (what `rtstyle image` runs), a Stylizer on a PIL image, and a
Stylizer on an OpenCV array.

    python examples/stylize_image.py                    # a generated sample picture, the built-in style
    python examples/stylize_image.py photo.jpg out.png --style mosaic

Needs no camera and no download: without IN it paints a sample picture itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import rtstyle


def sample_picture(path: Path, width: int = 320, height: int = 200) -> Path:
    """A colourful test picture (gradients and a disc), so the example runs without any photo."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 140)], -1).astype(np.uint8)
    rgb[(x - width // 2) ** 2 + (y - height // 2) ** 2 < (min(width, height) // 4) ** 2] = (250, 220, 40)
    Image.fromarray(rgb).save(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="?", type=Path, help="a picture (default: a generated sample)")
    ap.add_argument("output", nargs="?", type=Path, default=Path("stylized.png"))
    ap.add_argument("--style", default=None, help="style name or .onnx path (default: the built-in style)")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    inp = args.input or sample_picture(args.output.with_name("sample.png"))

    # 1. The job `rtstyle image` runs: EXIF orientation, alpha, a safe write (force: overwrite OUT).
    how = rtstyle.StylizeOptions(style=args.style, device=args.device)
    result = rtstyle.stylize_image(inp, args.output, how, force=True)
    print(f"{result.path}: {result.width}x{result.height}, style {result.style} on {result.provider}")

    # 2. A Stylizer of your own: PIL in, PIL out (the model is loaded once, reuse it for many pictures).
    with rtstyle.Stylizer(args.style, device=args.device, max_side=512) as stylize:
        print(stylize)  # style, tier, device and the onnxruntime provider that really runs
        picture = rtstyle.read_image(inp)  # OpenCV-style BGR array, upright
        painted = stylize(Image.fromarray(picture[..., ::-1].copy()))  # a PIL image comes back
        painted.save(args.output.with_name(args.output.stem + "-pil.png"))

        # 3. Arrays from other libraries are RGB: say so, or use stylize_rgb; floats in [0, 1] work too.
        rgb01 = np.asarray(painted, np.float32) / 255.0
        again = stylize.stylize_rgb(rgb01)  # float32 RGB in [0, 1] back
        print(f"float result: {again.dtype}, {again.min():.2f}..{again.max():.2f}")


if __name__ == "__main__":
    main()
