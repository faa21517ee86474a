"""Frame sinks: where stylized frames go (a window, a video file with audio, streaming outputs).

Every sink has the same small interface: ``write(frame, timestamp)`` and ``close()``. A sink never blocks
the pipeline: a sink that does slow work (encoding, sockets) hands frames to its own thread and drops
frames rather than stall when it falls behind (a file recorder is the exception: it must keep every frame,
so it queues with a bounded buffer and applies back-pressure only when told ``lossless=True``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Sink(ABC):
    """One destination for stylized frames.

    ``frame`` is a uint8 BGR ``HxWx3`` array that the sink must not modify (copy it if kept);
    ``timestamp`` is seconds since the stream started (presentation time for files, wall clock for live).
    ``wants_hud`` tells the pipeline whether this sink receives the frame with the HUD drawn on it.
    """

    name: str = "sink"
    wants_hud: bool = False

    @abstractmethod
    def write(self, frame: np.ndarray, timestamp: float) -> None:
        """Take one frame; must return quickly."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release; idempotent. After close, ``write`` is not called again."""

    def abort(self) -> None:
        """Stop without finishing the output (Ctrl-C): files are discarded, not left half-written."""
        self.close()

    @property
    def stats(self) -> dict[str, float]:
        """Counters for the HUD and the summary line (frames written, dropped, ...)."""
        return {}

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
