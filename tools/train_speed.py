"""Training speed: images per second per configuration, through the real training loop.

One step is what ``rtstyle train`` does per batch: draw and crop photos, the network forward, the VGG-16
perceptual loss, backward and the Adam update. Each configuration runs ``rtstyle.train.loop.train`` for
``--steps`` steps (no export, no previews) and reports the median img/s of the steps after ``--warmup``.

    python tools/train_speed.py                                        # johnson 128/8 and 256/4, fast 256/4
    python tools/train_speed.py --configs johnson:128:8 --precision fp32,bf16 --channels-last off,on
    python tools/train_speed.py --data ../shared/assets/photos --vgg-weights ../shared/assets/vgg16/...pth

A configuration is ``ARCH:SIZE:BATCH``. Without ``--data`` it draws from generated photos; without
``--vgg-weights`` the loss network has random weights: the time per step is the same either way. Run it with
nothing else on the machine (pause a training run with SIGSTOP first) and read the figures together.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

TARGETS = {("johnson", 128): 8.0, ("johnson", 256): 2.0}


def parse_configs(text: str) -> list[tuple[str, int, int]]:
    out = []
    for part in text.split(","):
        bits = part.strip().split(":")
        if len(bits) != 3 or not bits[1].isdigit() or not bits[2].isdigit():
            raise ValueError(f"bad configuration {part!r}: expected ARCH:SIZE:BATCH, e.g. johnson:128:8")
        out.append((bits[0], int(bits[1]), int(bits[2])))
    return out


def make_photos(folder: Path, n: int = 24) -> Path:
    """Photo-like images (gradients, shapes, noise) at 320x256, for a run without ``--data``."""
    import cv2

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        y, x = np.mgrid[0:256, 0:320].astype(np.float32)
        img = np.stack([x / 320 * 255, y / 256 * 255, np.full_like(x, 40 * (i % 6))], -1)
        cv2.circle(img, (int(rng.integers(40, 280)), int(rng.integers(40, 220))), 35, (30, 200, 90), -1)
        img += rng.normal(0, 10, img.shape)
        cv2.imwrite(str(folder / f"photo_{i:03d}.jpg"), np.clip(img, 0, 255).astype(np.uint8))
    return folder


def measure(
    arch: str,
    size: int,
    batch: int,
    precision: str,
    channels_last: bool | None,
    steps: int,
    warmup: int,
    data: str,
    style_image: str,
    vgg: str,
    work: Path,
) -> dict:
    from rtstyle.train.loop import TrainConfig, train
    from rtstyle.train.precision import resolve_precision

    rates: list[float] = []
    cfg = TrainConfig(
        style_images=[style_image],
        data=[data],
        name="speed",
        arch=arch,
        steps=warmup + steps,
        batch=batch,
        size=size,
        style_size=256,
        precision=precision,
        channels_last=channels_last,
        device="cpu",
        vgg_weights=vgg,
        out_dir=str(work / f"{arch}-{size}-{batch}-{precision}-{channels_last}"),
        checkpoint_every=0,
        preview_every=0,
        export=False,
        log_every=1,
        progress=False,
    )
    train(cfg, on_log=lambda step, losses, ips: rates.append(ips) if step > warmup else None)
    import torch

    return {
        "arch": arch,
        "size": size,
        "batch": batch,
        "precision": resolve_precision(precision, torch.device("cpu")),
        "channels_last": "auto" if channels_last is None else ("on" if channels_last else "off"),
        "img_s": round(statistics.median(rates), 2),
        "img_s_best": round(max(rates), 2),
        "steps": len(rates),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="johnson:128:8,johnson:256:4,fast:256:4", help="ARCH:SIZE:BATCH,...")
    ap.add_argument("--precision", default="fp32,bf16", help="comma list of fp32, bf16, auto")
    ap.add_argument("--channels-last", default="auto", help="comma list of auto, on, off")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per configuration")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    ap.add_argument("--data", default=None, help="photo folder (default: generated photos)")
    ap.add_argument("--vgg-weights", default=None, help="VGG-16 weights (default: random, same speed)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    try:
        configs = parse_configs(a.configs)
        precisions = [p.strip() for p in a.precision.split(",")]
        cl_map = {"auto": None, "on": True, "off": False}
        layouts = [cl_map[c.strip()] for c in a.channels_last.split(",")]
    except (ValueError, KeyError) as exc:
        print(f"train_speed: {exc}", file=sys.stderr)
        return 2
    import torch

    from rtstyle.errors import RtstyleError
    from rtstyle.train.losses import RANDOM_FOR_TESTS

    if a.threads:
        torch.set_num_threads(a.threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rtstyle-train-speed-") as tmp:
        work = Path(tmp)
        data = a.data or str(make_photos(work / "photos"))
        style = str(make_photos(work / "style", 1) / "photo_000.jpg")
        for arch, size, batch in configs:
            for precision in precisions:
                for layout in layouts:
                    try:
                        row = measure(
                            arch,
                            size,
                            batch,
                            precision,
                            layout,
                            a.steps,
                            a.warmup,
                            data,
                            style,
                            a.vgg_weights or RANDOM_FOR_TESTS,
                            work,
                        )
                    except RtstyleError as exc:
                        print(f"train_speed: {exc}", file=sys.stderr)
                        return 2
                    target = TARGETS.get((arch, size))
                    row["target"] = target
                    rows.append(row)
                    if not a.json:
                        met = target is not None and row["img_s"] >= target
                        mark = "" if target is None else f" (target >= {target:.0f}: {'met' if met else 'not met'})"
                        print(
                            f"{arch:8s} {size:4d} px batch {batch:2d} {row['precision']:4s} channels-last "
                            f"{row['channels_last']:4s} {row['img_s']:6.2f} img/s (best {row['img_s_best']:.2f}){mark}",
                            flush=True,
                        )
    if a.json:
        print(json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
