"""``rtstyle eval``: the one definition of style and content distance that every issue reports.

style distance   = mean over relu1_2, relu2_2, relu3_3, relu4_3 of ‖G(out) − G(style)‖² / ‖G(style)‖²,
                   G = F Fᵀ / (C·H·W)
content distance = mean squared relu3_3 difference between output and photo / mean square of the photo's relu3_3

Photos at 384 px short side (or their own size if smaller), the style image at 512 px long side. The model runs
through the runtime (onnxruntime, CPU), exactly as users run it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from rtstyle.errors import InputError
from rtstyle.runtime.stylizer import Stylizer
from rtstyle.train.data import IMAGE_EXTS, load_rgb, read_holdout, relative_name, to_tensor
from rtstyle.train.losses import STYLE_LAYERS, gram, load_vgg, seam_ratio

PHOTO_SHORT_SIDE = 384
STYLE_LONG_SIDE = 512


@dataclass
class EvalResult:
    style_distance: float
    content_distance: float
    photos: int
    per_photo: list[tuple[str, float, float]]
    sheet: Path | None = None
    grid: float = 0.0  # the mean 8-px tile pattern of the outputs (:func:`grid_pattern`): blockiness
    seams: float = 0.0  # the mean step across 4-px block edges over the one inside (losses.seam_ratio; photos ~1)


def eval_photos(
    photos: str | Path | Sequence[str | Path], only: str | Path | None = None, limit: int | None = None
) -> list[Path]:
    """Photos to evaluate on: every image in the folders ``photos``, or only those that the list file ``only``
    names (by their path relative to the folder, as in ``tools/holdout_photos.txt``)."""
    roots = [Path(photos)] if isinstance(photos, (str, Path)) else [Path(p) for p in photos]
    names = read_holdout(only) if only is not None else None
    files: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise InputError(f"photo folder not found: {root}")
        here = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
        if names is not None:
            here = [p for p in here if relative_name(p, root) in names]
        files += here
    if limit:
        files = files[:limit]
    if not files:
        where = ", ".join(str(r) for r in roots)
        raise InputError(f"no photos to evaluate under {where}" + (f" named in {only}" if only else ""))
    return files


def evaluate(
    model: str | Path,
    style_image: str | Path,
    photos: list[Path],
    vgg_weights: str | None = None,
    style: str | None = None,
    sheet: str | Path | None = None,
    sheet_photos: int = 6,
    tier: str | None = None,
    short_side: int = PHOTO_SHORT_SIDE,
) -> EvalResult:
    """Style and content distances of ``model`` (name or .onnx path) over ``photos`` (scaled down to
    ``short_side``, never up)."""
    stylize = Stylizer(str(model), device="cpu", tier=tier)
    if style is not None:
        stylize.set_style(style)
    vgg = load_vgg(vgg_weights).eval()
    style_rgb = load_rgb(style_image, max_side=STYLE_LONG_SIDE)
    if style_rgb is None:
        raise InputError(f"cannot read style image {style_image}")
    with torch.no_grad():
        target = {n: gram(f) for n, f in vgg(to_tensor(style_rgb), STYLE_LAYERS).items()}
    per_photo = []
    grids, seams = [], []
    shown: list[tuple[np.ndarray, np.ndarray]] = []
    for path in photos:
        rgb = load_rgb(path, short_side=short_side)
        if rgb is None:
            raise InputError(f"cannot read photo {path}")
        out_bgr = stylize(np.ascontiguousarray(rgb[:, :, ::-1]))
        out_rgb = np.ascontiguousarray(out_bgr[:, :, ::-1])
        with torch.no_grad():
            fo = vgg(to_tensor(out_rgb), (*STYLE_LAYERS, "relu3_3"))
            fp = vgg(to_tensor(rgb), ("relu3_3",))["relu3_3"]
        sd = float(
            np.mean([float(((gram(fo[n]) - target[n]) ** 2).sum() / (target[n] ** 2).sum()) for n in STYLE_LAYERS])
        )
        cd = float(((fo["relu3_3"] - fp) ** 2).mean() / (fp**2).mean())
        per_photo.append((path.name, sd, cd))
        grids.append(grid_pattern(out_rgb))
        seams.append(seam_ratio(to_tensor(out_rgb)))
        if len(shown) < sheet_photos:
            shown.append((rgb, out_rgb))
    result = EvalResult(
        float(np.mean([p[1] for p in per_photo])),
        float(np.mean([p[2] for p in per_photo])),
        len(per_photo),
        per_photo,
        grid=float(np.mean(grids)),
        seams=float(np.mean(seams)),
    )
    if sheet:
        result.sheet = contact_sheet(style_rgb, shown, Path(sheet))
    return result


def grid_pattern(img: np.ndarray, period: int = 8) -> float:
    """How strongly an image repeats one pattern every ``period`` pixels, locked to its top-left corner: the
    standard deviation (in levels, on the channel mean) of the ``period`` x ``period`` tile averaged over all of
    the image's tiles. A photo averages out to ~0.1-0.5; a network whose strides and depth-to-space print a fixed
    pattern on every tile (blockiness, a checkerboard) scores its amplitude."""
    g = img.astype(np.float32).reshape(img.shape[0], img.shape[1], -1).mean(-1)
    h, w = (g.shape[0] // period) * period, (g.shape[1] // period) * period
    if h < 2 * period or w < 2 * period:
        raise ValueError(f"an image under {2 * period} px has too few {period}-px tiles")
    # less the local mean over one period (a centred box one pixel wider), so gradients and shading do not count
    g = g - cv2.blur(g, (period + 1, period + 1), borderType=cv2.BORDER_REFLECT)
    tile = g[:h, :w].reshape(h // period, period, w // period, period).mean(axis=(0, 2))
    return float((tile - tile.mean()).std())


def contact_sheet(
    style_rgb: np.ndarray,
    columns: Sequence[tuple[np.ndarray, ...]],
    path: Path,
    cell: int = 256,
    row_labels: Sequence[str] = (),
) -> Path:
    """Style image on the left, then a column per photo: the photo above, its stylized versions below (one row
    each: a pair gives photo / stylized, a triple e.g. photo / full tier / fast tier). ``row_labels`` name the
    rows below the painting in the left column."""

    def fit(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        s = cell / max(h, w)
        small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        canvas = np.full((cell, cell, 3), 255, np.uint8)
        y, x = (cell - small.shape[0]) // 2, (cell - small.shape[1]) // 2
        canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        return canvas

    rows = max((len(c) for c in columns), default=2)
    if any(len(c) != rows for c in columns):
        raise ValueError("every column of a contact sheet has the same number of images")
    labels = [np.full((cell, cell, 3), 255, np.uint8) for _ in range(rows - 1)]
    for img, text in zip(labels, row_labels, strict=False):
        cv2.putText(img, text, (12, cell // 2), cv2.FONT_HERSHEY_SIMPLEX, cell / 256, (40, 40, 40), 2, cv2.LINE_AA)
    left = np.concatenate([fit(style_rgb), *labels], 0)
    cols = [left] + [np.concatenate([fit(img) for img in column], 0) for column in columns]
    sheet = np.concatenate(cols, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88]):
        raise InputError(f"cannot write contact sheet {path}")
    return path
