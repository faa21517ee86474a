"""What ``Stylizer`` accepts besides uint8 BGR arrays, and how it gives the result back in the same kind.

* RGB arrays (``channels="rgb"``): HxWx3 RGB / HxWx4 RGBA, returned in the same order.
* PIL images (``PIL.Image.Image``, any mode): a PIL image comes back (RGB, or RGBA when the input had alpha).
  PIL is never imported here unless the caller already has it loaded.
* Float arrays with values in [0, 1] (float16, float32, float64): converted to uint8 for the network and
  returned as floats in [0, 1] of the input's dtype. Floats outside [0, 1] (0..255 floats, NaN) are refused in one
  line: scale them or pass uint8.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from rtstyle.errors import InputError

# Values a hair outside [0, 1] (rounding in the caller's arithmetic) are clipped, not refused.
FLOAT_SLACK = 1e-3


@dataclass(frozen=True)
class Kind:
    """How a frame came in, so the result goes back the same way."""

    pil_mode: str | None = None  # the PIL mode to return ("RGB" or "RGBA"); None for arrays
    rgb: bool = False  # the array's colour order is RGB(A)
    float_dtype: Any = None  # the float dtype the caller passed (the result is returned in it)


def is_pil_image(obj: object) -> bool:
    """True for a ``PIL.Image.Image`` (without importing PIL when the caller has not)."""
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(obj, pil.Image)


def _pil_to_array(img: Any) -> tuple[np.ndarray, str]:
    """A PIL image as an RGB / RGBA / gray / gray+alpha array (uint8 or uint16), and the mode to return."""
    mode = img.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        pass
    elif mode in ("1", "I", "F") or mode.startswith("I;16"):
        arr = np.asarray(img)
        if arr.dtype == bool:
            return arr.astype(np.uint8) * 255, "RGB"
        if mode.startswith("I;16") or (mode == "I" and arr.size and 0 <= arr.min() and arr.max() <= 65535):
            return np.clip(arr, 0, 65535).astype(np.uint16), "RGB"  # 16-bit gray: scaled to 8 bits later
        img = img.convert("L")  # 32-bit int or float gray: clipped to 0..255 by PIL
    else:  # P, PA, CMYK, YCbCr, LAB, HSV, RGBa, La, RGBX, ...
        alpha = "A" in mode or "a" in mode or (mode in ("P", "PA") and "transparency" in img.info)
        img = img.convert("RGBA" if alpha else "RGB")
    arr = np.asarray(img)
    return arr, ("RGBA" if arr.ndim == 3 and arr.shape[2] in (2, 4) else "RGB")


def _float_to_u8(frame: np.ndarray) -> np.ndarray:
    if frame.size == 0:
        return frame.astype(np.uint8)
    lo, hi = float(np.min(frame)), float(np.max(frame))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise InputError("a float frame holds NaN or infinite values: float frames must hold values in [0, 1]")
    if lo < -FLOAT_SLACK or hi > 1.0 + FLOAT_SLACK:
        raise InputError(
            f"a float frame must hold values in [0, 1]; this one spans {lo:.4g}..{hi:.4g} "
            "(divide 0..255 floats by 255, or pass uint8)"
        )
    return np.clip(frame.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def to_native(frame: Any, channels: str = "bgr") -> tuple[np.ndarray, Kind]:
    """``frame`` as a uint8 (or uint16) array in BGR(A) / gray order, and how to give the result back."""
    if is_pil_image(frame):
        arr, mode = _pil_to_array(frame)
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            arr = _swap_rb(arr)
        return arr, Kind(pil_mode=mode)
    if not isinstance(frame, np.ndarray):
        raise InputError(f"a frame must be a numpy array or a PIL image, not {type(frame).__name__}")
    kind_float = None
    if frame.dtype.kind == "f":
        kind_float = frame.dtype
        frame = _float_to_u8(frame)
    elif frame.dtype.kind in "u" and frame.dtype.itemsize == 2 and frame.dtype != np.uint16:
        frame = frame.astype(np.uint16)  # a byte-swapped uint16
    rgb = channels == "rgb"
    if rgb and frame.ndim == 3 and frame.shape[2] in (3, 4):
        frame = _swap_rb(frame)
    return frame, Kind(rgb=rgb, float_dtype=kind_float)


def from_native(out: np.ndarray, kind: Kind) -> Any:
    """The stylized uint8 BGR(A) array ``out`` given back the way its frame came in (see :class:`Kind`)."""
    if kind.pil_mode is not None:
        from PIL import Image

        return Image.fromarray(np.ascontiguousarray(_swap_rb(out)))  # RGB, or RGBA when alpha came in
    if kind.rgb:
        out = np.ascontiguousarray(_swap_rb(out))
    if kind.float_dtype is not None:
        return (out.astype(np.float32) / 255.0).astype(kind.float_dtype, copy=False)
    return out


def _swap_rb(a: np.ndarray) -> np.ndarray:
    """BGR(A) <-> RGB(A): the first and third channels swapped, alpha left where it is."""
    if a.shape[2] == 3:
        return a[..., ::-1]
    return a[..., [2, 1, 0, 3]]
