"""``rtstyle image IN OUT``: stylize one picture.

EXIF orientation is applied (the picture comes out upright), an alpha channel is kept (written when OUT's format
can hold it: PNG, WebP, TIFF), and grayscale pictures are accepted (the output is colour: the style brings its
palette; with ``--preserve-color`` it stays gray). The output is written to a temporary file in OUT's folder and
renamed at the end; IN is never touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from rtstyle.files import publish_mode, same_file

STYLE_HELP = "Style name (see `rtstyle styles`) or path to a contract-v1 .onnx model. Default: the built-in style."
DEVICE_HELP = "auto (CUDA when it really runs, else CPU), cuda or cpu."
TIER_HELP = "Model tier: full or fast (default: fast on CPU, full on CUDA, whichever exists)."
MAX_SIDE_HELP = (
    "Stylize at most this many pixels on the long side, then resize back. This sets the stroke size: "
    "smaller values give larger brush strokes relative to the picture (and run faster)."
)
SCALE_HELP = "Stylize at this fraction of the input size, then resize back (sets the stroke size, like --max-side)."
STRENGTH_HELP = "0..1: blend the stylized picture with the original (1 = fully stylized)."
PRESERVE_HELP = "Keep the input's colours: luminance from the stylized picture, colour from the original."
BLEND_HELP = "Mix two styles: FIRST:SECOND:T (T = share of SECOND, 0..1), or first=0.7,second=0.3."

ALPHA_FORMATS = {".png", ".webp", ".tif", ".tiff", ".exr"}


def _dihedral(img: Any, k: int) -> Any:
    import numpy as np

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


def read_image(path: Path) -> Any:
    """Read a picture upright (EXIF orientation applied): BGR, BGRA (alpha kept) or gray (HxW), uint8."""
    import cv2
    import numpy as np

    from rtstyle.adjust import to_bgr
    from rtstyle.errors import InputError

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


def write_image(path: Path, img: Any, source: Path) -> None:
    """Encode by OUT's extension into a temp file beside OUT, then rename (no half-written OUT)."""
    import cv2

    from rtstyle.errors import OutputError

    ext = path.suffix.lower()
    if not ext:
        raise OutputError(f"{path} has no file extension: name it .png, .jpg, .webp, ...")
    if img.ndim == 3 and img.shape[2] == 4 and ext not in ALPHA_FORMATS:
        print(
            f"rtstyle: notice: {ext} cannot hold transparency; the alpha channel is dropped (use .png)", file=sys.stderr
        )
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
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=ext + ".part", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.tobytes())
            publish_mode(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def image(
    input: Path = typer.Argument(..., help="Picture to stylize (PNG, JPEG, WebP, TIFF, BMP, ...).", show_default=False),
    output: Path = typer.Argument(
        ..., help="Where to write the result; its extension picks the format.", show_default=False
    ),
    style: str | None = typer.Option(None, "--style", "-s", help=STYLE_HELP),
    device: str = typer.Option("auto", "--device", "-d", help=DEVICE_HELP),
    tier: str | None = typer.Option(None, "--tier", help=TIER_HELP),
    max_side: int | None = typer.Option(None, "--max-side", help=MAX_SIDE_HELP),
    scale: float | None = typer.Option(None, "--scale", help=SCALE_HELP),
    strength: float = typer.Option(1.0, "--strength", min=0.0, max=1.0, help=STRENGTH_HELP),
    preserve_color: bool = typer.Option(False, "--preserve-color/--no-preserve-color", help=PRESERVE_HELP),
    blend: str | None = typer.Option(None, "--blend", help=BLEND_HELP),
) -> None:
    """Stylize one picture (EXIF orientation respected, alpha kept, grayscale accepted)."""
    from rtstyle.errors import Interrupted

    try:
        _stylize_image(input, output, style, device, tier, max_side, scale, strength, preserve_color, blend)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: nothing written to {output}") from None


def _stylize_image(
    input: Path,
    output: Path,
    style: str | None,
    device: str,
    tier: str | None,
    max_side: int | None,
    scale: float | None,
    strength: float,
    preserve_color: bool,
    blend: str | None,
) -> None:
    from rtstyle.errors import OutputError

    if same_file(input, output):
        raise OutputError(f"OUT is the same file as IN ({input}): choose another output name; the input is untouched")
    if output.exists() and output.is_dir():
        raise OutputError(f"output is a folder: {output} (give a file name such as {output / 'out.png'})")
    if output.suffix == "":
        raise OutputError(f"{output} has no file extension: name it .png, .jpg, .webp, ...")
    img = read_image(input)

    from rtstyle.engine import Stylizer

    st = Stylizer(
        style,
        device=device,
        tier=tier,
        max_side=max_side,
        scale=scale,
        strength=strength,
        preserve_color=preserve_color,
        blend=blend,
    )
    out = st(img)
    write_image(output, out, input)
    h, w = out.shape[:2]
    print(f"wrote {output} ({w}x{h}, style {st.style}, {st.provider})")


def register(app: typer.Typer) -> None:
    app.command("image")(image)
