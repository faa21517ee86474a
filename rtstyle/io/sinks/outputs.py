"""The live outputs a command asks for (virtual camera, MJPEG over HTTP, push): :class:`StreamOptions`,
:func:`make_output_sinks`, which opens them as :class:`rtstyle.io.sinks.base.Sink`s, and :class:`Guarded`, which
keeps one failing output from ending a live session: it is reported once and dropped, and a push is reopened
with backoff (1 s, 2 s, 4 s ... up to 30 s) while the recording and the other outputs keep running
(:func:`open_live_outputs` does both)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rtstyle.errors import notice
from rtstyle.io.sinks.base import Sink
from rtstyle.io.sinks.mjpeg import DEFAULT_MAX_CLIENTS, MjpegServerSink
from rtstyle.io.sinks.push import PushSink
from rtstyle.io.sinks.vcam import VirtualCamSink

DEFAULT_FPS = 30.0


@dataclass
class StreamOptions:
    """What a command asks of the live outputs (filled from CLI flags)."""

    virtual_cam: bool = False
    vcam_size: tuple[int, int] | None = None  # (width, height); None: the stream's size
    vcam_fps: float | None = None  # None: the stream's frame rate
    vcam_backend: str | None = None  # pyvirtualcam backend name; None: the platform default
    vcam_device: str | None = None  # e.g. /dev/video10; None: the first free virtual camera
    serve: str | None = None  # "[HOST:]PORT"; host defaults to 127.0.0.1
    jpeg_quality: int = 80
    serve_fps: float | None = None  # cap on frames sent to HTTP viewers
    serve_max_clients: int = DEFAULT_MAX_CLIENTS  # viewers at once; more get HTTP 503
    push: str | None = None  # rtmp://, srt://, any URL FFmpeg (PyAV) takes
    push_audio: str | None = None  # None: silent track; "none": no audio; else an FFmpeg audio input device "FMT:INPUT"
    push_bitrate: str | None = None  # video bitrate for --push, e.g. "2500k"; None: from size and fps
    push_format: str | None = None  # FFmpeg muxer for --push; None: from the URL scheme
    hud_on_output: bool = False

    @property
    def any(self) -> bool:
        return bool(self.virtual_cam or self.serve or self.push)


def make_output_sinks(options: StreamOptions, size: tuple[int, int], fps: float) -> list[Sink]:
    """Open the live outputs that ``options`` asks for, for a stream of ``size`` (width, height) at ``fps``.

    Raises an :class:`rtstyle.errors.RtstyleError` (and closes what it already opened) when one cannot start.
    """
    fps = float(fps) if fps and fps > 0 else DEFAULT_FPS
    sinks: list[Sink] = []
    try:
        if options.virtual_cam:
            sinks.append(
                VirtualCamSink(
                    options.vcam_size or size,
                    options.vcam_fps or fps,
                    backend=options.vcam_backend,
                    device=options.vcam_device,
                    wants_hud=options.hud_on_output,
                )
            )
        if options.serve:
            sinks.append(
                MjpegServerSink(
                    options.serve,
                    jpeg_quality=options.jpeg_quality,
                    serve_fps=options.serve_fps,
                    max_clients=options.serve_max_clients,
                    wants_hud=options.hud_on_output,
                )
            )
        if options.push:
            sinks.append(open_push(options, size, fps))
    except BaseException:
        for s in sinks:
            try:
                s.abort()
            except Exception:
                pass
        raise
    return sinks


def open_push(options: StreamOptions, size: tuple[int, int], fps: float) -> PushSink:
    """The ``--push`` output of ``options`` (a new connection and encoder each call: how a dropped stream is reopened)."""
    return PushSink(
        options.push or "",
        size,
        float(fps) if fps and fps > 0 else DEFAULT_FPS,
        audio=options.push_audio,
        bitrate=options.push_bitrate,
        fmt=options.push_format,
        wants_hud=options.hud_on_output,
    )


def describe(sink: Sink) -> str:
    """``push rtmp://host/app/***``: the sink's name and where it goes (stream keys redacted)."""
    for attr in ("safe_url", "url", "device", "path"):
        where = getattr(sink, attr, None)
        if where is not None and str(where):
            return f"{sink.name} {where}"
    return str(sink.name)


