"""Pictures in and out: read upright (EXIF orientation applied to every plane, alpha included, by Pillow's
``ImageOps.exif_transpose``; grayscale accepted; iPhone HEIC/HEIF photos through ``pillow-heif``), write by the
output's extension into a temporary file beside it and rename at the end (never a half-written output).

Pillow reads first; a format it does not know (OpenEXR, Radiance HDR, PFM, ...) is read by OpenCV."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rtstyle.adjust import to_bgr, with_alpha
from rtstyle.errors import InputError, InputNotFound, OutputError, notice
from rtstyle.files import publish, remove_stale_parts, temp_path

ALPHA_FORMATS = {".png", ".webp", ".tif", ".tiff", ".exr"}

# ISO base media brands of HEIF stills (HEVC-coded: iPhone photos), which OpenCV cannot decode.
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"mif2"}
HEIF_HINT = 'pip install "rtstyle[heif]"'


def is_heif(data: bytes) -> bool:
    """True for a HEIF/HEIC file (an ``ftyp`` box naming a HEIF brand); AVIF is left to Pillow."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[0:4], "big")
    brands = [data[8:12]] + [data[i : i + 4] for i in range(16, min(max(size, 16), len(data), 64), 4)]
    return any(b in HEIF_BRANDS for b in brands) and b"avif" not in brands[:1]


def _heif_opener(path: Path) -> None:
    """Teach Pillow HEIF (pillow-heif); a one-line InputError saying what to install when it is missing."""
    try:
        import pillow_heif
    except ImportError:
        raise InputError(
            f"{path} is a HEIC/HEIF photo; reading it needs pillow-heif: {HEIF_HINT} (or convert it to JPEG)"
        ) from None
    pillow_heif.register_heif_opener()


def _pil_image_to_native(img: Any) -> np.ndarray | None:
    """A Pillow image as rtstyle's picture array (BGR, BGRA or gray, uint8), or None for a mode it leaves to
    OpenCV (32-bit float)."""
    mode = img.mode
    if mode == "F":
        return None
    if mode == "1":
        img, mode = img.convert("L"), "L"
    elif mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        arr = np.asarray(img)
        if mode == "I" and arr.size and (arr.min() < 0 or arr.max() > 65535):
            return None
        return (np.clip(arr, 0, 65535).astype(np.uint16) >> 8).astype(np.uint8)  # 16-bit gray to 8 bits
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        alpha = "A" in mode or "a" in mode or (mode in ("P", "PA") and "transparency" in img.info)
        img = img.convert("RGBA" if alpha else "RGB")
        mode = img.mode
    arr = np.asarray(img)
    if mode == "L":
        return np.ascontiguousarray(arr)
    if mode == "LA":
        bgr, alpha = to_bgr(np.ascontiguousarray(arr))
        return with_alpha(bgr, alpha)
    order = [2, 1, 0, 3] if mode == "RGBA" else [2, 1, 0]
    return np.ascontiguousarray(arr[..., order])


def _read_pillow(path: Path, data: bytes) -> np.ndarray | None:
    """The picture read by Pillow, EXIF orientation applied to every plane; None when Pillow cannot read it."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    heif = is_heif(data)
    if heif:
        _heif_opener(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning and friends: the size is checked later
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                upright = ImageOps.exif_transpose(img)
                return _pil_image_to_native(upright if upright is not None else img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        if heif:
            raise InputError(f"{path} is not a readable HEIC/HEIF photo: {' '.join(str(exc).split())[:200]}") from None
        return None


def _read_opencv(path: Path, data: np.ndarray) -> np.ndarray:
    """OpenCV's reading, for what Pillow does not read (EXR, HDR, PFM, truncated files it gives up on)."""
    raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if raw is None or raw.size == 0:
        raise InputError(
            f"{path} is not a readable picture (corrupt or unsupported format; for videos use `rtstyle video`)"
        )
    if raw.ndim == 2 or (raw.ndim == 3 and raw.shape[2] == 1):
        gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)  # orientation applied
        return gray if gray is not None else to_bgr(raw)[0][..., 0]
    color = cv2.imdecode(data, cv2.IMREAD_COLOR)  # orientation applied, 8-bit, alpha dropped
    if color is None:
        raise InputError(f"{path} is not a readable picture")
    if raw.shape[2] not in (2, 4):
        return color
    alpha = to_bgr(raw)[1]
    if alpha is None or alpha.shape != color.shape[:2]:
        return color  # oriented by EXIF, which OpenCV applied to the colour only: the alpha is dropped
    return np.dstack([color, alpha])


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a picture upright (EXIF orientation applied to every plane): BGR, BGRA (alpha kept) or gray (HxW),
    uint8. HEIC/HEIF photos need ``pillow-heif`` (``pip install "rtstyle[heif]"``). A missing file is
    ``InputNotFound`` (a ``FileNotFoundError``), an unreadable one ``InputError``."""
    path = Path(path)
    if not path.exists():
        raise InputNotFound(f"input not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a folder, not a picture: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not data:
        raise InputError(f"{path} is empty")
    img = _read_pillow(path, data)
    if img is not None and img.size:
        return img
    return _read_opencv(path, np.frombuffer(data, np.uint8))


def check_image_format(path: Path) -> str:
    """OUT's extension, lower case, when OpenCV can write pictures of that kind; else a one-line OutputError
    (checked before any work: nothing is stylized for a picture that cannot be written)."""
    ext = path.suffix.lower()
    if not ext:
        raise OutputError(f"{path} has no file extension: name it .png, .jpg, .webp, ...")
    try:
        ok = cv2.haveImageWriter(f"x{ext}")
    except cv2.error:
        ok = False
    if not ok:
        raise OutputError(f"cannot write {ext} pictures: use .png, .jpg, .webp, .bmp or .tif")
    return ext


def write_image(path: Path, img: np.ndarray, force: bool = True) -> None:
    """Encode by OUT's extension into a temp file beside OUT, then rename (no half-written OUT). ``force=False``
    never replaces a file that appeared under OUT's name meanwhile."""
    ext = check_image_format(path)
    if img.ndim == 3 and img.shape[2] == 4 and ext not in ALPHA_FORMATS:
        notice(f"{ext} cannot hold transparency; the alpha channel is dropped (use .png)")
        img = img[..., :3]
    params: list[int] = []
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    try:
        ok, buf = cv2.imencode(ext, img, params)
    except cv2.error:
        ok, buf = False, None
    if not ok or buf is None:
        raise OutputError(f"cannot write {ext} pictures: use .png, .jpg, .webp, .bmp or .tif")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"output folder does not exist: {folder}")
    remove_stale_parts(path)
    tmp = temp_path(path)
    try:
        tmp.write_bytes(buf.tobytes())
        publish(tmp, path, force=force)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
