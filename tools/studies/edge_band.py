"""How much a fast-tier file paints along the frame's edges, per side, for margins of mirrored edges.

A margined student (``fast-margin``) runs on the frame with ``margin`` pixels of its edges mirrored around it and
crops them off; what its zero padding makes at the padded picture's border should fall in the margin. This runs
each file's network (read back by ``import_onnx``, float32) on held-out photos at 640x360 with margins
``LEAD:TRAIL`` (top and left : bottom and right) and compares the outer ``--band`` pixels of each side with the
same network run inside a 64-px margin (where the border is far away): the mean absolute difference in 0..255
levels, and the largest over the top-left corner's ``band`` x ``band`` square (candy's fast files paint a disc
there). The frame's grid starts at the top-left (the 4x4 patch stem, the stride-2 layer), so that corner is the same
for every picture, where bottom and right move with the frame's size.

    python tools/studies/edge_band.py models/{mosaic,candy,wave}-fast.onnx --margins 16:16,32:16,32:32
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import zoo_report as zr  # noqa: E402

import rtstyle.evaluate as ev  # noqa: E402
from rtstyle.export import import_onnx  # noqa: E402
from rtstyle.nets.fast import add_margin  # noqa: E402

REFERENCE = 64


@torch.no_grad()
def run(net: torch.nn.Module, x: torch.Tensor, lead: int, trail: int) -> np.ndarray:
    """``net`` on RGB ``x`` [1, 3, H, W] in a margin of ``lead`` px (top, left) and ``trail`` (bottom, right),
    padded on to a multiple of 8 as the contract wrapper does; uint8 levels, cropped back to H x W."""
    h, w = x.shape[2], x.shape[3]
    xp = add_margin(x, lead, trail)
    xp = F.pad(xp, (0, -xp.shape[3] % 8, 0, -xp.shape[2] % 8), mode="replicate")
    y = net(xp, framed=True)[:, :, lead : lead + h, lead : lead + w]
    return (y[0].permute(1, 2, 0).float().numpy() * 255).clip(0, 255)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="fast-tier files (.onnx, one style each)")
    ap.add_argument("--margins", default="16:16,32:16,32:32", help="comma list of LEAD:TRAIL margins in px")
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"))
    ap.add_argument("--limit", type=int, default=8, help="held-out photos")
    ap.add_argument("--band", type=int, default=32, help="the strip along each side that is compared, px")
    a = ap.parse_args(argv)
    photos = ev.eval_photos(Path(a.assets) / "photos", zr.HOLDOUT, a.limit)
    frames = []
    for p in photos:
        img = cv2.resize(cv2.imread(str(p)), (640, 360), interpolation=cv2.INTER_AREA)
        frames.append(torch.from_numpy(img[:, :, ::-1].copy()).permute(2, 0, 1)[None].float() / 255)
    margins = [tuple(int(v) for v in m.split(":")) for m in a.margins.split(",")]
    b = a.band
    print(f"{len(frames)} held-out photos at 640x360; mean |difference| in the outer {b} px against a "
          f"{REFERENCE}-px margin (levels); corner: the largest in the top-left {b}x{b}")  # fmt: skip
    print(f"{'file':28s} {'margin':>7s} {'top':>6s} {'left':>6s} {'bottom':>6s} {'right':>6s} {'corner':>7s}")
    for model in a.models:
        _, net = import_onnx(model)
        net.eval()
        refs = [run(net, x, REFERENCE, REFERENCE) for x in frames]
        for lead, trail in margins:
            sides = np.zeros(5)
            for x, ref in zip(frames, refs, strict=True):
                d = np.abs(run(net, x, lead, trail) - ref)
                sides += [
                    d[:b].mean(),
                    d[:, :b].mean(),
                    d[-b:].mean(),
                    d[:, -b:].mean(),
                    d[:b, :b].mean(axis=2).max(),
                ]
            s = sides / len(frames)
            label = f"{lead}:{trail}"
            print(f"{Path(model).name:28s} {label:>7s} {s[0]:6.2f} {s[1]:6.2f} {s[2]:6.2f} {s[3]:6.2f} {s[4]:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
