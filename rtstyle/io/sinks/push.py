"""Push the stream to ``rtmp://``, ``srt://`` or any URL FFmpeg takes, encoded live with PyAV in process.

Low-latency H.264 (``veryfast``, ``zerolatency``, no B-frames, a keyframe every 2 s, yuv420p, capped bitrate) plus
an AAC track: silent by default (streaming services expect audio), a microphone when asked (``FMT:INPUT``, e.g.
``alsa:hw:0``, ``pulse:default``, ``dshow:audio=Microphone``, ``avfoundation::0``: an FFmpeg input device of the
build, see ``rtstyle doctor``), or none (``none``). The muxer follows the URL's scheme (FLV for RTMP, MPEG-TS for
SRT, UDP, TCP and HTTP) unless ``fmt`` names one.

``write`` only hands the frame to a one-slot mailbox. A writer thread connects, encodes and sends at the stream's
frame rate in real time: it repeats the last frame when the pipeline is slower and skips frames when it is faster,
so the stream's timestamps follow the wall clock. If the connection fails or drops (refused, bad URL, unknown
microphone), the next ``write`` or ``close`` raises one :class:`~rtstyle.errors.DeviceError` line with FFmpeg's
reason (stream keys never appear in it).
"""

from __future__ import annotations

import collections
import queue
import re
import threading
import time
from fractions import Fraction
from urllib.parse import urlsplit

import av
import numpy as np

from rtstyle.errors import DeviceError, OutputError
from rtstyle.io.ffmpeg import av_reason
from rtstyle.io.sinks.base import Sink
from rtstyle.io.sinks.common import Mailbox, letterbox

FORMAT_BY_SCHEME = {
    "rtmp": "flv",
    "rtmps": "flv",
    "rtmpt": "flv",
    "rtmpe": "flv",
    "rtmpts": "flv",
    "srt": "mpegts",
    "udp": "mpegts",
    "tcp": "mpegts",
    "rtp": "rtp_mpegts",
    "http": "mpegts",
    "https": "mpegts",
}
MAX_LAG_S = 1.0  # the writer gives up catching up (and resets its clock) when it falls this far behind
AUDIO_RATE = 44100
NETWORK_TIMEOUT_S = 10.0  # connecting, and any one send: a hung server fails the push instead of freezing it


def container_for(url: str, fmt: str | None = None) -> str | None:
    """The muxer for ``url``: ``fmt`` if given, else by scheme (``None``: let FFmpeg guess from the name)."""
    if fmt:
        return fmt
    scheme = urlsplit(url).scheme.lower()
    return FORMAT_BY_SCHEME.get(scheme)


def redact(url: str) -> str:
    """``url`` without its stream key or secrets: scheme, host and the first path part only."""
    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1:  # a file path (or a Windows drive letter)
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    segs = [s for s in parts.path.split("/") if s]
    tail = f"/{segs[0]}" if segs else ""
    hidden = len(segs) > 1 or parts.query or parts.username or parts.password
    return f"{parts.scheme}://{host}{tail}{'/***' if hidden else ''}"


def audio_source(spec: str | None) -> tuple[str, str] | None:
    """The audio track: ``("silent", "")`` (``None``), no track (``"none"``: None) or ``(FMT, INPUT)``."""
    if spec is None or spec.strip().lower() in ("", "silent", "silence"):
        return ("silent", "")
    if spec.strip().lower() in ("none", "off", "no"):
        return None
    fmt, sep, dev = spec.partition(":")
    if not sep or not fmt or not dev:
        raise OutputError(f"--push-audio expects FMT:INPUT (e.g. pulse:default, alsa:hw:0), got {spec!r}")
    return (fmt, dev)


def default_bitrate(size: tuple[int, int], fps: float) -> int:
    """About 0.1 bit per pixel per frame, between 300 kb/s and 6 Mb/s (bits per second)."""
    return int(min(6_000_000, max(300_000, size[0] * size[1] * fps * 0.1)))


def parse_bitrate(text: str | int | None, size: tuple[int, int], fps: float) -> int:
    if text is None or text == "":
        return default_bitrate(size, fps)
    if isinstance(text, int):
        return text
    t = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise OutputError(f"bitrate must look like 2500k or 3M, got {text!r}") from None
    if value < 10_000:
        raise OutputError(f"bitrate too low: {text!r}")
    return int(value)


def video_settings(size: tuple[int, int], fps: float, bitrate: str | int | None = None) -> dict[str, str]:
    """libx264 options of a live stream: low latency, no B-frames, a keyframe every 2 s, capped bitrate."""
    br = parse_bitrate(bitrate, size, fps)
    gop = str(max(1, round(2 * fps)))
    return {
        "preset": "veryfast",
        "tune": "zerolatency",
        "g": gop,
        "keyint_min": gop,
        "sc_threshold": "0",
        "bf": "0",
        "b": str(br),
        "maxrate": str(br),
        "bufsize": str(br),
    }


_KEYWORDS = ("error", "fail", "unknown", "refused", "invalid", "cannot", "no such", "not found", "denied")


