"""ffmpeg helpers: probing, decoding to BGR frames with timestamps, encoding BGR frames with timestamps.

The ffmpeg binary is the one bundled with ``imageio-ffmpeg`` (H.264, AAC, MP3 decoding). There is no ffprobe,
so :func:`probe` parses ``ffmpeg -i`` output and counts packets with a stream-copy run.

Decoding (:class:`Decoder`)::

    ffmpeg -hide_banner -nostdin -nostats -loglevel info -i IN -map 0:V:0 -an -sn -dn
           -fps_mode passthrough -vf scale=w='W':h=ih,setsar=1,format=bgr24,showinfo=checksum=0
           -f rawvideo pipe:1

ffmpeg rotates upright by itself (display matrix); ``-fps_mode passthrough`` keeps variable frame rate frames as
they are (no duplicates, no drops); ``W`` (``_SQUARE_W``) stretches non-square pixels to square ones (even width).
The ``showinfo`` line of each frame on stderr gives its size and ``pts_time``, which a reader thread pairs with the
raw bytes read from stdout (one line per frame, in order).

Encoding (:class:`Encoder`): frames go to ffmpeg on stdin in a minimal Matroska stream written here (uncompressed
BGR24 blocks, each with its own timestamp in microseconds), so the encoder sees the real per-frame timestamps and
variable frame rate survives::

    ffmpeg -hide_banner -nostdin -loglevel error -f matroska -i pipe:0 [-i AUDIO_SOURCE]
           -map 0:v:0 [-map 1:a:0? -c:a copy|aac [-shortest]] -fps_mode passthrough -enc_time_base:v 1:1000000
           -vf [pad=EW:EH:0:0:black,]scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int,
               format=yuv420p,setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709
           -c:v libx264 -preset P -crf N -pix_fmt yuv420p
           -video_track_timescale T -movflags +faststart -f mp4 TMP
"""

from __future__ import annotations

import os
import queue
import re
import struct
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from rtstyle.errors import InputError, OutputError

# Audio codecs that go into MP4 as they are; anything else is re-encoded to AAC.
MP4_AUDIO_COPY = frozenset({"aac", "mp3", "ac3", "eac3", "alac"})


def _detached() -> dict:
    """Popen arguments that keep a terminal's Ctrl-C away from ffmpeg: rtstyle stops it itself (a decoder that
    died of SIGINT would look like a normal end of input, and the half-done output would be kept)."""
    if os.name == "nt":
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    return {"start_new_session": True}


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg every part of rtstyle runs (decoding, encoding, ``--push``): ``RTSTYLE_FFMPEG`` when set (e.g. a
    system ffmpeg with ALSA or a hardware encoder), else the one bundled with imageio-ffmpeg (``IMAGEIO_FFMPEG_EXE``
    overrides that, as in imageio-ffmpeg)."""
    chosen = os.environ.get("RTSTYLE_FFMPEG")
    if chosen:
        return chosen
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # pragma: no cover
        raise InputError(f"no ffmpeg executable: {exc}") from exc


@dataclass(frozen=True)
class MediaInfo:
    """What ``probe`` learned about a video file. ``width``/``height`` are the displayed size (after rotation,
    before any square-pixel correction); ``sar`` is the sample aspect ratio of the decoded (rotated) frames."""

    path: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int  # degrees clockwise needed to show the frame upright (0, 90, 180, 270)
    sar: Fraction
    dar: Fraction | None
    fps: float  # nominal (average) frame rate, 0 when unknown
    timescale: int | None  # the video stream's time base denominator ("tbn"), None when unknown
    duration: float | None  # seconds
    start_time: float
    frame_count: int | None  # packets in the video stream (exact for ordinary files), None when unknown
    video_codec: str
    has_audio: bool
    audio_codec: str | None

    @property
    def square_size(self) -> tuple[int, int]:
        """(width, height) of the frames the decoder delivers: upright, square pixels."""
        w = self.width
        if self.sar > 0 and self.sar != 1:
            w = max(2, 2 * round(self.width * self.sar / 2))
        return w, self.height


_RE_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_RE_START = re.compile(r"start: (-?\d+(?:\.\d+)?)")
_RE_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio|Subtitle|Data|Attachment): (\w+)(.*)$")
_RE_SIZE = re.compile(r", (\d+)x(\d+)")
_RE_SAR = re.compile(r"SAR (\d+):(\d+) DAR (\d+):(\d+)")
_RE_FPS = re.compile(r", (\d+(?:\.\d+)?)(k?) fps")
_RE_TBR = re.compile(r", (\d+(?:\.\d+)?)(k?) tbr")
_RE_TBN = re.compile(r", (\d+(?:\.\d+)?)(k?) tbn")
_RE_ROT_MATRIX = re.compile(r"Display Matrix: rotation of (-?\d+(?:\.\d+)?) degrees")
_RE_ROT_TAG = re.compile(r"^\s*rotate\s*: (-?\d+)")
_RE_FRAME = re.compile(r"frame=\s*(\d+)")


def _num(value: str, k: str) -> float:
    return float(value) * (1000.0 if k else 1.0)


def _error_line(text: str, path: str) -> str:
    """The most telling error line of an ffmpeg run, without the ``[demuxer @ 0x...]`` prefix."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    ignore = ("At least one output file", "Exiting with exit code", "Error opening input file")
    for ln in reversed(lines):
        if any(ln.startswith(s) or s in ln for s in ignore):
            continue
        ln = re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", ln)
        return ln.replace(path + ": ", "").replace(path, "").strip(": ") or ln
    return "ffmpeg could not read it"


