"""Decoding with PyAV: a file or URL into upright, square-pixel BGR frames, each with its presentation time.

Every frame carries its own ``pts`` (variable frame rate is kept as it is: no duplicates, no drops). The display
matrix turns frames upright (``frame.rotation``) and non-square pixels are stretched to square ones (even width)
in the same swscale pass that converts to BGR. Timestamps count from the input's start time, as ffmpeg's own
output does (``-ss`` in ``input_args``: from the seek point).
"""

from __future__ import annotations

import queue
import threading
from fractions import Fraction

import av
import numpy as np

from rtstyle.errors import InputError
from rtstyle.io.ffmpeg import av_reason, first_video_stream, open_input
from rtstyle.io.probe import square_size

_END = object()


def parse_input_args(args: tuple[str, ...] | list[str]) -> tuple[dict[str, str], float]:
    """ffmpeg-style input options (``-fflags nobuffer -rtsp_transport tcp -ss 2.5``) as PyAV demuxer options and
    a seek position in seconds."""
    options: dict[str, str] = {}
    seek = 0.0
    items = list(args)
    i = 0
    while i < len(items):
        key = items[i].lstrip("-")
        value = items[i + 1] if i + 1 < len(items) else "1"
        i += 2
        if key == "ss":
            try:
                seek = max(0.0, float(value))
            except ValueError:
                raise InputError(f"bad seek position {value!r}") from None
        else:
            options[key] = value
    return options, seek


