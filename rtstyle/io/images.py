"""Pictures in and out: read upright (EXIF orientation applied, alpha kept, grayscale accepted), write by the
output's extension into a temporary file beside it and rename at the end (never a half-written output)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rtstyle.adjust import to_bgr
from rtstyle.errors import InputError, OutputError, notice
from rtstyle.files import publish, remove_stale_parts, temp_path

ALPHA_FORMATS = {".png", ".webp", ".tif", ".tiff", ".exr"}


def _dihedral(img: np.ndarray, k: int) -> np.ndarray:
    return [
        lambda a: a,
        lambda a: np.rot90(a, -1),
        lambda a: np.rot90(a, 2),
        lambda a: np.rot90(a, 1),
        lambda a: a[:, ::-1],
        lambda a: a[::-1],
        lambda a: np.swapaxes(a, 0, 1),
        lambda a: np.rot90(a, 2).swapaxes(0, 1),
    ][k](img)


def read_image(path: Path) -> np.ndarray:
    """Read a picture upright (EXIF orientation applied): BGR, BGRA (alpha kept) or gray (HxW), uint8."""
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a folder, not a picture: {path}")
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.size == 0:
        raise InputError(f"{path} is empty")
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
    bgr_raw, alpha = to_bgr(raw)
    # Find the orientation cv2 applied to the colour planes and apply the same one to the alpha plane.
    best, best_err = 0, None
    for k in range(8):
        cand = _dihedral(bgr_raw, k)
        if cand.shape != color.shape:
            continue
        err = float(np.abs(cand.astype(np.int16) - color.astype(np.int16)).mean())
        if best_err is None or err < best_err - 1e-9:
            best, best_err = k, err
    return np.dstack([color, np.ascontiguousarray(_dihedral(alpha, best))])


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
