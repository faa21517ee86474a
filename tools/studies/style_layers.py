"""Where a style's distance comes from: ``rtstyle eval``'s style distance split over the four VGG layers.

The eval's style distance is the mean over relu1_2, relu2_2, relu3_3 and relu4_3 of the relative Gram error
``|G(out) - G(painting)|^2 / |G(painting)|^2``. The training loss sums the absolute errors instead, so a layer with
small Gram values (relu4_3) weighs little in training however large its share of the eval. Per style this prints:

- ``eval``: the relative error per layer for the stylized photos (their mean is the style distance);
- ``photo``: the same for the unstylized photos (where training starts from);
- ``train share``: each layer's share of the absolute error the training loss sees, on the same outputs.

    python tools/studies/style_layers.py runs/zoo/full/checkpoint.pt --styles mosaic,udnie --limit 6
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from zoo_report import _zoo_styles, model_file  # noqa: E402

from rtstyle.evaluate import PHOTO_SHORT_SIDE, STYLE_LONG_SIDE, eval_photos  # noqa: E402
from rtstyle.runtime.stylizer import Stylizer  # noqa: E402
from rtstyle.train.data import load_rgb, to_tensor  # noqa: E402
from rtstyle.train.losses import STYLE_LAYERS, gram, load_vgg  # noqa: E402


def layer_errors(vgg: torch.nn.Module, rgb: np.ndarray, target: dict[str, torch.Tensor]) -> dict[str, tuple]:
    """Per layer: (relative error as the eval measures it, mean squared error as the training loss sums it)."""
    with torch.no_grad():
        feats = vgg(to_tensor(rgb), STYLE_LAYERS)
    out = {}
    for n in STYLE_LAYERS:
        d = (gram(feats[n]) - target[n]) ** 2
        out[n] = (float(d.sum() / (target[n] ** 2).sum()), float(d.mean()))
    return out


def layer_split(
    vgg: torch.nn.Module, stylize: Stylizer, painting: Path, photos: list[Path]
) -> tuple[list[float], list[float], list[float]]:
    """Per style layer, means over ``photos``: the eval's relative error of the stylized photos, the same for the
    photos themselves, and the absolute error the training loss sums (``stylize`` set to the painting's style)."""
    with torch.no_grad():
        rgb = load_rgb(painting, max_side=STYLE_LONG_SIDE)
        target = {n: gram(f) for n, f in vgg(to_tensor(rgb), STYLE_LAYERS).items()}
    styled, plain = [], []
    for path in photos:
        rgb = load_rgb(path, short_side=PHOTO_SHORT_SIDE)
        out = np.ascontiguousarray(stylize(np.ascontiguousarray(rgb[:, :, ::-1]))[:, :, ::-1])
        styled.append(layer_errors(vgg, out, target))
        plain.append(layer_errors(vgg, rgb, target))
    rel = [float(np.mean([e[n][0] for e in styled])) for n in STYLE_LAYERS]
    rel0 = [float(np.mean([e[n][0] for e in plain])) for n in STYLE_LAYERS]
    ab = [float(np.mean([e[n][1] for e in styled])) for n in STYLE_LAYERS]
    return rel, rel0, ab


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="an .onnx zoo file or a training checkpoint (.pt)")
    p.add_argument("--styles", default=None, help="comma-separated style names (default: the whole zoo)")
    p.add_argument("--limit", type=int, default=6, help="held-out scene photos to use (the first N)")
    p.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"))
    a = p.parse_args(argv)
    assets = Path(a.assets)
    files = _zoo_styles()
    styles = a.styles.split(",") if a.styles else list(files)
    photos = eval_photos([assets / "photos"], only=ROOT / "tools" / "holdout_photos.txt", limit=a.limit)
    vgg = load_vgg(str(assets / "vgg16" / "vgg16_imagenet_features_to_relu4_3_fp16.pth")).eval()
    print(f"{len(photos)} held-out scene photos; layers {' '.join(STYLE_LAYERS)}")
    with tempfile.TemporaryDirectory() as tmp:
        stylize = Stylizer(str(model_file(a.model, Path(tmp))), device="cpu")
        for s in styles:
            stylize.set_style(s)
            rel, rel0, ab = layer_split(vgg, stylize, assets / "styles" / files[s], photos)
            print(
                f"{s:13s} style {np.mean(rel):.3f} | eval "
                + " ".join(f"{v:.3f}" for v in rel)
                + " | photo "
                + " ".join(f"{v:.3f}" for v in rel0)
                + " | train share "
                + " ".join(f"{v / sum(ab):.2f}" for v in ab)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