class Decoder:
    """PyAV decoding ``url`` to upright, square-pixel BGR frames with presentation timestamps, in a thread.

    The decoding thread fills a small queue so decoding overlaps whatever the caller does with a frame.
    ``latest_only`` keeps just the newest frame (live streams: a slow consumer gets fresh frames, not a backlog).
    The constructor waits for the first frame (``open_timeout`` seconds) so that a file that cannot be decoded
    fails here with one clear line; ``width``/``height`` are then the real decoded size.
    """

    def __init__(
        self,
        url: str,
        *,
        square_pixels: bool = True,
        latest_only: bool = False,
        queue_size: int = 4,
        input_args: tuple[str, ...] = (),
        open_timeout: float = 60.0,
        label: str | None = None,
    ) -> None:
        self.url = url
        self.label = label or url
        self.latest_only = latest_only
        self.square_pixels = square_pixels
        options, self._seek = parse_input_args(input_args)
        self._frames: queue.Queue = queue.Queue(maxsize=1 if latest_only else max(1, queue_size))
        self._stop = threading.Event()
        self._started = threading.Event()
        self.error: str | None = None
        self.frames_decoded = 0
        self.frames_dropped = 0
        self.bad_packets = 0
        self.width = 0
        self.height = 0
        self._done = False
        read_timeout = open_timeout if open_timeout else None
        self._container = open_input(url, timeout=(open_timeout or None, read_timeout), options=options, label=label)
        try:
            self._stream = first_video_stream(self._container)
            if self._stream is None:
                raise InputError(f"{self.label}: no video stream")
            sar = self._stream.sample_aspect_ratio or self._stream.codec_context.sample_aspect_ratio
            self._sar = Fraction(sar) if sar and sar > 0 else Fraction(1)
            self._tb = self._stream.time_base
            if not latest_only:
                self._stream.thread_type = "AUTO"  # frame threads: files decode faster, a little more latency
            start = self._container.start_time
            self._origin = (start / 1_000_000 if start is not None else 0.0) + self._seek
            if self._seek > 0:
                self._container.seek(int(self._origin * 1_000_000), backward=True, any_frame=False)
        except BaseException:
            self._container.close()
            raise
        self._sizes: dict[tuple[int, int], tuple[int, int]] = {}
        self._thread = threading.Thread(target=self._run, name="rtstyle-decode", daemon=True)
        self._thread.start()
        if not self._started.wait(open_timeout if open_timeout else None):
            self.close()
            raise InputError(f"{self.label}: no frame within {open_timeout:.0f} s")
        if self.frames_decoded == 0:
            self.close()
            raise InputError(f"{self.label}: no video frames could be decoded ({self.error or 'no frames'})")

    def last_error(self) -> str:
        return self.error or ""

    # decoding thread ---------------------------------------------------------------------------------------

    def _target(self, frame: av.VideoFrame) -> tuple[int, int]:
        key = (frame.width, frame.height)
        size = self._sizes.get(key)
        if size is None:
            size = square_size(frame.width, frame.height, self._sar) if self.square_pixels else key
            self._sizes[key] = size
        return size

    def _convert(self, frame: av.VideoFrame) -> np.ndarray:
        w, h = self._target(frame)
        if (w, h) != (frame.width, frame.height):
            bgr = frame.reformat(width=w, height=h, format="bgr24", interpolation="BICUBIC").to_ndarray()
        else:
            bgr = frame.to_ndarray(format="bgr24")
        turns = (int(round((frame.rotation or 0) / 90.0))) % 4  # counter-clockwise quarter turns to upright
        if turns:
            bgr = np.ascontiguousarray(np.rot90(bgr, turns))
        return bgr

    def _frames_of(self, packet: av.Packet | None) -> list[av.VideoFrame]:
        try:
            return list(self._stream.codec_context.decode(packet))
        except av.FFmpegError as exc:  # a damaged packet: skip it, as ffmpeg does
            self.bad_packets += 1
            if self.error is None and self.frames_decoded == 0:
                self.error = av_reason(exc, self.url)
            return []

    def _emit(self, frame: av.VideoFrame, last_pts: list[float | None]) -> None:
        t = float(frame.pts * self._tb) if frame.pts is not None and self._tb else None
        if t is not None:
            t -= self._origin
            if self._seek > 0 and t < -1e-6:  # before the seek point (decoded from the keyframe before it)
                return
        if t is None:
            t = 0.0 if last_pts[0] is None else last_pts[0] + 1e-3
        last_pts[0] = t
        image = self._convert(frame)
        if self.frames_decoded == 0:
            self.height, self.width = image.shape[:2]
        self.frames_decoded += 1
        self._started.set()
        self._put((image, t))

    def _run(self) -> None:
        last: list[float | None] = [None]
        try:
            for packet in self._container.demux(self._stream):
                if self._stop.is_set():
                    return
                for frame in self._frames_of(packet if packet.size else None):
                    self._emit(frame, last)
                    if self._stop.is_set():
                        return
                if not packet.size:  # the demuxer's flush packet: the decoder has given everything
                    break
        except av.FFmpegError as exc:  # the input ended badly (cut file, network gone): keep what was decoded
            if self.frames_decoded == 0:
                self.error = av_reason(exc, self.url)
            else:
                for frame in self._frames_of(None):
                    self._emit(frame, last)
        except Exception as exc:  # noqa: BLE001 - reported by read()
            self.error = str(exc) or type(exc).__name__
        finally:
            self._done = True
            self._container.close()
            self._started.set()
            self._put(_END)

    def _put(self, item: object) -> None:
        if not self.latest_only:
            while not self._stop.is_set():
                try:
                    self._frames.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue
            return
        while True:  # newest only: replace what the consumer has not taken yet
            try:
                self._frames.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._frames.get_nowait()
                    if item is not _END:
                        self.frames_dropped += 1
                except queue.Empty:
                    pass

    # consumer side -----------------------------------------------------------------------------------------

    def read(self, timeout: float | None = None) -> tuple[np.ndarray, float] | None:
        """The next ``(frame, pts_seconds)``, or None at the end (or after ``timeout`` seconds without a frame)."""
        try:
            item = self._frames.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self._frames.put(_END)  # stay at the end for later calls
            if self.error and self.frames_decoded == 0:
                raise InputError(f"{self.label}: decoding failed ({self.error})")
            return None
        return item  # type: ignore[return-value]

    @property
    def finished(self) -> bool:
        return self._done and self._frames.empty()

    def close(self) -> None:
        self._stop.set()
        while True:  # unblock the thread if it waits on a full queue
            try:
                self._frames.get_nowait()
            except queue.Empty:
                break
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
