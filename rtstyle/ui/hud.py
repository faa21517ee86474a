"""The HUD: a small semi-transparent box of text (fps, latency, style, provider, settings) drawn on a copy of the
frame, so the recording and the streaming outputs stay clean unless they ask for it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

HUD_MARGIN = 6  # pixels between the frame's corner and the HUD box
HUD_ALPHA = 0.55  # darkness of the box behind the text


def hud_lines(
    fps: float,
    latency_ms: float,
    style: str,
    provider: str,
    extra: Mapping[str, object] | Sequence[str] | None = None,
) -> list[str]:
    """The text lines the HUD shows."""
    provider = provider.replace("ExecutionProvider", "")
    lines = [f"{fps:5.1f} fps  {latency_ms:4.0f} ms", f"style: {style}", f"provider: {provider}"]
    if isinstance(extra, Mapping):
        lines += [f"{k}: {v}" for k, v in extra.items()]
    elif extra:
        lines += [str(s) for s in extra]
    return lines


def _hud_font(shape: tuple[int, ...]) -> tuple[float, int, int]:
    """Font scale, thickness and line height for a frame of this shape (readable, small)."""
    h, w = shape[:2]
    scale = float(np.clip(min(h, w) / 720.0 * 0.8, 0.35, 1.0))
    thickness = 1 if scale < 0.8 else 2
    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    return scale, thickness, th + base + max(2, int(4 * scale))


def hud_rect(shape: tuple[int, ...], lines: Sequence[str]) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the HUD box (exclusive end) for a frame of this shape, clipped to the frame."""
    scale, thickness, line_h = _hud_font(shape)
    text_w = max(cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][0] for s in lines)
    pad = max(3, int(6 * scale))
    h, w = shape[:2]
    x0, y0 = min(HUD_MARGIN, w - 1), min(HUD_MARGIN, h - 1)
    x1 = min(w, x0 + text_w + 2 * pad)
    y1 = min(h, y0 + line_h * len(lines) + 2 * pad)
    return x0, y0, x1, y1


def draw_hud(
    frame: np.ndarray,
    fps: float,
    latency_ms: float,
    style: str,
    provider: str,
    extra: Mapping[str, object] | Sequence[str] | None = None,
) -> np.ndarray:
    """Return a copy of ``frame`` with a small semi-transparent HUD in the top-left corner.

    ``frame`` itself is left untouched, so the recording and the streaming outputs stay clean.
    """
    out = frame.copy()
    lines = hud_lines(fps, latency_ms, style, provider, extra)
    x0, y0, x1, y1 = hud_rect(out.shape, lines)
    if x1 <= x0 or y1 <= y0:
        return out
    box = out[y0:y1, x0:x1]
    box[:] = (box.astype(np.float32) * (1.0 - HUD_ALPHA)).astype(np.uint8)
    scale, thickness, line_h = _hud_font(out.shape)
    pad = max(3, int(6 * scale))
    # Text is drawn into the box view only, so nothing outside the box can change.
    for i, text in enumerate(lines):
        y = pad + line_h * (i + 1) - max(2, int(4 * scale))
        cv2.putText(box, text, (pad, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out
