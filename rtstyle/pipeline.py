"""source -> stylize -> smooth -> sinks, with decoding overlapped with inference (and sinks encoding in their own
threads). The CLI commands only wire a Pipeline up.

Interfaces used here:
  source:   ``rtstyle.sources.Source`` (``read() -> (frame, t) | None``, ``close()``)
  stylizer: any callable ``frame -> frame`` (``rtstyle.engine.Stylizer``; its ``provider``/``style`` are reported)
  smoother: ``reset()`` and ``smoother(input_frame, stylized_frame) -> frame`` (``rtstyle.smoothing.Smoother``);
            when it has ``prepare(frame) -> motion`` and ``blend(motion, stylized) -> frame``, the motion
            analysis runs in the worker thread beside inference
  sinks:    ``rtstyle.sinks.Sink`` (``write(frame, t)``, ``close()``, ``abort()``, ``wants_hud``)
  hud:      ``hud(frame, status: dict) -> frame`` draws on a copy for sinks with ``wants_hud``;
            status keys: fps, latency_ms, frames, style, provider, smoothing.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtstyle.errors import DeviceError, RtstyleError
from rtstyle.sinks import Sink
from rtstyle.sources import Source

_END = object()


@dataclass
class RunStats:
    """Summary of one run."""

    frames: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    provider: str = ""
    style: str = ""
    mean_latency_ms: float = 0.0  # read -> stylized (+smoothed), per frame
    sink_stats: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary(self) -> str:
        return f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps) on {self.provider or 'unknown'}"


class _Reader(threading.Thread):
    """Reads the source ahead of inference into a small bounded queue."""

    def __init__(self, source: Source, q: queue.Queue, stop: threading.Event) -> None:
        super().__init__(name="rtstyle-reader", daemon=True)
        self.source, self.q, self.stop = source, q, stop

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                item = self.source.read()
                if item is None:
                    break
                if not self._put((item[0], item[1], time.perf_counter())):
                    return
        except BaseException as exc:  # handed to the consumer thread
            self._put(exc)
            return
        self._put(_END)


class Pipeline:
    """Run frames from a source through a stylizer (and optional smoother) into sinks."""

    def __init__(
        self,
        source: Source,
        stylizer: Callable[[np.ndarray], np.ndarray],
        smoother: Any = None,
        sinks: Sequence[Sink] = (),
        hud: Callable[[np.ndarray, dict[str, Any]], np.ndarray] | None = None,
        queue_size: int = 4,
    ) -> None:
        self.source = source
        self.stylizer = stylizer
        self.smoother = smoother
        self.sinks = list(sinks)
        self.hud = hud
        self.queue_size = max(1, queue_size)
        self._stop = threading.Event()
        self.status: dict[str, Any] = {}

    def stop(self) -> None:
        """Ask a running ``run`` to finish after the current frame (thread-safe; e.g. a quit hotkey)."""
        self._stop.set()

    def _describe(self, key: str) -> str:
        return str(getattr(self.stylizer, key, "") or "")

    def _write(self, frame: np.ndarray, t: float) -> None:
        hud_frame = None
        for sink in self.sinks:
            if sink.wants_hud and self.hud is not None:
                if hud_frame is None:
                    hud_frame = self.hud(frame.copy(), dict(self.status))
                sink.write(hud_frame, t)
            else:
                sink.write(frame, t)

    def _finish(self, ok: bool) -> None:
        for sink in self.sinks:
            with contextlib.suppress(Exception):
                if ok:
                    sink.close()
                else:
                    sink.abort()

    def run(
        self,
        progress: Callable[[int, int | None, float], None] | None = None,
        max_frames: int | None = None,
    ) -> RunStats:
        """Process until the source ends, ``max_frames`` are done or ``stop()`` is called.

        ``progress(frames_done, total_or_None, fps)`` is called after each frame. On Ctrl-C every sink is
        aborted and ``KeyboardInterrupt`` re-raised; when the source fails mid-run the sinks are closed
        (recordings finalised) and a ``DeviceError`` raised; on a normal end the sinks are closed.

        While the stylizer works on frame t, a worker thread finishes frame t-1 (smoothing blend, HUD, sinks)
        and then analyses the motion of frame t (``smoother.prepare``), so inference, optical flow and writing
        overlap on the cores. The order of every smoother call is the same as one frame after the other. When
        no next frame is waiting (a live source faster than it delivers), frame t-1 is finished at once rather
        than held back for frame t.
        """
        self._stop.clear()
        if self.smoother is not None and hasattr(self.smoother, "reset"):
            self.smoother.reset()
        split = self.smoother is not None and hasattr(self.smoother, "prepare") and hasattr(self.smoother, "blend")
        q: queue.Queue = queue.Queue(maxsize=self.queue_size)
        reader_stop = threading.Event()
        reader = _Reader(self.source, q, reader_stop)
        total = getattr(self.source, "frame_count", None)
        if max_frames is not None:
            total = min(total, max_frames) if total else max_frames
        stats = RunStats(provider=self._describe("provider"), style=self._describe("style"))
        t0 = time.perf_counter()
        latency_sum = 0.0
        pending: tuple[Any, np.ndarray, np.ndarray, float, float] | None = None  # frame t-1, stylized, not written
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtstyle-post")
        job: Future | None = None

        def finish(p: tuple[Any, np.ndarray, np.ndarray, float, float]) -> None:
            nonlocal latency_sum
            motion, frame, out, t, t_read = p
            if split:
                out = self.smoother.blend(motion, out)
            elif self.smoother is not None:
                out = self.smoother(frame, out)
            latency = time.perf_counter() - t_read
            latency_sum += latency
            stats.frames += 1
            elapsed = time.perf_counter() - t0
            fps = stats.frames / elapsed if elapsed > 0 else 0.0
            self.status = {
                "fps": fps,
                "latency_ms": latency * 1000.0,
                "frames": stats.frames,
                "style": self._describe("style"),
                "provider": self._describe("provider"),
                "smoothing": getattr(self.smoother, "mode", "off" if self.smoother is None else "on"),
            }
            self._write(out, t)
            if progress is not None:
                progress(stats.frames, total, fps)

        def post(p: tuple[Any, np.ndarray, np.ndarray, float, float] | None, frame: np.ndarray) -> Any:
            if p is not None:
                finish(p)
            return self.smoother.prepare(frame) if split else None

        reader.start()
        try:
            started = 0
            while not self._stop.is_set() and (max_frames is None or started < max_frames):
                if pending is not None and q.empty():
                    finish(pending)  # nothing to overlap with: do not hold this frame back
                    pending = None
                    if self._stop.is_set():  # e.g. stop() from the progress callback just called
                        break
                item = q.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    self._source_failed(item)
                frame, t, t_read = item
                started += 1
                job = worker.submit(post, pending, frame)
                pending = None
                out = self.stylizer(frame)
                motion = job.result()
                job = None
                pending = (motion, frame, out, t, t_read)
            if pending is not None and not self._stop.is_set():  # after stop(), the frame in flight is dropped
                finish(pending)
                pending = None
        except KeyboardInterrupt:
            self._settle(job)
            self._finish(ok=False)
            raise
        except _SourceFailure as failure:
            self._settle(job)
            with contextlib.suppress(Exception):
                if pending is not None:
                    finish(pending)  # the last good frame belongs in the finalised recording
            self._finish(ok=True)  # keep what was recorded: finalise the outputs
            raise failure.error from None
        except BaseException:
            self._settle(job)
            self._finish(ok=False)
            raise
        finally:
            worker.shutdown(wait=False)
            reader_stop.set()
            with contextlib.suppress(Exception):
                self.source.close()
            reader.join(timeout=2.0)
        self._finish(ok=True)
        stats.seconds = time.perf_counter() - t0
        stats.fps = stats.frames / stats.seconds if stats.seconds > 0 else 0.0
        stats.mean_latency_ms = 1000.0 * latency_sum / stats.frames if stats.frames else 0.0
        stats.provider = self._describe("provider") or stats.provider
        stats.sink_stats = {s.name: dict(s.stats) for s in self.sinks}
        return stats

    @staticmethod
    def _settle(job: Future | None) -> None:
        """Wait for the worker's current job (so no sink is written while it is being aborted)."""
        if job is not None:
            with contextlib.suppress(BaseException):
                job.result(timeout=30.0)

    def _source_failed(self, exc: BaseException) -> None:
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        if isinstance(exc, RtstyleError):
            raise _SourceFailure(exc)
        desc = getattr(self.source, "description", "") or type(self.source).__name__
        raise _SourceFailure(DeviceError(f"the source ({desc}) failed mid-run: {' '.join(str(exc).split())}"))


class _SourceFailure(Exception):
    def __init__(self, error: RtstyleError) -> None:
        super().__init__(str(error))
        self.error = error