def parse_probe(text: str, path: str = "") -> MediaInfo:
    """Parse the stderr of ``ffmpeg -hide_banner -i FILE`` (no frame count). Raises InputError without video."""
    if "Input #0" not in text:
        raise InputError(f"{path}: not a readable video ({_error_line(text, path)})")
    duration = None
    m = _RE_DURATION.search(text)
    if m:
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    m = _RE_START.search(text)
    start = float(m.group(1)) if m else 0.0

    video: dict | None = None
    audio_codec: str | None = None
    current = None
    for line in text.splitlines():
        sm = _RE_STREAM.match(line)
        if sm:
            kind, codec, rest = sm.group(1), sm.group(2), sm.group(3)
            current = None
            if kind == "Video" and video is None and "attached pic" not in rest:
                video = {"codec": codec, "line": rest, "rotation": 0.0}
                current = video
            elif kind == "Audio" and audio_codec is None:
                audio_codec = codec
            continue
        if line.lstrip().startswith(("Input #", "Output #", "Stream mapping")):
            current = None
        if current is not None:
            rm = _RE_ROT_MATRIX.search(line)
            if rm:
                # ffmpeg prints the display matrix angle counter-clockwise; upright needs the opposite turn.
                current["rotation"] = -float(rm.group(1))
            tm = _RE_ROT_TAG.match(line)
            if tm:  # old-style "rotate" tag: clockwise degrees
                current["rotation"] = float(tm.group(1))
    if video is None:
        raise InputError(f"{path}: no video stream")
    rest = video["line"]
    m = _RE_SIZE.search(rest)
    if not m:
        raise InputError(f"{path}: video stream without a frame size (corrupt?)")
    cw, ch = int(m.group(1)), int(m.group(2))
    if cw <= 0 or ch <= 0:
        raise InputError(f"{path}: video stream with an empty frame size {cw}x{ch}")
    rotation = int(round(video["rotation"] / 90.0)) * 90 % 360
    sar, dar = Fraction(1), None
    m = _RE_SAR.search(rest)
    if m and int(m.group(2)) and int(m.group(1)):
        sar = Fraction(int(m.group(1)), int(m.group(2)))
        if int(m.group(4)):
            dar = Fraction(int(m.group(3)), int(m.group(4)))
    w, h = cw, ch
    if rotation in (90, 270):
        w, h, sar = ch, cw, 1 / sar
        dar = 1 / dar if dar else None
    fps = 0.0
    m = _RE_FPS.search(rest) or _RE_TBR.search(rest)
    if m:
        fps = _num(m.group(1), m.group(2))
    m = _RE_TBN.search(rest)
    timescale = int(round(_num(m.group(1), m.group(2)))) if m else None
    frames = int(round(duration * fps)) if duration and fps else None
    return MediaInfo(
        path=path,
        width=w,
        height=h,
        coded_width=cw,
        coded_height=ch,
        rotation=rotation,
        sar=sar,
        dar=dar,
        fps=fps,
        timescale=timescale,
        duration=duration,
        start_time=start,
        frame_count=frames,
        video_codec=video["codec"],
        has_audio=audio_codec is not None,
        audio_codec=audio_codec,
    )


