"""Training photos: found recursively, decoded once, kept in memory (on the GPU when they fit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rtstyle.errors import InputError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def find_images(root: str | Path, holdout: set[str] | None = None) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"training data folder not found: {root}")
    holdout = holdout or set()
    found = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file() and p.name not in holdout
    )
    if not found:
        raise InputError(f"no images ({', '.join(sorted(IMAGE_EXTS))}) found under {root}")
    return found


def read_holdout(path: str | Path | None) -> set[str]:
    """A holdout list: one file name per line (``#`` comments allowed); matched on the file's name."""
    if path is None:
        return set()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"holdout list not found: {p}")
    names = set()
    for line in p.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(Path(line).name)
    return names


def load_rgb(path: str | Path, max_side: int | None = None, short_side: int | None = None) -> np.ndarray | None:
    """Decode an image to RGB uint8 (None if broken); optionally resize by long or short side (area filter)."""
    import cv2

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
        self, root: str | Path, size: int, holdout: set[str] | None = None, device: torch.device | str = "cpu"
    ) -> None:
        paths = find_images(root, holdout)
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
            raise InputError(f"none of the {len(paths)} images under {root} could be read")
        self.device = torch.device(device)
        if self.device.type != "cpu":
            self.images = [t.to(self.device) for t in self.images]
        self.paths = [p for p in paths if p not in set(self.skipped)]

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
