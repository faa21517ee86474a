"""Which learning rate and which init for norm-only fine-tuning (`rtstyle styles add`), on the tiny case.

    python tools/studies/new_style_lr.py            # about a minute of CPU; prints one line per run

The tiny case: a 3-style `tiny` "zoo" (random weights), the test-only random loss network, six generated photos
and a noise painting, 32 px crops, batch 2, 40 steps of `--train norm`, validation every 5 steps. Only the order
of magnitude of the learning rate carries over to the real zoo; docs/new-style.md says how it was read.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

from rtstyle.contract import StyleEntry
from rtstyle.export import export_onnx
from rtstyle.nets import build_net
from rtstyle.train.loop import TrainConfig, train

RUNS = (("mean", 1e-2), ("nearest", 1e-2), ("nearest", 1e-3), ("nearest", 1e-1), ("mean", 1e-1), ("mean", 3e-2))


def make_case(root: Path) -> None:
    (root / "photos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        y, x = np.mgrid[0:48, 0:64]
        img = np.stack([x * 4 % 255, y * 5 % 255, (x + y) * 3 % 255], -1).astype(np.uint8)
        img = np.clip(img.astype(int) + rng.integers(-30, 30, img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(root / "photos" / f"p{i}.jpg"), np.roll(img, i * 7, 1))
    cv2.imwrite(str(root / "painting.png"), rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    torch.manual_seed(0)
    net = build_net("tiny", 3)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    styles = [StyleEntry(n, n.title()) for n in ("aa", "bb", "cc")]
    export_onnx(net, root / "zoo-full.onnx", styles, "tiny", "full", {}, 64)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="rtstyle-new-style-lr-"))
    make_case(root)
    for init, lr in RUNS:
        vals: dict[int, float] = {}
        cfg = TrainConfig(
            style_images=[str(root / "painting.png")], data=[str(root / "photos")], name="e", arch="tiny",
            steps=40, batch=2, size=32, style_size=40, vgg_weights="random-for-tests", device="cpu",
            out_dir=str(root / "run"), checkpoint_every=0, preview_every=0, progress=False, export=False,
            precision="fp32", init_from=str(root / "zoo-full.onnx"), init_row=init, train_only="norm", lr=lr,
            val_every=5, style_names=["e"], style_weight=1e10, content_weight=1e5,
        )  # fmt: skip
        r = train(cfg, on_step=lambda s, vals=vals: vals.__setitem__(s.step, s.val) if s.step % 5 == 0 else None)
        assert r.first_val is not None and r.best_val is not None
        curve = " ".join(f"{vals[k] / r.first_val:.3f}" for k in sorted(vals) if vals[k] is not None)
        print(f"init {init:8s} lr {lr:<6g} start {r.first_val:.4g}  best {r.best_val / r.first_val:.3f} "
              f"at step {r.best_step}  (every 5 steps: {curve})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