def check_readable(path: str | os.PathLike) -> Path:
    """Raise InputError with one clear line unless ``path`` is a readable regular file."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a video file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{p}: cannot read it (permission denied)")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: empty file")
    return p


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"ffmpeg took longer than {timeout:.0f} s to read {args[args.index('-i') + 1]}") from exc


def probe(path: str | os.PathLike, count_frames: bool = True, timeout: float = 120.0) -> MediaInfo:
    """Describe a video file; InputError (one line) when it is missing, unreadable, corrupt or has no frames.

    ``count_frames`` counts the packets of the video stream with a fast stream-copy run (no decoding); it also
    catches files whose header is fine but which hold no video frames.
    """
    p = check_readable(path)
    proc = _run(["-i", str(p)], timeout)
    info = parse_probe(proc.stderr.decode("utf-8", "replace"), str(p))
    if not count_frames:
        return info
    proc = _run(["-i", str(p), "-map", "0:V:0", "-c", "copy", "-f", "null", "-"], timeout)
    text = proc.stderr.decode("utf-8", "replace")
    counts = _RE_FRAME.findall(text)
    if proc.returncode != 0 and not counts:
        raise InputError(f"{p}: not a readable video ({_error_line(text, str(p))})")
    n = int(counts[-1]) if counts else 0
    if n == 0:
        raise InputError(f"{p}: the video stream holds no frames")
    return MediaInfo(**{**info.__dict__, "frame_count": n})


# --------------------------------------------------------------------------------------------------- decoding

# Square pixels: stretch the width by the sample aspect ratio, to an even width (no padding needed for H.264 later).
_SQUARE_W = "if(gt(sar,0)*not(eq(sar,1)),max(2,2*round(iw*sar/2)),iw)"
_RE_SHOWINFO = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(\S+)\s+pts_time:(\S+).*?\bs:(\d+)x(\d+)")
_END = object()


class Decoder:
    """One ffmpeg process decoding ``url`` to upright, square-pixel BGR frames with presentation timestamps.

    A stdout reader thread fills a small queue so decoding overlaps whatever the caller does with a frame.
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
        vf = [f"scale=w='{_SQUARE_W}':h=ih,setsar=1"] if square_pixels else []
        vf += ["format=bgr24", "showinfo=checksum=0"]
        self.command = [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-loglevel",
            "info",
            *input_args,
            "-i",
            url,
            "-map",
            "0:V:0",  # the first video stream that is not cover art
            "-an",
            "-sn",
            "-dn",
            "-fps_mode",
            "passthrough",
            "-vf",
            ",".join(vf),
            "-f",
            "rawvideo",
            "pipe:1",
        ]
        self._meta: queue.Queue = queue.Queue()
        self._frames: queue.Queue = queue.Queue(maxsize=1 if latest_only else max(1, queue_size))
        self._log: deque[str] = deque(maxlen=30)
        self._stop = threading.Event()
        self.error: str | None = None
        self.frames_decoded = 0
        self.frames_dropped = 0
        self.width = 0
        self.height = 0
        try:
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                **_detached(),
            )
        except OSError as exc:
            raise InputError(f"cannot start ffmpeg: {exc}") from exc
        self._err_thread = threading.Thread(target=self._read_stderr, name="rtstyle-decode-log", daemon=True)
        self._err_thread.start()
        try:
            self._first = self._meta.get(timeout=open_timeout) if open_timeout else self._meta.get()
        except queue.Empty:
            self.close()
            raise InputError(f"{self.label}: no frame within {open_timeout:.0f} s") from None
        if self._first is _END:
            self._proc.wait()
            self.close()
            raise InputError(f"{self.label}: no video frames could be decoded ({self.last_error()})")
        self.width, self.height = self._first[2], self._first[3]
        self._out_thread = threading.Thread(target=self._read_frames, name="rtstyle-decode", daemon=True)
        self._out_thread.start()

    def last_error(self) -> str:
        return _error_line("\n".join(self._log), self.url)

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        try:
            for raw in self._proc.stderr:
                line = raw.decode("utf-8", "replace")
                m = _RE_SHOWINFO.search(line) if "showinfo" in line else None
                if m:
                    t = m.group(3)
                    pts = float(t) if t not in ("NOPTS", "nan") else None
                    self._meta.put((int(m.group(1)), pts, int(m.group(4)), int(m.group(5))))
                elif "showinfo" not in line and line.strip():
                    self._log.append(line.rstrip())
        except (OSError, ValueError):  # pipe closed while stopping
            pass
        finally:
            self._meta.put(_END)

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

    def _read_exact(self, n: int) -> bytearray | None:
        assert self._proc.stdout is not None
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = self._proc.stdout.readinto(view[got:])
            except (OSError, ValueError):  # pipe closed while stopping
                return None
            if not k:
                return None
            got += k
        return buf

    def _read_frames(self) -> None:
        meta = self._first
        last_pts = None
        try:
            while meta is not _END and not self._stop.is_set():
                _, pts, w, h = meta
                data = self._read_exact(w * h * 3)
                if data is None:
                    break
                frame = np.frombuffer(data, np.uint8).reshape(h, w, 3)
                if pts is None:
                    pts = 0.0 if last_pts is None else last_pts + 1e-3
                last_pts = pts
                self.frames_decoded += 1
                self._put((frame, pts))
                meta = self._meta.get()
        finally:
            if self._proc.poll() is None and self._stop.is_set():
                self._proc.kill()
            rc = self._proc.wait()
            if rc != 0 and not self._stop.is_set() and self.frames_decoded == 0:
                self.error = self.last_error()
            self._put(_END)

    def read(self, timeout: float | None = None) -> tuple[np.ndarray, float] | None:
        """The next ``(frame, pts_seconds)``, or None at the end (or after ``timeout`` seconds without a frame)."""
        try:
            item = self._frames.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self._frames.put(_END)  # stay at the end for later calls
            if self.error:
                raise InputError(f"{self.label}: decoding failed ({self.error})")
            return None
        return item  # type: ignore[return-value]

    @property
    def finished(self) -> bool:
        return self._proc.poll() is not None and self._frames.empty()

    def close(self) -> None:
        self._stop.set()
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        # the reader threads end at EOF now that ffmpeg is gone; close the pipes only after them
        for t in (self._err_thread, getattr(self, "_out_thread", None)):
            if t is not None and t is not threading.current_thread():
                t.join(timeout=5)
        for f in (self._proc.stdout, self._proc.stderr):
            try:
                if f:
                    f.close()
            except OSError:  # pragma: no cover
                pass


