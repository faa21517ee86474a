"""Frame sources: camera, video file, URL. Each yields uint8 BGR frames with their timestamps."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Source(ABC):
    """A stream of frames.

    ``read()`` returns ``(frame, timestamp)`` with ``frame`` a uint8 BGR ``HxWx3`` array (already rotated
    upright and with square pixels) and ``timestamp`` in seconds from the start of the stream, or ``None``
    at the end. Live sources (cameras, URLs) return the newest frame and drop older ones.
    """

    width: int = 0
    height: int = 0
    fps: float = 0.0  # nominal frame rate (0 when unknown)
    frame_count: int | None = None  # None for live or unknown
    is_live: bool = False
    description: str = ""

    @abstractmethod
    def read(self) -> tuple[np.ndarray, float] | None: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
