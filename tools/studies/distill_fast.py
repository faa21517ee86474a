"""Distil a fast-tier model from a full-tier one of the same style: ``rtstyle train --arch fast --teacher ...``.

The recipe: the teacher's output as an MSE target (weighted so that it is the largest loss term at the start)
plus the usual perceptual losses and the stability loss, a higher learning rate than the full tier (the net is
small), and the full tier's crop and style sizes so the stroke scale matches the teacher's.

    python tools/studies/distill_fast.py --teacher runs/mosaic/checkpoint.pt --style-image ../shared/assets/styles/mosaic.jpg \\
        --data ../shared/assets/photos --name mosaic-fast --style-name mosaic       # prints, then runs the command
    python tools/studies/distill_fast.py ... --dry-run                               # only prints it

Sizes and weights default to the teacher checkpoint's recipe where it has one (size, style size, style weight,
content weight, stability weight), so the student learns the same task as the teacher.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

# CPU recipe: roughly 1.3-1.6 s/step at batch 4, 128 px on the quiet 2-core machine (estimated: the VGG losses and
# the teacher's forward pass dominate, the fast net is cheap), so 900 steps is ~20-25 minutes. A teacher weight of
# 1e9 makes the teacher term (MSE ~0.13 at the start) the largest one, above style (~5e7) and content (~2e6).
DEFAULTS = {
    "arch": "fast",
    "steps": 900,
    "batch": 4,
    "lr": 2e-3,
    "output_lr_scale": 1.0,  # what the study ran at (rtstyle train's default then; 1/255 now)
    "teacher_weight": 1e9,
}


def _teacher_recipe(path: Path) -> dict:
    if path.suffix != ".pt" or not path.is_file():
        return {}
    from rtstyle.export import load_checkpoint

    return dict(load_checkpoint(path).get("recipe", {}))


def build_command(a: argparse.Namespace) -> list[str]:
    r = _teacher_recipe(Path(a.teacher))
    size = a.size or r.get("size", 128)
    style_size = a.style_size or r.get("style_size", 256)
    cmd = [sys.executable, "-m", "rtstyle", "train", "--arch", a.arch, "--name", a.name, "--teacher", a.teacher]
    for img in a.style_image:
        cmd += ["--style-image", img]
    cmd += ["--data", a.data, "--steps", str(a.steps), "--batch", str(a.batch), "--size", str(size)]
    cmd += ["--style-size", str(style_size), "--lr", str(a.lr), "--teacher-weight", str(a.teacher_weight)]
    cmd += ["--output-lr-scale", str(a.output_lr_scale)]
    for key, flag in (
        ("content_weight", "--content-weight"),
        ("style_weight", "--style-weight"),
        ("stability_weight", "--stability-weight"),
    ):
        if key in r:
            cmd += [flag, str(r[key])]
    if a.holdout:
        cmd += ["--holdout", a.holdout]
    if a.vgg_weights:
        cmd += ["--vgg-weights", a.vgg_weights]
    cmd += ["--device", a.device, "--out-dir", a.out_dir or f"runs/{a.name}"]
    cmd += ["--checkpoint-every", "50", "--preview-every", "150", "--seed", "0"]
    if a.export_dir:
        cmd += ["--export-dir", a.export_dir]
    for extra in ("style_name", "display_name", "license"):
        value = getattr(a, extra)
        if value:
            cmd += [f"--{extra.replace('_', '-')}", value]
    if a.resume:
        cmd.append("--resume")
    return cmd


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", required=True, help="full-tier checkpoint (.pt), .onnx file or installed style name")
    p.add_argument("--style-image", action="append", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--arch", default=DEFAULTS["arch"])
    p.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    p.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    p.add_argument("--size", type=int, default=None, help="crop size (default: the teacher's)")
    p.add_argument("--style-size", type=int, default=None, help="style image size (default: the teacher's)")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    p.add_argument("--teacher-weight", type=float, default=DEFAULTS["teacher_weight"])
    p.add_argument("--output-lr-scale", type=float, default=DEFAULTS["output_lr_scale"])
    p.add_argument("--holdout", default="tools/holdout_photos.txt")
    p.add_argument("--vgg-weights", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--out-dir", default=None)
    p.add_argument("--export-dir", default=None)
    p.add_argument("--style-name", default=None, help="the style's name (the full tier's), e.g. mosaic")
    p.add_argument("--display-name", default=None)
    p.add_argument("--license", default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print the command only")
    a = p.parse_args(argv)
    cmd = build_command(a)
    print(shlex.join(cmd), flush=True)
    if a.dry_run:
        return 0
    return subprocess.call(cmd)


if __name__ == "__main__":
    raise SystemExit(main())
