"""A fast tier's style and content distances with the frame run inside a margin of its own edges, cropped off.

A zero-padded student trained on small crops paints a band of texture along the frame's edges, which the looks
(``tools/zoo_report.py``) count as style. This runs the same model on each held-out photo with ``M`` pixels of its
edges repeated around it (``cv2.BORDER_REPLICATE``; ``--mirror``: reflected) and crops them off again, without
training, to see how much of the measured distance the band was (docs/styles/README.md, session 20):

    python tools/studies/eval_margin.py FAST.onnx 0,16,24 mosaic,candy,wave,shipwreck,starry-night
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import zoo_report as zr  # noqa: E402

import rtstyle.evaluate as ev  # noqa: E402
from rtstyle.runtime.stylizer import Stylizer  # noqa: E402


def margined(margin: int, border: int) -> type[Stylizer]:
    """A ``Stylizer`` that runs each frame inside ``margin`` pixels of its edges (``border``: a cv2 border mode)."""

    class Margined(Stylizer):
        def __call__(self, frame: np.ndarray) -> np.ndarray:  # type: ignore[override]
            if margin == 0:
                return super().__call__(frame)
            padded = cv2.copyMakeBorder(frame, margin, margin, margin, margin, border)
            return super().__call__(padded)[margin:-margin, margin:-margin]

    return Margined


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="the fast tier (.onnx)")
    ap.add_argument("margins", help="comma list of margins in px (0: as the looks run it)")
    ap.add_argument("styles", help="comma list of zoo styles")
    ap.add_argument("--mirror", action="store_true", help="reflect the edges instead of repeating them")
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"))
    ap.add_argument("--limit", type=int, default=12)
    a = ap.parse_args(argv)
    assets = Path(a.assets)
    scene = ev.eval_photos(assets / "photos", zr.HOLDOUT, a.limit)
    zoo, vgg = zr._zoo_styles(), str(assets / zr.VGG_FILE)
    border = cv2.BORDER_REFLECT_101 if a.mirror else cv2.BORDER_REPLICATE
    plain = ev.Stylizer
    try:
        for margin in [int(x) for x in a.margins.split(",")]:
            ev.Stylizer = margined(margin, border)  # evaluate() builds its Stylizer from the module's name
            for name in a.styles.split(","):
                r = ev.evaluate(a.model, assets / "styles" / zoo[name], scene, vgg_weights=vgg, style=name)
                print(
                    f"margin {margin:2d} {name:12s} style {r.style_distance:.4f} content {r.content_distance:.3f} "
                    f"grid {r.grid:.2f} seams {r.seams:.2f}",
                    flush=True,
                )
    finally:
        ev.Stylizer = plain
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