# --------------------------------------------------------------------------------------------------- encoding


def _ebml_size(n: int) -> bytes:
    return b"\x01" + n.to_bytes(7, "big")


def _ebml_uint(v: int) -> bytes:
    return v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")


def _ebml(element_id: bytes, payload: bytes) -> bytes:
    return element_id + _ebml_size(len(payload)) + payload


_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def mkv_header(width: int, height: int, fps: float = 0.0) -> bytes:
    """EBML header + live Segment + Info (timestamps in microseconds) + one V_UNCOMPRESSED BGR24 track."""
    ebml = _ebml(
        b"\x1a\x45\xdf\xa3",
        _ebml(b"\x42\x86", _ebml_uint(1))
        + _ebml(b"\x42\xf7", _ebml_uint(1))
        + _ebml(b"\x42\xf2", _ebml_uint(4))
        + _ebml(b"\x42\xf3", _ebml_uint(8))
        + _ebml(b"\x42\x82", b"matroska")
        + _ebml(b"\x42\x87", _ebml_uint(4))
        + _ebml(b"\x42\x85", _ebml_uint(2)),
    )
    info = _ebml(
        b"\x15\x49\xa9\x66",
        _ebml(b"\x2a\xd7\xb1", _ebml_uint(1000)) + _ebml(b"\x4d\x80", b"rtstyle") + _ebml(b"\x57\x41", b"rtstyle"),
    )
    video = _ebml(
        b"\xe0",
        _ebml(b"\xb0", _ebml_uint(width)) + _ebml(b"\xba", _ebml_uint(height)) + _ebml(b"\x2e\xb5\x24", b"BGR\x18"),
    )
    entry = (
        _ebml(b"\xd7", _ebml_uint(1))
        + _ebml(b"\x73\xc5", _ebml_uint(1))
        + _ebml(b"\x83", _ebml_uint(1))
        + _ebml(b"\x86", b"V_UNCOMPRESSED")
        + _ebml(b"\x9c", _ebml_uint(0))
    )
    if fps > 0:
        entry += _ebml(b"\x23\xe3\x83", _ebml_uint(int(round(1e9 / fps))))  # DefaultDuration, ns
    tracks = _ebml(b"\x16\x54\xae\x6b", _ebml(b"\xae", entry + video))
    return ebml + b"\x18\x53\x80\x67" + _UNKNOWN_SIZE + info + tracks


