"""Pure numpy/cv2 helpers around the network: strength blend, colour preservation, resizing, channel layouts, and
the parsers of what the user says about them (sizes ``WxH``, style blends)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from rtstyle.errors import InputError


def apply_strength(original: np.ndarray, stylized: np.ndarray, strength: float) -> np.ndarray:
    """Blend ``strength * stylized + (1 - strength) * original`` (uint8 in, uint8 out); 1 returns ``stylized``."""
    s = float(min(max(strength, 0.0), 1.0))
    if s >= 1.0:
        return stylized
    if s <= 0.0:
        return original.copy()
    return cv2.addWeighted(stylized, s, original, 1.0 - s, 0.0)


def preserve_color(original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """Luminance (Y) from the stylized frame, chroma (Cr, Cb) from the original; BGR uint8 in and out."""
    y_st = cv2.cvtColor(stylized, cv2.COLOR_BGR2YCrCb)
    ycc = cv2.cvtColor(original, cv2.COLOR_BGR2YCrCb)
    ycc[..., 0] = y_st[..., 0]
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)


def working_size(width: int, height: int, max_side: int | None = None, scale: float | None = None) -> tuple[int, int]:
    """The (width, height) to stylize at: ``scale`` first, then capped so the long side is at most ``max_side``.

    Never enlarges beyond ``scale`` (``max_side`` only shrinks) and never goes below 1x1.
    """
    w, h = float(width), float(height)
    if scale is not None:
        if not math.isfinite(scale) or scale <= 0:
            raise InputError(f"--scale must be a finite number greater than 0, not {scale}")
        w, h = w * scale, h * scale
    if max_side is not None:
        if max_side < 1:
            raise InputError(f"--max-side must be at least 1, not {max_side}")
        long_side = max(w, h)
        if long_side > max_side:
            f = max_side / long_side
            w, h = w * f, h * f
    return max(1, round(w)), max(1, round(h))


def resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize with INTER_AREA when shrinking and INTER_CUBIC when enlarging; a no-op at the same size."""
    h0, w0 = frame.shape[:2]
    if (w0, h0) == (width, height):
        return frame
    interp = cv2.INTER_AREA if width * height < w0 * h0 else cv2.INTER_CUBIC
    return cv2.resize(frame, (width, height), interpolation=interp)


def to_bgr(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split any supported image into a contiguous uint8 BGR frame and an optional alpha plane.

    Accepts HxW (gray), HxWx1, HxWx2 (gray+alpha), HxWx3 (BGR), HxWx4 (BGRA); uint8 or uint16 (scaled down).
    """
    if not isinstance(frame, np.ndarray):
        raise InputError(f"a frame must be a numpy array, not {type(frame).__name__}")
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise InputError(f"frames must be uint8 (or uint16) images, not {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim == 2:
        bgr, alpha = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), None
    elif frame.ndim == 3 and frame.shape[2] == 2:
        bgr, alpha = cv2.cvtColor(np.ascontiguousarray(frame[..., 0]), cv2.COLOR_GRAY2BGR), frame[..., 1]
    elif frame.ndim == 3 and frame.shape[2] == 3:
        bgr, alpha = frame, None
    elif frame.ndim == 3 and frame.shape[2] == 4:
        bgr, alpha = frame[..., :3], frame[..., 3]
    else:
        raise InputError(f"frames must be HxW, HxWx3 or HxWx4, not shape {frame.shape}")
    if bgr.shape[0] < 1 or bgr.shape[1] < 1:
        raise InputError(f"empty frame (shape {frame.shape})")
    return np.ascontiguousarray(bgr), (None if alpha is None else np.ascontiguousarray(alpha))


def with_alpha(bgr: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Re-attach an alpha plane (BGRA out), or return ``bgr`` as it is."""
    if alpha is None:
        return bgr
    return np.dstack([bgr, alpha])


def parse_blend(spec: str) -> dict[str, float]:
    """Parse a blend: ``a:b:0.3`` (70 % a, 30 % b) or ``a=0.7,b=0.3`` (weights, normalised later)."""
    spec = spec.strip()
    try:
        if "=" in spec:
            out: dict[str, float] = {}
            for part in spec.split(","):
                name, _, w = part.partition("=")
                out[name.strip()] = float(w)
        else:
            a, b, t = spec.split(":")
            t_f = float(t)
            if not 0.0 <= t_f <= 1.0:
                raise ValueError
            out = {a.strip(): 1.0 - t_f, b.strip(): t_f} if a.strip() != b.strip() else {a.strip(): 1.0}
    except ValueError:
        raise InputError(f"--blend {spec!r}: use NAME_A:NAME_B:T with T in 0..1, or a=0.7,b=0.3") from None
    if not out or any(not n for n in out) or any(w < 0 for w in out.values()) or sum(out.values()) <= 0:
        raise InputError(f"--blend {spec!r}: style names must be given and weights must be >= 0 and not all 0")
    return out


def parse_size(text: str, what: str = "size", lo: int = 1, hi: int | None = None) -> tuple[int, int]:
    """``"1280x720"`` (or ``1280*720``) -> ``(1280, 720)``; an ``InputError`` naming ``what`` otherwise."""
    parts = text.strip().lower().replace("*", "x").split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        w, h = int(parts[0]), int(parts[1])
    except ValueError:
        raise InputError(f"{what}: {text.strip()!r} is not WIDTHxHEIGHT (e.g. 640x360)") from None
    if min(w, h) < lo or (hi is not None and max(w, h) > hi):
        bounds = f"{lo}..{hi}" if hi is not None else f"at least {lo}"
        raise InputError(f"{what}: {text.strip()!r} is out of range ({bounds} pixels a side)")
    return w, h


def parse_sizes(text: str, what: str = "--sizes") -> list[tuple[int, int]]:
    """``"640x360,1280x720"`` -> ``[(640, 360), (1280, 720)]``."""
    out = [parse_size(part, what) for part in text.split(",") if part.strip()]
    if not out:
        raise InputError(f"{what} lists no size")
    return out
