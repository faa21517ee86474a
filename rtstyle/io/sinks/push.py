"""Push the stream to ``rtmp://``, ``srt://`` or any URL ffmpeg takes, encoded live by the bundled ffmpeg.

Low-latency H.264 (``veryfast``, ``zerolatency``, no B-frames, a keyframe every 2 s, yuv420p, capped bitrate) plus
an AAC track: silent by default (streaming services expect audio), a microphone when asked (``FMT:INPUT``, e.g.
``pulse:default``, ``alsa:hw:0``, ``dshow:audio=Microphone``, ``avfoundation::0``), or none (``none``).

``write`` only hands the frame to a one-slot mailbox. A writer thread feeds ffmpeg at the stream's frame rate in
real time: it repeats the last frame when the pipeline is slower and skips frames when it is faster, so the
stream's timestamps follow the wall clock. If ffmpeg dies (connection refused, bad URL, unknown microphone), the
next ``write`` or ``close`` raises one :class:`~rtstyle.errors.DeviceError` line with ffmpeg's reason.
The ffmpeg is :func:`rtstyle.io.ffmpeg.ffmpeg_exe`'s, as for decoding and encoding (``RTSTYLE_FFMPEG`` overrides).
"""

from __future__ import annotations

import collections
import re
import subprocess
import threading
import time
from urllib.parse import urlsplit

import numpy as np

from rtstyle.errors import DeviceError, OutputError
from rtstyle.io.ffmpeg import detached, ffmpeg_exe
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


def container_for(url: str, fmt: str | None = None) -> str | None:
    """The ffmpeg muxer for ``url``: ``fmt`` if given, else by scheme (``None``: let ffmpeg guess from the name)."""
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


def audio_args(spec: str | None) -> list[str]:
    """ffmpeg input arguments for the audio track: silent (``None``), none (``"none"``) or ``FMT:INPUT``."""
    if spec is None or spec.strip().lower() in ("", "silent", "silence"):
        return ["-f", "lavfi", "-i", "anullsrc=channel_layout=stereo:sample_rate=44100"]
    if spec.strip().lower() in ("none", "off", "no"):
        return []
    fmt, sep, dev = spec.partition(":")
    if not sep or not fmt or not dev:
        raise OutputError(f"--push-audio expects FMT:INPUT (e.g. pulse:default, alsa:hw:0), got {spec!r}")
    return ["-thread_queue_size", "1024", "-f", fmt, "-i", dev]


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


def build_command(
    ffmpeg: str,
    url: str,
    size: tuple[int, int],
    fps: float,
    *,
    audio: str | None = None,
    bitrate: str | int | None = None,
    fmt: str | None = None,
) -> list[str]:
    """The ffmpeg command line that reads raw BGR frames on stdin and pushes to ``url``."""
    w, h = size
    rate = f"{fps:.6g}"
    gop = str(max(1, round(2 * fps)))
    br = parse_bitrate(bitrate, size, fps)
    a_in = audio_args(audio)
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "bgr24", "-video_size", f"{w}x{h}", "-framerate", rate]
    cmd += ["-thread_queue_size", "64", "-i", "pipe:0"]
    cmd += a_in
    cmd += ["-map", "0:v:0"] + (["-map", "1:a:0"] if a_in else [])
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p"]
    cmd += ["-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-bf", "0"]
    cmd += ["-b:v", str(br), "-maxrate", str(br), "-bufsize", str(br)]
    if a_in:
        cmd += ["-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2", "-shortest"]
    muxer = container_for(url, fmt)
    if muxer == "flv":
        cmd += ["-flvflags", "no_duration_filesize"]
    if muxer:
        cmd += ["-f", muxer]
    cmd.append(url)
    return cmd


_KEYWORDS = ("error", "fail", "unknown", "refused", "invalid", "cannot", "no such", "not found", "denied")


def failure_reason(lines: list[str]) -> str | None:
    """The most telling line of ffmpeg's log: the first that names a failure, without the ``[xxx @ 0x..]`` prefix."""
    cleaned = [re.sub(r"^\[[^\]]*\]\s*", "", ln).replace("?tcp_nodelay=0", "") for ln in lines]
    for ln in cleaned:
        if any(k in ln.lower() for k in _KEYWORDS):
            return ln
    return cleaned[-1] if cleaned else None