def mkv_frame(timestamp_us: int, data: bytes | memoryview) -> list[bytes | memoryview]:
    """One Cluster holding one keyframe SimpleBlock at ``timestamp_us``; returned as pieces to avoid copies."""
    ts = _ebml(b"\xe7", _ebml_uint(timestamp_us))
    block_head = b"\x81" + struct.pack(">hB", 0, 0x80)
    n = len(data)
    block = b"\xa3" + _ebml_size(len(block_head) + n) + block_head
    return [b"\x1f\x43\xb6\x75" + _ebml_size(len(ts) + len(block) + n) + ts + block, data]


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even dimensions: the encoder pads odd sizes with one black row/column."""
    return width + (width & 1), height + (height & 1)


class Encoder:
    """An ffmpeg libx264 process fed with BGR frames and their timestamps (microsecond precision).

    ``write`` blocks while ffmpeg's stdin pipe is full; :class:`rtstyle.sinks_video.VideoFileSink` calls it from
    its own thread. ``finish`` closes stdin and waits; ``kill`` stops at once.
    """

    def __init__(
        self,
        out_path: str | os.PathLike,
        width: int,
        height: int,
        fps: float = 0.0,
        *,
        audio_from: str | None = None,
        audio_codec: str | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        timescale: int | None = None,
        shortest: bool = False,
    ) -> None:
        self.width, self.height = width, height
        self.out_path = str(out_path)
        ew, eh = even_size(width, height)
        self.padded = (ew, eh) != (width, height)
        args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "matroska", "-i", "pipe:0"]
        if audio_from:
            args += ["-i", str(audio_from)]
        args += ["-map", "0:v:0"]
        self.audio_mode = None
        if audio_from:
            self.audio_mode = "copy" if (audio_codec or "").lower() in MP4_AUDIO_COPY else "aac"
            args += ["-map", "1:a:0?", "-c:a"]
            args += ["copy"] if self.audio_mode == "copy" else ["aac", "-b:a", "192k"]
            if shortest:  # the video was cut short (--max-frames): cut the audio with it
                args += ["-shortest"]
        args += ["-fps_mode", "passthrough", "-enc_time_base:v", "1:1000000"]
        vf = [f"pad={ew}:{eh}:0:0:black"] if self.padded else []
        # BT.709 limited range, converted and tagged explicitly (what players assume for untagged HD anyway)
        vf += ["scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int", "format=yuv420p"]
        vf += ["setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709"]
        args += ["-vf", ",".join(vf)]
        args += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
        args += ["-video_track_timescale", str(timescale or 90000), "-movflags", "+faststart", "-f", "mp4"]
        args += ["-y", self.out_path]
        self.command = args
        self._log: deque[str] = deque(maxlen=30)
        self._last_us = -1
        try:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **_detached()
            )
        except OSError as exc:
            raise OutputError(f"cannot start ffmpeg: {exc}") from exc
        self._err_thread = threading.Thread(target=self._read_stderr, name="rtstyle-encode-log", daemon=True)
        self._err_thread.start()
        self._send([mkv_header(width, height, fps)])

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        try:
            for raw in self._proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._log.append(line)
        except (OSError, ValueError):  # pipe closed while stopping
            pass

    def last_error(self) -> str:
        return _error_line("\n".join(self._log), self.out_path)

    def _send(self, pieces: list) -> None:
        assert self._proc.stdin is not None
        try:
            for piece in pieces:
                self._proc.stdin.write(piece)
        except (BrokenPipeError, OSError) as exc:
            self._proc.wait()
            raise OutputError(f"{self.out_path}: the encoder stopped ({self.last_error()})") from exc

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        """Send one frame (uint8 BGR, the encoder's size). Timestamps are made strictly increasing (1 us)."""
        us = max(int(round(timestamp * 1e6)), self._last_us + 1, 0)
        self._last_us = us
        frame = np.ascontiguousarray(frame)
        self._send(mkv_frame(us, memoryview(frame).cast("B")))

    def finish(self, timeout: float | None = None) -> None:
        """Close the input and wait for ffmpeg to write the file; OutputError when it fails."""
        try:
            if self._proc.stdin and not self._proc.stdin.closed:
                self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        rc = self._proc.wait(timeout=timeout)
        self._err_thread.join(timeout=5)
        if rc != 0:
            raise OutputError(f"{self.out_path}: encoding failed ({self.last_error()})")

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            if self._proc.stdin:
                self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self._proc.wait()