def failure_reason(lines: list[str]) -> str | None:
    """The most telling line of ffmpeg's log: the first that names a failure, without the ``[xxx @ 0x..]`` prefix."""
    cleaned = [re.sub(r"^\[[^\]]*\]\s*", "", ln).replace("?tcp_nodelay=0", "") for ln in lines]
    for ln in cleaned:
        if any(k in ln.lower() for k in _KEYWORDS):
            return ln
    return cleaned[-1] if cleaned else None


class PushSink(Sink):
    """Encode with PyAV and push to a streaming URL (or write a live file), paced in real time."""

    name = "push"

    def __init__(
        self,
        url: str,
        size: tuple[int, int],
        fps: float,
        audio: str | None = None,
        *,
        bitrate: str | int | None = None,
        fmt: str | None = None,
        wants_hud: bool = False,
    ) -> None:
        if not url:
            raise OutputError("--push needs a URL (rtmp://..., srt://...)")
        self.url = url
        self.safe_url = redact(url)
        self.size = (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)  # yuv420p needs even sizes
        if self.size[0] < 2 or self.size[1] < 2:
            raise OutputError(f"stream too small to push: {size[0]}x{size[1]}")
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.wants_hud = wants_hud
        self.muxer = container_for(url, fmt)
        self.audio = audio_source(audio)
        self.settings = video_settings(self.size, self.fps, bitrate)
        # what is sent, in words (no stream key): for logs, tests and ``rtstyle doctor``-style reports
        self.command = (
            f"libx264 {self.size[0]}x{self.size[1]} {self.fps:g} fps "
            + " ".join(f"{k}={v}" for k, v in self.settings.items())
            + f" audio={'none' if self.audio is None else self.audio[0]} muxer={self.muxer or 'auto'}"
        )
        self._log: collections.deque[str] = collections.deque(maxlen=30)
        self._box = Mailbox()
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._closed = False
        self._error: str | None = None
        self._fail_lock = threading.Lock()
        self._error_raised = False
        self._n = {"frames": 0, "sent": 0, "repeated": 0, "late_resets": 0}
        self._latency_sum = 0.0
        self._latency_n = 0
        self._out: av.container.OutputContainer | None = None
        self._mic: _Microphone | None = None
        self._samples = 0
        self._thread = threading.Thread(target=self._run, name="rtstyle-push", daemon=True)
        self._thread.start()

    # producer side -------------------------------------------------------------------------------------------

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        self._check()
        self._n["frames"] += 1
        self._box.put((frame.copy(), time.monotonic()))

    def _check(self) -> None:
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise DeviceError(self._error)

    # writer thread -------------------------------------------------------------------------------------------

    def _open(self) -> None:
        """Connect and write the stream's header (in the writer thread: a slow server never blocks ``write``)."""
        out = av.open(self.url, "w", format=self.muxer, timeout=NETWORK_TIMEOUT_S, **self._mux_options())
        self._out = out
        vs = out.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001), options=self.settings)
        vs.width, vs.height = self.size
        vs.pix_fmt = "yuv420p"
        vs.codec_context.time_base = Fraction(1, 1_000_000)
        self._video = vs
        self._audio_out = None
        if self.audio is not None:
            a = out.add_stream("aac", rate=AUDIO_RATE)
            a.layout = "stereo"
            a.bit_rate = 128_000
            self._audio_out = a
            if self.audio[0] != "silent":
                self._mic = _Microphone(self.audio[0], self.audio[1])
        out.start_encoding()
        self._t0 = time.monotonic()

    def _mux_options(self) -> dict:
        if self.muxer == "flv":
            return {"container_options": {"flvflags": "no_duration_filesize"}}
        return {}

    def _send(self, image: np.ndarray, t: float) -> None:
        assert self._out is not None
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(
            format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG"
        )
        frame.pts = int(round(t * 1_000_000))
        frame.time_base = Fraction(1, 1_000_000)
        for packet in self._video.encode(frame):
            self._out.mux(packet)
        if self._audio_out is not None:
            self._send_audio(t + 1.0 / self.fps)

    def _send_audio(self, until: float) -> None:
        """Audio up to ``until`` seconds: the microphone's samples, or silence (filling any gap the device leaves)."""
        assert self._out is not None and self._audio_out is not None
        want = int(until * AUDIO_RATE)
        frames: list[av.AudioFrame] = []
        if self._mic is not None:
            frames = self._mic.take()
            if self._mic.error:
                raise _Failure(self._mic.error)
        for af in frames:
            af.pts = self._samples
            self._samples += af.samples
            for packet in self._audio_out.encode(af):
                self._out.mux(packet)
        while self._samples + 1024 <= want and (self._mic is None or self._samples + 4 * 1024 <= want):
            silence = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
            for plane in silence.planes:
                plane.update(bytes(plane.buffer_size))
            silence.sample_rate = AUDIO_RATE
            silence.pts = self._samples
            self._samples += 1024
            for packet in self._audio_out.encode(silence):
                self._out.mux(packet)

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(letterbox(frame, self.size))

    def _run(self) -> None:
        period = 1.0 / self.fps
        item = None
        try:
            while item is None:  # nothing goes out before the first frame
                item = self._box.take(timeout=0.5)
                if item is None and self._box.closed:
                    return
            self._open()
            frame, t_write = item
            data = self._prepare(frame)
            fresh = True
            n = 0
            next_t = time.monotonic()
            while not self._abort.is_set():
                self._send(data, n * period)
                n += 1
                self._n["sent"] += 1
                if fresh:
                    self._latency_sum += time.monotonic() - t_write
                    self._latency_n += 1
                else:
                    self._n["repeated"] += 1
                next_t += period
                now = time.monotonic()
                if now - next_t > MAX_LAG_S:  # the encoder, the network or the machine could not keep up
                    self._n["late_resets"] += 1
                    next_t = now
                if self._stop.wait(max(0.0, next_t - now)):
                    item = self._box.take(timeout=0)  # the newest frame still goes out before closing
                    if item is not None and not self._abort.is_set():
                        self._send(self._prepare(item[0]), n * period)
                        self._n["sent"] += 1
                    break
                item = self._box.take(timeout=0)
                fresh = item is not None
                if fresh:
                    frame, t_write = item
                    data = self._prepare(frame)
            if not self._abort.is_set():
                self._finish()
        except _Failure as exc:
            self._fail(str(exc))
        except av.FFmpegError as exc:
            self._fail(av_reason(exc, self.url))
        except OSError as exc:  # ConnectionRefusedError, BrokenPipeError, ...
            self._fail(exc.strerror or str(exc) or type(exc).__name__)
        finally:
            self._close_quietly()

    def _finish(self) -> None:
        """Flush the encoders and write the trailer."""
        assert self._out is not None
        for packet in self._video.encode(None):
            self._out.mux(packet)
        if self._audio_out is not None:
            for packet in self._audio_out.encode(None):
                self._out.mux(packet)
        self._out.close()

    def _close_quietly(self) -> None:
        if self._mic is not None:
            self._mic.close()
        if self._out is not None:
            try:
                self._out.close()
            except Exception:  # noqa: BLE001 - the stream is over either way
                pass

    def _fail(self, what: str) -> None:
        with self._fail_lock:
            if self._error is not None:
                return
            what = what.replace(self.url, self.safe_url)
            self._log.append(what)
            reason = failure_reason(list(self._log)) or what
            self._error = f"push to {self.safe_url} failed: {reason}"

    # lifecycle -----------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            self._check()
            return
        self._closed = True
        self._stop.set()
        self._box.close()
        self._thread.join(timeout=20)
        if self._thread.is_alive():  # stuck sending to a server that no longer reads (network hung)
            self._abort.set()
            self._thread.join(timeout=NETWORK_TIMEOUT_S)
            self._fail("the server stopped reading; the stream was dropped")
        self._check()

    def abort(self) -> None:
        self._closed = True
        self._abort.set()
        self._stop.set()
        self._box.close()
        self._thread.join(timeout=10)

    @property
    def stats(self) -> dict[str, float]:
        out: dict[str, float] = dict(self._n)
        out["dropped"] = self._box.replaced
        out["latency_ms"] = 1000 * self._latency_sum / self._latency_n if self._latency_n else 0.0
        return out

    @property
    def log(self) -> list[str]:
        """What went wrong, in FFmpeg's words (stream keys redacted)."""
        return list(self._log)

    @property
    def description(self) -> str:
        """One line for the terminal (stream key hidden)."""
        return f"push to {self.safe_url} ({self.size[0]}x{self.size[1]} at {self.fps:g} fps)"

    def __repr__(self) -> str:
        return f"PushSink({self.safe_url}, {self.size[0]}x{self.size[1]}@{self.fps:g})"


