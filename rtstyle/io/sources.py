"""Frame sources: camera, video file, URL. Each yields uint8 BGR frames with their timestamps."""

from __future__ import annotations

import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from rtstyle.adjust import to_bgr
from rtstyle.errors import DeviceError, InputError, InputNotFound
from rtstyle.io.decode import Decoder
from rtstyle.io.probe import probe


class Source(ABC):
    """A stream of frames.

    ``read()`` returns ``(frame, timestamp)`` with ``frame`` a uint8 BGR ``HxWx3`` array (already rotated
    upright and with square pixels) and ``timestamp`` in seconds from the start of the stream, or ``None``
    at the end. Live sources (cameras, URLs) return the newest frame and drop older ones.

    A source is iterable: ``for frame in source`` gives the frames, ``for frame, t in source.timed()`` the
    frames with their timestamps, each until the end (a camera's: until it is lost or closed). ``with`` closes it.
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

    def timed(self) -> Iterator[tuple[np.ndarray, float]]:
        """``(frame, timestamp)`` for each frame until the end (``read()`` in a loop)."""
        while True:
            item = self.read()
            if item is None:
                return
            yield item

    def __iter__(self) -> Iterator[np.ndarray]:
        """Each frame (uint8 BGR ``HxWx3``) until the end; :meth:`timed` gives the timestamps too."""
        for frame, _ in self.timed():
            yield frame

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------- implementations

_URL_SCHEMES = ("http", "https", "rtsp", "rtsps", "rtmp", "rtmps", "srt", "udp", "tcp", "rtp", "file", "hls")
_LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "srt", "udp", "tcp", "rtp")


class FileSource(Source):
    """A video file decoded by ffmpeg: upright, square pixels, every frame with its presentation time.

    Decoding runs in ffmpeg plus a reader thread with a small queue, so it overlaps inference.
    ``realtime=True`` plays the file at its own pace (``read`` waits until a frame is due and skips frames that
    are already late, like a live source); otherwise frames come as fast as they are asked for. ``loop=True``
    starts again at the end, for ever (a file standing in for a camera): timestamps keep increasing across loops,
    ``frame_count`` is None and ``loops`` counts the restarts.
    """

    def __init__(
        self, path: str | os.PathLike, realtime: bool = False, queue_size: int = 4, loop: bool = False
    ) -> None:
        self.path = Path(path)
        self.info = probe(self.path)
        self._queue_size = queue_size
        self._decoder = self._open_decoder()
        self.width, self.height = self._decoder.width, self._decoder.height
        self.fps = self.info.fps
        self.loop = loop
        self.loops = 0
        self._offset = 0.0  # added to the decoder's timestamps: the length of the loops played so far
        self._last_t = 0.0
        self.frame_count = None if loop else self.info.frame_count
        self.is_live = False
        self.realtime = realtime
        self.lost = False
        self.frames_skipped = 0
        self._t0: float | None = None
        looped = ", looped" if loop else ""
        self.description = f"{self.path.name} ({self.width}x{self.height}, {self.fps:g} fps{looped})"

    def _open_decoder(self) -> Decoder:
        return Decoder(str(self.path), queue_size=self._queue_size, label=str(self.path))

    def _next(self) -> tuple[np.ndarray, float] | None:
        item = self._decoder.read()
        if item is None and self.loop and self._decoder.frames_decoded > 0:
            self._decoder.close()
            self._decoder = self._open_decoder()
            self.loops += 1
            self._offset = self._last_t + (1.0 / self.fps if self.fps > 0 else 0.04)
            item = self._decoder.read()
        if item is None:
            return None
        t = item[1] + self._offset
        self._last_t = t
        return item[0], t

    def read(self) -> tuple[np.ndarray, float] | None:
        item = self._next()
        if item is None or not self.realtime:
            return item
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now - item[1]
        late = max(2.0 / self.fps, 0.05) if self.fps > 0 else 0.1
        while now - self._t0 > item[1] + late:  # behind: skip to a frame that is not yet late
            nxt = self._next()
            if nxt is None:
                return item
            item = nxt
            self.frames_skipped += 1
            now = time.monotonic()
        wait = self._t0 + item[1] - now
        if wait > 0:
            time.sleep(wait)
        return item

    def close(self) -> None:
        self._decoder.close()


class CameraSource(Source):
    """A camera through OpenCV. A capture thread keeps only the newest frame; timestamps are wall-clock seconds.

    Raises DeviceError when the camera cannot be opened or delivers no first frame. When reads keep failing
    mid-run (unplugged), ``read`` returns None and ``lost`` is True.
    """

    def __init__(
        self,
        index: int | str = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        mjpg: bool = False,
        lost_after: float = 2.0,
        first_frame_timeout: float = 5.0,
    ) -> None:
        self.index = index
        self.is_live = True
        self.frame_count = None
        self.lost = False
        self.frames_dropped = 0
        self.lost_after = lost_after
        node = f"/dev/video{index}" if isinstance(index, int) else str(index)
        if sys.platform.startswith("linux") and node.startswith("/dev/") and not os.path.exists(node):
            raise DeviceError(f"camera {index} cannot be opened: {node} does not exist (no camera attached?)")
        self._cap = cv2.VideoCapture(index)
        if self._cap is None or not self._cap.isOpened():
            raise DeviceError(f"camera {index} cannot be opened (absent, busy, or no permission)")
        if mjpg:
            self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, float(width))
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, float(height))
        if fps:
            self._cap.set(cv2.CAP_PROP_FPS, float(fps))
        deadline = time.monotonic() + first_frame_timeout
        first = None
        while first is None and time.monotonic() < deadline:
            ok, frame = self._cap.read()
            if ok and frame is not None and frame.size:
                first = frame
            else:
                time.sleep(0.02)
        if first is None:
            self._cap.release()
            raise DeviceError(f"camera {index} opened but delivered no frame")
        self._t0 = time.monotonic()
        self.height, self.width = first.shape[:2]
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not (0 < self.fps < 1000):
            self.fps = float(fps or 0.0)
        self.description = f"camera {index} ({self.width}x{self.height}, {self.fps:g} fps)"
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, float] | None = (_bgr(first), 0.0)
        self._seq = 1
        self._taken = 0
        self._running = True
        self._thread = threading.Thread(target=self._capture, name="rtstyle-camera", daemon=True)
        self._thread.start()

    def _capture(self) -> None:
        last_ok = time.monotonic()
        while self._running:
            try:
                ok, frame = self._cap.read()
            except Exception:  # noqa: BLE001 - a driver error is a lost camera
                ok, frame = False, None
            now = time.monotonic()
            if ok and frame is not None and frame.size:
                last_ok = now
                with self._cond:
                    self._latest = (_bgr(frame), now - self._t0)
                    self._seq += 1
                    self._cond.notify_all()
            elif now - last_ok > self.lost_after:
                self.lost = True
                break
            else:
                time.sleep(0.01)
        with self._cond:
            self._running = False
            self._cond.notify_all()

    def read(self) -> tuple[np.ndarray, float] | None:
        with self._cond:
            while self._seq == self._taken and self._running:
                self._cond.wait(timeout=0.5)
            if self._seq == self._taken:
                return None
            self.frames_dropped += max(0, self._seq - self._taken - 1)
            self._taken = self._seq
            return self._latest

    def close(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._cap.release()


class UrlSource(Source):
    """A network stream (http, rtsp, rtmp, srt, udp, ...) decoded by ffmpeg; only the newest frame is kept and
    timestamps are wall-clock seconds since the first frame. ``lost`` is True when the stream broke off."""

    def __init__(self, url: str, open_timeout: float = 20.0) -> None:
        self.url = url
        scheme = url.split("://", 1)[0].lower() if "://" in url else url.split(":", 1)[0].lower()
        args: tuple[str, ...] = ()
        if scheme in _LIVE_SCHEMES:  # low latency; not for http/file (nobuffer breaks MP4 demuxing)
            args += ("-fflags", "nobuffer", "-flags", "low_delay")
        if scheme in ("rtsp", "rtsps"):
            args += ("-rtsp_transport", "tcp")
        self._decoder = Decoder(url, latest_only=True, input_args=args, open_timeout=open_timeout, label=url)
        self.width, self.height = self._decoder.width, self._decoder.height
        self.fps = 0.0
        self.frame_count = None
        self.is_live = True
        self.lost = False
        self._t0: float | None = None
        self.description = f"{url} ({self.width}x{self.height})"

    def read(self) -> tuple[np.ndarray, float] | None:
        item = self._decoder.read()
        if item is None:
            self.lost = self._decoder.error is not None or self._decoder.frames_decoded == 0
            return None
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        return item[0], now - self._t0

    @property
    def frames_dropped(self) -> int:
        return self._decoder.frames_dropped

    def close(self) -> None:
        self._decoder.close()


class Prepended(Source):
    """``source`` with ``first``, an item already read from it (to learn the frame size), put back in front."""

    def __init__(self, first: tuple[np.ndarray, float], source: Source) -> None:
        self._first: tuple[np.ndarray, float] | None = first
        self.source = source
        self.width, self.height = int(first[0].shape[1]), int(first[0].shape[0])
        # duck-typed sources (tests, tools) may lack the optional attributes
        self.fps = getattr(source, "fps", 0.0)
        self.frame_count = getattr(source, "frame_count", None)
        self.is_live = getattr(source, "is_live", False)
        self.description = getattr(source, "description", "")

    def read(self) -> tuple[np.ndarray, float] | None:
        if self._first is not None:
            item, self._first = self._first, None
            return item
        return self.source.read()

    def close(self) -> None:
        self.source.close()


def _bgr(frame: np.ndarray) -> np.ndarray:
    """Camera frames as uint8 BGR HxWx3 (some drivers give gray or BGRA)."""
    return to_bgr(frame)[0]


def camera_spec(text: str) -> int | str:
    """``"0"`` -> camera index 0; anything else (file, URL, /dev/video2) stays a string."""
    text = text.strip()
    return int(text) if text.isdigit() else text


def is_camera(spec: int | str) -> bool:
    """True for a camera index or a ``/dev/videoN`` node (not a file or URL)."""
    return isinstance(spec, int) or str(spec).startswith("/dev/video")


def is_url(spec: str) -> bool:
    """True for ``scheme://...`` with a scheme ffmpeg can read."""
    if "://" not in spec:
        return False
    return spec.split("://", 1)[0].lower() in _URL_SCHEMES


