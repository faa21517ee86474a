"""Small pieces shared by the live outputs: a newest-frame mailbox and a letterbox resize."""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np


class Mailbox:
    """A one-slot mailbox holding only the newest item.

    ``put`` never blocks: an item nobody took yet is replaced (and counted in ``replaced``).
    ``take`` waits for an item (or close) and empties the slot.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._closed = False
        self.put_count = 0
        self.replaced = 0

    def put(self, item: Any) -> None:
        with self._cond:
            if self._item is not None:
                self.replaced += 1
            self._item = item
            self.put_count += 1
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> Any:
        """The newest item, or ``None`` on timeout or when closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


def letterbox(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit ``frame`` into ``size`` (width, height) keeping its aspect ratio, black bars around it.

    Returns ``frame`` itself when it already has that size.
    """
    w, h = size
    fh, fw = frame.shape[:2]
    if (fw, fh) == (w, h):
        return frame
    scale = min(w / fw, h / fh)
    nw, nh = max(1, round(fw * scale)), max(1, round(fh * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (nw, nh), interpolation=interp)
    if (nw, nh) == (w, h):
        return resized
    out = np.zeros((h, w, 3), np.uint8)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = resized
    return out