class _Failure(Exception):
    """A push failure with its one line."""


class _Microphone:
    """An FFmpeg audio input device read in a thread of its own: stereo fltp frames at 44.1 kHz, taken by the
    writer thread as it sends video."""

    def __init__(self, fmt: str, device: str) -> None:
        self.error: str | None = None
        self._frames: queue.Queue = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        if fmt not in av.formats_available:
            self.error = f"unknown audio input format {fmt!r} (this FFmpeg build has no such device)"
            self._thread = None
            return
        self._fmt, self._device = fmt, device
        self._thread = threading.Thread(target=self._run, name="rtstyle-push-mic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            source = av.open(self._device, format=self._fmt, timeout=NETWORK_TIMEOUT_S)
        except (av.FFmpegError, OSError) as exc:
            reason = av_reason(exc) if isinstance(exc, av.FFmpegError) else str(exc)
            self.error = f"cannot open the audio input {self._fmt}:{self._device} ({reason})"
            return
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        try:
            for frame in source.decode(audio=0):
                if self._stop.is_set():
                    break
                frame.pts = None
                for out in resampler.resample(frame):
                    try:
                        self._frames.put_nowait(out)
                    except queue.Full:  # nobody takes them: the oldest go
                        pass
        except (av.FFmpegError, OSError) as exc:
            self.error = f"the audio input stopped ({exc})"
        finally:
            source.close()

    def take(self) -> list[av.AudioFrame]:
        out = []
        while True:
            try:
                out.append(self._frames.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self._stop.set()