class Guarded(Sink):
    """A live output whose failure does not end the session.

    The first failure (in ``write`` or ``close``) is reported once through ``say``; the output is then dropped, or,
    with ``reopen``, reopened in the background after ``backoff[0]`` seconds. A reopened output that fails again
    (the server is still away) is reopened after twice as long, up to ``backoff[1]``, without another word; once
    one has taken frames for ``settle`` seconds, ``say`` tells that it works again and the backoff starts over.
    Frames that arrive while it is down are counted in ``stats["lost"]``.
    """

    def __init__(
        self,
        sink: Sink,
        reopen: Callable[[], Sink] | None = None,
        *,
        say: Callable[[str], None] = notice,
        backoff: tuple[float, float] = (1.0, 30.0),
        settle: float = 5.0,
    ) -> None:
        self.sink: Sink | None = sink
        self.name = sink.name
        self.wants_hud = sink.wants_hud
        self.label = describe(sink)
        self._reopen = reopen
        self._say = say
        self._backoff = backoff
        self._delay = backoff[0]  # the wait before the next reopening
        self._settle = settle
        self._opened_at: float | None = None  # when a reopened output came up (None: not on trial)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._retry: threading.Thread | None = None
        self.failures = 0
        self.reopened = 0
        self.lost = 0

    def __getattr__(self, name: str) -> object:  # url, safe_url, description, ... of the output itself
        sink = self.__dict__.get("sink")
        if sink is None:
            raise AttributeError(name)
        return getattr(sink, name)

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        sink = self.sink
        if sink is None:
            self.lost += 1
            return
        try:
            sink.write(frame, timestamp)
        except Exception as exc:  # noqa: BLE001 - any failure of this output is this output's alone
            self._failed(sink, exc)
            return
        if self._opened_at is not None and time.monotonic() - self._opened_at >= self._settle:
            self._opened_at = None
            self._delay = self._backoff[0]
            self._say(f"{self.label} works again")

    def _failed(self, sink: Sink, exc: BaseException) -> None:
        with self._lock:
            if self.sink is not sink:
                return
            self.sink = None
            self.failures += 1
            first = self.failures == 1
            self._opened_at = None
        with contextlib.suppress(Exception):
            sink.abort()
        retry = self._reopen is not None and not self._stop.is_set()
        if first:
            then = f"retrying in {self._delay:g} s" if retry else "dropped"
            what = str(exc) if " failed" in str(exc) else f"{self.label} failed: {exc}"  # push/vcam name themselves
            self._say(f"{what}; {then}, the other outputs keep running")
        if retry:
            self._retry = threading.Thread(target=self._reopen_loop, name="rtstyle-output-retry", daemon=True)
            self._retry.start()

    def _reopen_loop(self) -> None:
        assert self._reopen is not None
        while True:
            delay = self._delay
            self._delay = min(delay * 2, self._backoff[1])  # the next wait, unless this one settles
            if self._stop.wait(delay):
                return
            try:
                sink = self._reopen()
            except Exception:  # noqa: BLE001 - still down: try again later
                continue
            with self._lock:
                if self._stop.is_set():
                    sink.abort()
                    return
                self.sink = sink
                self.reopened += 1
                self._opened_at = time.monotonic()
            return

    def _end(self, finish: bool) -> None:
        self._stop.set()
        if self._retry is not None:
            self._retry.join(timeout=10)
        with self._lock:
            sink, self.sink = self.sink, None
        if sink is None:
            return
        try:
            sink.close() if finish else sink.abort()
        except Exception as exc:  # noqa: BLE001 - reported, not raised: the session's other outputs are fine
            if self.failures == 0:
                self._say(f"{self.label} failed while closing ({exc})")
            self.failures += 1

    def close(self) -> None:
        self._end(finish=True)

    def abort(self) -> None:
        self._end(finish=False)

    @property
    def stats(self) -> dict[str, float]:
        sink = self.sink
        out = dict(sink.stats) if sink is not None else {}
        out.update(failures=float(self.failures), reopened=float(self.reopened), lost=float(self.lost))
        return out


def open_live_outputs(
    options: StreamOptions,
    size: tuple[int, int],
    fps: float,
    *,
    say: Callable[[str], None] = notice,
    backoff: tuple[float, float] = (1.0, 30.0),
    settle: float = 5.0,
) -> list[Sink]:
    """:func:`make_output_sinks`, each output :class:`Guarded` (a push reopened with backoff, the others dropped
    when they fail): what a live session runs, so one output never takes the recording or the others down."""
    sinks = make_output_sinks(options, size, fps)
    return [
        Guarded(
            s,
            (lambda: open_push(options, size, fps)) if isinstance(s, PushSink) else None,
            say=say,
            backoff=backoff,
            settle=settle,
        )
        for s in sinks
    ]
