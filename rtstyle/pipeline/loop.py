"""source -> stylize -> smooth -> sinks: the one frame loop of rtstyle.

``Pipeline.frames()`` yields each finished frame on the caller's thread (``rtstyle video``, ``rtstyle demo`` and
``rtstyle webcam`` all run on it; the webcam shows the window between two frames and changes style, strength,
mirror and smoothing through the ``before`` hook); ``Pipeline.run()`` only consumes it. Decoding is overlapped
with inference, and the smoother's motion analysis, the blend and the sinks run beside the network, here and
nowhere else (sinks encode in their own threads).

Interfaces used here:
  source:   ``rtstyle.io.sources.Source`` (``read() -> (frame, t) | None``, ``close()``)
  stylizer: any callable ``frame -> frame`` (``rtstyle.runtime.stylizer.Stylizer``; its ``provider``/``style`` are reported)
  smoother: ``reset()`` and ``smoother(input_frame, stylized_frame) -> frame`` (``rtstyle.pipeline.smoothing.Smoother``);
            when it has ``prepare(frame) -> motion`` and ``blend(motion, stylized) -> frame``, the motion
            analysis runs in the worker thread beside inference
  sinks:    ``rtstyle.io.sinks.base.Sink`` (``write(frame, t)``, ``close()``, ``abort()``, ``wants_hud``)
  hud:      ``hud(frame, status: dict) -> frame`` draws on a copy for sinks with ``wants_hud``;
            status keys: fps, latency_ms, frames, style, provider, smoothing.
  before:   ``before(frame) -> frame``, called on the caller's thread with each frame just before it is
            stylized: the place for live changes (switch style, strength, smoothing mode; mirror the frame).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtstyle.errors import DeviceError, RtstyleError
from rtstyle.io.sinks.base import Sink
from rtstyle.io.sources import Source
from rtstyle.signals import raise_if_stopped

_END = object()


class Latencies:
    """Per-frame latencies of a run, for their percentiles: every sample up to ``keep``, then a uniform random
    sample of that size (reservoir sampling), so an hours-long session holds a bounded list."""

    def __init__(self, keep: int = 20000) -> None:
        self.keep, self.count = keep, 0
        self.samples: list[float] = []
        self._rng = np.random.default_rng(0)

    def add(self, seconds: float) -> None:
        self.count += 1
        if len(self.samples) < self.keep:
            self.samples.append(seconds)
        else:
            i = int(self._rng.integers(0, self.count))
            if i < self.keep:
                self.samples[i] = seconds

    def percentile_ms(self, q: float) -> float:
        """The ``q``-th percentile (0..100) in milliseconds; 0 before the first sample."""
        return float(np.percentile(self.samples, q)) * 1000.0 if self.samples else 0.0


@dataclass
class RunStats:
    """Summary of one run. Latency: from reading a frame off the source to its finished (stylized and smoothed)
    output being handed to the outputs."""

    frames: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    provider: str = ""
    style: str = ""
    mean_latency_ms: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    sink_stats: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary(self) -> str:
        line = f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps) on {self.provider or 'unknown'}"
        return line + (f", {self.latency_text()}" if self.frames else "")

    def latency_text(self) -> str:
        return f"latency p50 {self.latency_p50_ms:.0f} ms, p95 {self.latency_p95_ms:.0f} ms"


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


@dataclass
class Finished:
    """One finished frame, as :meth:`Pipeline.frames` yields it (already written to the sinks)."""

    frames: int  # frames finished so far, this one included
    total: int | None  # frames expected (source length or max_frames), None when unknown
    input: np.ndarray  # the frame the stylizer saw (after ``before``)
    output: np.ndarray  # stylized and smoothed: what the sinks without HUD got
    hud: np.ndarray | None  # what the sinks with ``wants_hud`` got, when a HUD was drawn
    timestamp: float  # the source's timestamp (seconds)
    latency: float  # seconds from read to finished
    fps: float  # frames finished per second since the start


class Pipeline:
    """Run frames from a source through a stylizer (and optional smoother) into sinks.

    ``live`` (default: the source's ``is_live``) is for a camera or a stream seen by a person: the newest frame
    is read when the stylizer is ready for it (no read-ahead) and each frame is finished as soon as it is
    stylized (lowest latency). Otherwise (a file) frames are read ahead and frame t-1 is finished while frame t
    is stylized (highest throughput). ``keep_on_interrupt``: Ctrl-C closes the sinks normally (a live recording
    keeps what it has) instead of aborting them.
    """

    def __init__(
        self,
        source: Source,
        stylizer: Callable[[np.ndarray], np.ndarray],
        smoother: Any = None,
        sinks: Sequence[Sink] = (),
        hud: Callable[[np.ndarray, dict[str, Any]], np.ndarray] | None = None,
        queue_size: int = 4,
        *,
        live: bool | None = None,
        keep_on_interrupt: bool = False,
    ) -> None:
        self.source = source
        self.stylizer = stylizer
        self.smoother = smoother
        self.sinks = list(sinks)
        self.hud = hud
        self.queue_size = max(1, queue_size)
        self.live = bool(getattr(source, "is_live", False)) if live is None else bool(live)
        self.keep_on_interrupt = keep_on_interrupt
        self._stop = threading.Event()
        self.status: dict[str, Any] = {}
        self.stats = RunStats()
        self.end: str | None = None  # why frames() ended: "source", "stop" or "max_frames"
        self.source_error: RtstyleError | None = None  # the error a failing source raised, when it did
        self.close_errors: list[str] = []  # sinks that failed to close (finalise) at the end

    def stop(self) -> None:
        """Ask a running loop to finish after the current frame (thread-safe; e.g. a quit hotkey)."""
        self._stop.set()

    def _describe(self, key: str) -> str:
        return str(getattr(self.stylizer, key, "") or "")

    def _write(self, frame: np.ndarray, t: float) -> np.ndarray | None:
        hud_frame = None
        for sink in self.sinks:
            if sink.wants_hud and self.hud is not None:
                if hud_frame is None:
                    hud_frame = self.hud(frame.copy(), dict(self.status))
                sink.write(hud_frame, t)
            else:
                sink.write(frame, t)
        return hud_frame

    def _finish(self, ok: bool) -> None:
        for sink in self.sinks:
            try:
                if ok:
                    sink.close()
                else:
                    sink.abort()
            except Exception as exc:  # noqa: BLE001 - reported through close_errors, the other sinks still close
                if ok:
                    self.close_errors.append(str(exc) or type(exc).__name__)

    def run(
        self,
        progress: Callable[[int, int | None, float], None] | None = None,
        max_frames: int | None = None,
    ) -> RunStats:
        """Process until the source ends, ``max_frames`` are done or ``stop()`` is called: :meth:`frames`, consumed.

        ``progress(frames_done, total_or_None, fps)`` is called after each frame.
        """
        frames = self.frames(max_frames=max_frames)
        for done in frames:
            if progress is None:
                continue
            try:
                progress(done.frames, done.total, done.fps)
            except BaseException as exc:  # wind the loop down as if it had raised there
                frames.throw(exc)
        return self.stats

    def frames(
        self,
        max_frames: int | None = None,
        before: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> Iterator[Finished]:
        """Yield each finished frame (already written to the sinks) on the caller's thread.

        Ends when the source ends, ``max_frames`` are done or ``stop()`` is called (``self.end`` says which);
        then the sinks are closed and ``self.stats`` holds the run's summary. On Ctrl-C every sink is aborted
        (closed with ``keep_on_interrupt``) and ``KeyboardInterrupt`` re-raised; when the source fails mid-run the
        sinks are closed (recordings finalised) and a ``DeviceError`` (or the source's own ``RtstyleError``)
        raised; any other error aborts the sinks. A consumer that stops iterating early (``break``, or
        ``close()`` on the generator) gets the sinks closed as after ``stop()``; one that wants them aborted on its
        own error throws it in (``frames.throw(exc)``), as :meth:`run` does.

        While the stylizer works on frame t, a worker thread finishes frame t-1 (smoothing blend, HUD, sinks)
        and then analyses the motion of frame t (``smoother.prepare``), so inference, optical flow and writing
        overlap on the cores. The order of every smoother call is the same as one frame after the other. When
        no next frame is waiting (a live source, or one faster than it delivers), frame t-1 is finished at once
        rather than held back for frame t.

        A stylizer with ``lanes`` > 1 (``Stylizer(lanes=2)``: ``rtstyle webcam``'s CPU default) gets up to that
        many frames at once, each on a thread of its own; they are finished in order on this thread, each as soon
        as it is stylized, and the worker analyses each frame's motion while the frames are in the lanes.
        """
        self._stop.clear()
        self.end = None
        self.source_error = None
        self.close_errors = []
        if self.smoother is not None and hasattr(self.smoother, "reset"):
            self.smoother.reset()
        split = self.smoother is not None and hasattr(self.smoother, "prepare") and hasattr(self.smoother, "blend")
        q: queue.Queue = queue.Queue(maxsize=self.queue_size)
        reader_stop = threading.Event()
        reader = None if self.live else _Reader(self.source, q, reader_stop)
        total = getattr(self.source, "frame_count", None)
        if max_frames is not None:
            total = min(total, max_frames) if total else max_frames
        stats = self.stats = RunStats(provider=self._describe("provider"), style=self._describe("style"))
        t0 = time.perf_counter()
        latency_sum = 0.0
        latencies = Latencies()
        pending: tuple[Any, np.ndarray, np.ndarray, float, float] | None = None  # frame t-1, stylized, not written
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtstyle-post")
        job: Future | None = None

        def finish(p: tuple[Any, np.ndarray, np.ndarray, float, float]) -> Finished:
            nonlocal latency_sum
            motion, frame, out, t, t_read = p
            if split:
                out = self.smoother.blend(motion, out)
            elif self.smoother is not None:
                out = self.smoother(frame, out)
            latency = time.perf_counter() - t_read
            latency_sum += latency
            latencies.add(latency)
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
            hud_frame = self._write(out, t)
            return Finished(stats.frames, total, frame, out, hud_frame, t, latency, fps)

        def post(p: tuple[Any, np.ndarray, np.ndarray, float, float] | None, frame: np.ndarray) -> Any:
            done = finish(p) if p is not None else None
            return done, (self.smoother.prepare(frame) if split else None)

        def next_item() -> Any:
            if reader is not None:
                return q.get()
            try:
                item = self.source.read()
            except BaseException as exc:  # the same path as an error handed over by the reader thread
                return exc
            return _END if item is None else (item[0], item[1], time.perf_counter())

        lanes = max(1, int(getattr(self.stylizer, "lanes", 1) or 1))
        pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="rtstyle-lane") if lanes > 1 else None
        inflight: deque[_InFlight] = deque()  # lanes > 1: the frames being stylized, oldest first
        started = 0

        def read() -> tuple[np.ndarray, float, float] | None:
            """The next frame (after ``before``), or None at the source's end (``self.end`` set)."""
            nonlocal started
            item = next_item()
            if item is _END:
                self.end = "source"
                return None
            if isinstance(item, BaseException):
                self._source_failed(item)
            frame, t, t_read = item
            started += 1
            return (before(frame) if before is not None else frame), t, t_read

        def one_lane() -> Iterator[Finished]:
            """One frame in the stylizer (on this thread) while the worker finishes the one before it."""
            nonlocal pending, job
            while True:
                raise_if_stopped()  # a stop signal whose raise something swallowed still ends the run here
                if self._stop.is_set():
                    self.end = "stop"
                    break
                if max_frames is not None and started >= max_frames:
                    self.end = "max_frames"
                    break
                if pending is not None and (reader is None or q.empty()):
                    p, pending = pending, None
                    yield finish(p)  # nothing to overlap with: do not hold this frame back
                    continue  # (stop() may have been called meanwhile)
                got = read()
                if got is None:
                    break
                frame, t, t_read = got
                job = worker.submit(post, pending, frame)
                pending = None
                out = self.stylizer(frame)
                done, motion = job.result()
                job = None
                pending = (motion, frame, out, t, t_read)
                if done is not None:
                    yield done
            if pending is not None and self.end != "stop":  # after stop(), the frame in flight is dropped
                p, pending = pending, None
                yield finish(p)

        def many_lanes() -> Iterator[Finished]:
            """Up to ``lanes`` frames in the stylizer at once (the pool's threads), finished here in order; the
            worker analyses each frame's motion as it comes in. A new frame is read while a lane is free and the
            oldest frame is still being stylized, else the oldest is finished first."""
            assert pool is not None
            while True:
                raise_if_stopped()
                if self._stop.is_set():
                    self.end = "stop"  # the frames in flight are dropped
                    self._settle(None, inflight)
                    return
                more = self.end is None and (max_frames is None or started < max_frames)
                if more and len(inflight) < lanes and not (inflight and inflight[0].out.done()):
                    got = read()
                    if got is not None:
                        frame, t, t_read = got
                        motion = worker.submit(self.smoother.prepare, frame) if split else None
                        inflight.append(_InFlight(pool.submit(self.stylizer, frame), motion, frame, t, t_read))
                    continue
                if not inflight:
                    self.end = self.end or "max_frames"
                    return
                yield finish(inflight.popleft().result())

        def finish_inflight() -> None:
            """Write the frames still in the lanes, in order, up to the first that failed."""
            with contextlib.suppress(Exception):
                while inflight:
                    finish(inflight.popleft().result())

        if reader is not None:
            reader.start()
        try:
            yield from (many_lanes() if pool is not None else one_lane())
        except GeneratorExit:  # the consumer stopped iterating: like stop()
            self._settle(job, inflight)
            self.end = self.end or "stop"
            self._finish(ok=True)
            stats.sink_stats = {s.name: dict(s.stats) for s in self.sinks}
            raise
        except KeyboardInterrupt:
            self._settle(job, inflight)
            if self.keep_on_interrupt:
                finish_inflight()  # what the camera showed before Ctrl-C, as with one lane
            self._finish(ok=self.keep_on_interrupt)
            raise
        except _SourceFailure as failure:
            self._settle(job, inflight)
            self.source_error = failure.error
            with contextlib.suppress(Exception):
                if pending is not None:
                    finish(pending)  # the last good frame belongs in the finalised recording
            finish_inflight()
            self._finish(ok=True)  # keep what was recorded: finalise the outputs
            raise failure.error from None
        except BaseException:
            self._settle(job, inflight)
            self._finish(ok=False)
            raise
        finally:
            worker.shutdown(wait=False)
            if pool is not None:
                pool.shutdown(wait=False)
            reader_stop.set()
            with contextlib.suppress(Exception):
                self.source.close()
            if reader is not None:
                reader.join(timeout=2.0)
            stats.seconds = time.perf_counter() - t0
            stats.fps = stats.frames / stats.seconds if stats.seconds > 0 else 0.0
            stats.mean_latency_ms = 1000.0 * latency_sum / stats.frames if stats.frames else 0.0
            stats.latency_p50_ms, stats.latency_p95_ms = latencies.percentile_ms(50), latencies.percentile_ms(95)
            stats.provider = self._describe("provider") or stats.provider
        self._finish(ok=True)
        stats.sink_stats = {s.name: dict(s.stats) for s in self.sinks}

    @staticmethod
    def _settle(job: Future | None, inflight: Sequence[_InFlight] = ()) -> None:
        """Wait for the worker's current job (so no sink is written while it is being aborted) and for the
        frames in flight (so no lane runs the stylizer after the loop has ended)."""
        futures = [job] if job is not None else []
        for f in inflight:
            futures += [f.out] + ([f.motion] if f.motion is not None else [])
        for future in futures:
            with contextlib.suppress(BaseException):
                future.result(timeout=30.0)

    def _source_failed(self, exc: BaseException) -> None:
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        if isinstance(exc, RtstyleError):
            raise _SourceFailure(exc)
        desc = getattr(self.source, "description", "") or type(self.source).__name__
        raise _SourceFailure(DeviceError(f"the source ({desc}) failed mid-run: {' '.join(str(exc).split())}"))


@dataclass
class _InFlight:
    """A frame in one of the stylizer's lanes (``Pipeline.frames`` with ``lanes`` > 1)."""

    out: Future  # the stylized frame
    motion: Future | None  # the smoother's motion analysis of the frame, when it has one
    frame: np.ndarray
    t: float
    t_read: float

    def result(self) -> tuple[Any, np.ndarray, np.ndarray, float, float]:
        """What ``finish`` takes: (motion, frame, stylized, timestamp, read time); the stylizer's error raised."""
        out = self.out.result()
        return (self.motion.result() if self.motion is not None else None), self.frame, out, self.t, self.t_read


class _SourceFailure(Exception):
    def __init__(self, error: RtstyleError) -> None:
        super().__init__(str(error))
        self.error = error