class PushSink(Sink):
    """Encode with the bundled ffmpeg and push to a streaming URL (or write a live file), paced in real time."""

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
        ffmpeg: str | None = None,
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
        if ffmpeg is None:
            ffmpeg = ffmpeg_exe()  # the same ffmpeg as decoding and encoding (RTSTYLE_FFMPEG applies to all)
        self.command = build_command(ffmpeg, url, self.size, self.fps, audio=audio, bitrate=bitrate, fmt=fmt)
        try:
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                **detached(),  # Ctrl-C reaches rtstyle alone, which then finishes the stream (as for the encoder)
            )
        except OSError as e:
            raise DeviceError(f"cannot start ffmpeg for --push: {e}") from None
        self._stderr: collections.deque[str] = collections.deque(maxlen=30)
        self._stderr_thread = threading.Thread(target=self._drain_stderr, name="rtstyle-push-log", daemon=True)
        self._stderr_thread.start()
        self._box = Mailbox()
        self._stop = threading.Event()
        self._closed = False
        self._error: str | None = None
        self._fail_lock = threading.Lock()
        self._error_raised = False
        self._n = {"frames": 0, "sent": 0, "repeated": 0, "late_resets": 0}
        self._latency_sum = 0.0
        self._latency_n = 0
        self._thread = threading.Thread(target=self._run, name="rtstyle-push", daemon=True)
        self._thread.start()

    # producer side -------------------------------------------------------------------------------------------

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        self._check()
        self._n["frames"] += 1
        self._box.put((frame.copy(), time.monotonic()))

    def _check(self) -> None:
        if self._error is None and not self._closed and self._proc.poll() is not None:
            self._fail(f"ffmpeg exited with code {self._proc.returncode}")
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise DeviceError(self._error)

    # writer thread -------------------------------------------------------------------------------------------

    def _prepare(self, frame: np.ndarray) -> memoryview:
        out = letterbox(frame, self.size)
        return memoryview(np.ascontiguousarray(out)).cast("B")

    def _run(self) -> None:
        period = 1.0 / self.fps
        stdin = self._proc.stdin
        assert stdin is not None
        item = None
        while item is None:  # nothing goes out before the first frame
            item = self._box.take(timeout=0.5)
            if item is None and (self._box.closed or self._proc.poll() is not None):
                self._finish()
                return
        frame, t_write = item
        data = self._prepare(frame)
        fresh = True
        next_t = time.monotonic()
        try:
            while True:
                stdin.write(data)
                stdin.flush()
                self._n["sent"] += 1
                if fresh:
                    self._latency_sum += time.monotonic() - t_write
                    self._latency_n += 1
                else:
                    self._n["repeated"] += 1
                next_t += period
                now = time.monotonic()
                if now - next_t > MAX_LAG_S:  # ffmpeg or the machine could not keep up: stop catching up
                    self._n["late_resets"] += 1
                    next_t = now
                if self._stop.wait(max(0.0, next_t - now)):
                    item = self._box.take(timeout=0)  # the newest frame still goes out before closing
                    if item is not None:
                        frame, _ = item
                        stdin.write(self._prepare(frame))
                        stdin.flush()
                        self._n["sent"] += 1
                    break
                item = self._box.take(timeout=0)
                fresh = item is not None
                if fresh:
                    frame, t_write = item
                    data = self._prepare(frame)
        except (OSError, ValueError):  # BrokenPipe: ffmpeg died (connection refused, bad URL, ...)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._fail(f"ffmpeg stopped (exit code {self._proc.poll()})")
        self._finish()

    def _finish(self) -> None:
        try:
            if self._proc.stdin:
                self._proc.stdin.close()
        except OSError:
            pass
        try:
            code = self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
            self._fail("ffmpeg did not finish in time and was stopped")
        if code != 0:
            self._fail(f"ffmpeg exited with code {code}")

    def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self._stderr.append(line.replace(self.url, self.safe_url))

    def _fail(self, what: str) -> None:
        with self._fail_lock:
            if self._error is not None:
                return
            self._stderr_thread.join(timeout=2)
            reason = failure_reason(list(self._stderr)) or what
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
        if self._thread.is_alive():  # stuck writing to an ffmpeg that no longer reads (network hung)
            self._proc.kill()
            self._thread.join(timeout=5)
            self._fail("ffmpeg hung and was stopped")
        self._check()

    def abort(self) -> None:
        self._closed = True
        self._stop.set()
        self._box.close()
        if self._proc.poll() is None:
            self._proc.terminate()
        self._thread.join(timeout=10)

    @property
    def stats(self) -> dict[str, float]:
        out: dict[str, float] = dict(self._n)
        out["dropped"] = self._box.replaced
        out["latency_ms"] = 1000 * self._latency_sum / self._latency_n if self._latency_n else 0.0
        return out

    @property
    def log(self) -> list[str]:
        """The last lines ffmpeg wrote (stream keys redacted)."""
        return list(self._stderr)

    @property
    def description(self) -> str:
        """One line for the terminal (stream key hidden)."""
        return f"push to {self.safe_url} ({self.size[0]}x{self.size[1]} at {self.fps:g} fps)"

    def __repr__(self) -> str:
        return f"PushSink({self.safe_url}, {self.size[0]}x{self.size[1]}@{self.fps:g})"