def _is_file_spec(spec: int | str | os.PathLike) -> bool:
    text = str(spec).strip()
    return not (isinstance(spec, int) or text.lstrip("-").isdigit() or is_url(text) or text.startswith("/dev/video"))


def open_source(
    spec: int | str | os.PathLike,
    realtime: bool = False,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    mjpg: bool = False,
    loop: bool = False,
) -> Source:
    """Open a camera (an index such as ``0``, or ``/dev/videoN``), a video file (an existing path) or a URL.

    ``realtime`` and ``loop`` apply to files (play at their own pace; start again at the end);
    ``width``/``height``/``fps``/``mjpg`` to cameras. Anything else is an InputError naming what was tried.
    """
    if loop and not _is_file_spec(spec):
        raise InputError(f"--loop plays a file again and again; {spec} is a camera or a stream")
    if isinstance(spec, int):
        return CameraSource(spec, width=width, height=height, fps=fps, mjpg=mjpg)
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        return CameraSource(int(text), width=width, height=height, fps=fps, mjpg=mjpg)
    if is_url(text):
        return UrlSource(text)
    path = Path(text).expanduser()
    if text.startswith("/dev/video"):
        return CameraSource(text, width=width, height=height, fps=fps, mjpg=mjpg)
    if path.exists():
        return FileSource(path, realtime=realtime, loop=loop)
    if "://" in text:
        raise InputError(f"{text}: unsupported URL scheme (use one of {', '.join(_URL_SCHEMES)})")
    raise InputNotFound(f"{text}: no such file, camera index or URL")
