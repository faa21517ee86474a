"""Training photos: found recursively in one or more folders, decoded once, kept in memory (on the GPU when they fit)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from rtstyle.errors import InputError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _roots(roots: str | Path | Sequence[str | Path]) -> list[Path]:
    return [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]


def relative_name(path: Path, root: Path) -> str:
    """How a photo is named in a held-out list: its path relative to the data folder, with ``/``."""
    return path.relative_to(root).as_posix()


def find_images(roots: str | Path | Sequence[str | Path], holdout: set[str] | None = None) -> list[Path]:
    """Every image under the folders ``roots`` (recursively), less those whose relative path is in ``holdout``."""
    holdout = holdout or set()
    found: list[Path] = []
    for root in _roots(roots):
        if not root.is_dir():
            raise InputError(f"training data folder not found: {root}")
        here = sorted(
            p
            for p in root.rglob("*")
            if p.suffix.lower() in IMAGE_EXTS and p.is_file() and relative_name(p, root) not in holdout
        )
        if not here:
            raise InputError(f"no images ({', '.join(sorted(IMAGE_EXTS))}) found under {root}")
        found += here
    return found


def read_holdout(path: str | Path | None) -> set[str]:
    """A held-out list: one photo per line, as its path relative to the data folder given (``#`` comments).

    ``bsds500_test_100007.jpg`` names a photo at the top of a folder, ``selfies/selfies_12.jpg`` one in a
    subfolder; so two folders' photos with the same file name cannot be confused.
    """
    if path is None:
        return set()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"holdout list not found: {p}")
    names = set()
    for line in p.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(Path(line.replace("\\", "/")).as_posix().removeprefix("./"))
    return names


def load_rgb(path: str | Path, max_side: int | None = None, short_side: int | None = None) -> np.ndarray | None:
    """Decode an image to RGB uint8 (None if broken); optionally resize by long or short side (area filter)."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None or img.size == 0:
        return None
    h, w = img.shape[:2]
    scale = 1.0
    if max_side and max(h, w) != max_side:
        scale = max_side / max(h, w)
    elif short_side and min(h, w) > short_side:
        scale = short_side / min(h, w)
    if scale != 1.0:
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)
    return np.ascontiguousarray(img[:, :, ::-1])


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 → [1, 3, H, W] float in [0, 1]."""
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0


class PhotoSet:
    """All photos in memory as uint8 CHW tensors, short side capped at ``2 * size``.

    ``batch()`` draws random photos, random square crops of side between ``size`` and the short side,
    resized to ``size``, with random horizontal flips; every random choice comes from ``generator``.
    """

    def __init__(
        self,
        roots: str | Path | Sequence[str | Path],
        size: int,
        holdout: set[str] | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        paths = find_images(roots, holdout)
        self.size = size
        self.images: list[torch.Tensor] = []
        self.skipped: list[Path] = []
        for p in paths:
            rgb = load_rgb(p, short_side=2 * size)
            if rgb is None or min(rgb.shape[:2]) < 8:
                self.skipped.append(p)
                continue
            self.images.append(torch.from_numpy(rgb).permute(2, 0, 1).contiguous())
        if not self.images:
            where = ", ".join(str(r) for r in _roots(roots))
            raise InputError(f"none of the {len(paths)} images under {where} could be read")
        self.device = torch.device(device)
        if self.device.type != "cpu":
            self.images = [t.to(self.device) for t in self.images]
        skipped = set(self.skipped)
        self.paths = [p for p in paths if p not in skipped]
        self.roots = _roots(roots)

    def subsets(self) -> dict[str, int]:
        """Photos per subset, for the model card: ``folder/subfolder`` for nested photos, else ``folder/prefix``
        (the file name up to its first ``_``, as in ``photos/bsds500_test_100007.jpg``)."""
        counts: dict[str, int] = {}
        for p in self.paths:
            root = next(r for r in self.roots if p.is_relative_to(r))
            rel = p.relative_to(root)
            key = f"{root.name}/{rel.parts[0]}" if len(rel.parts) > 1 else f"{root.name}/{rel.name.split('_')[0]}"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def __len__(self) -> int:
        return len(self.images)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() for t in self.images)

    def batch(self, n: int, generator: torch.Generator) -> torch.Tensor:
        idx = torch.randint(len(self.images), (n,), generator=generator).tolist()
        out = []
        for i in idx:
            img = self.images[i]
            _, h, w = img.shape
            lo = min(self.size, h, w)
            side = int(torch.randint(lo, min(h, w) + 1, (1,), generator=generator))
            top = int(torch.randint(0, h - side + 1, (1,), generator=generator))
            left = int(torch.randint(0, w - side + 1, (1,), generator=generator))
            crop = img[:, top : top + side, left : left + side].float()[None] / 255.0
            if side != self.size:
                crop = F.interpolate(crop, size=(self.size, self.size), mode="area" if side > self.size else "bilinear")
            if bool(torch.randint(0, 2, (1,), generator=generator)):
                crop = crop.flip(3)
            out.append(crop)
        return torch.cat(out)

    def fixed(self, n: int) -> torch.Tensor:
        """``n`` evenly spaced photos, centre-cropped: the preview images."""
        picks = np.linspace(0, len(self.images) - 1, n).astype(int)
        crops = []
        for i in picks:
            img = self.images[int(i)]
            _, h, w = img.shape
            s = min(h, w)
            t, lft = (h - s) // 2, (w - s) // 2
            c = img[:, t : t + s, lft : lft + s].float()[None] / 255.0
            crops.append(F.interpolate(c, size=(self.size, self.size), mode="area"))
        return torch.cat(crops)
