"""A fast tier's style and content distance over its full tier's, with the held-out photos at other scales.

The looks (``tools/zoo_report.py``) measure the held-out scene photos at their own size (256 px short side); the
campaign trains on smaller crops. This measures the same photos scaled to each short side given, to see at which
scale the student paints (docs/styles/README.md, session 17):

    python tools/studies/eval_scale.py FAST.onnx 128,256 mosaic,candy,udnie,shipwreck [--full models/zoo-full.onnx]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import zoo_report as zr  # noqa: E402

import rtstyle.evaluate as ev  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="the fast tier (.onnx)")
    ap.add_argument("sides", help="comma list of short sides in px")
    ap.add_argument("styles", help="comma list of zoo styles")
    ap.add_argument("--full", default=str(ROOT / "models" / "zoo-full.onnx"))
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"))
    ap.add_argument("--limit", type=int, default=12)
    a = ap.parse_args(argv)
    assets = Path(a.assets)
    scene = ev.eval_photos(assets / "photos", zr.HOLDOUT, a.limit)
    zoo, vgg = zr._zoo_styles(), str(assets / zr.VGG_FILE)
    for side in [int(x) for x in a.sides.split(",")]:
        for name in a.styles.split(","):
            painting = assets / "styles" / zoo[name]
            f = ev.evaluate(a.model, painting, scene, vgg_weights=vgg, style=name, short_side=side)
            t = ev.evaluate(a.full, painting, scene, vgg_weights=vgg, style=name, short_side=side)
            print(
                f"{side:4d} px {name:12s} style {f.style_distance:.3f} / {t.style_distance:.3f} = "
                f"{f.style_distance / t.style_distance:.2f}x  content {f.content_distance / t.content_distance:.2f}x",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
