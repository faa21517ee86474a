"""What a video file holds: size, rotation, pixel aspect, frame rate, time base, duration, frame count, audio.

There is no ffprobe in the bundled ffmpeg, so :func:`probe` parses ``ffmpeg -i`` output (:func:`parse_probe`) and
counts packets with a stream-copy run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from rtstyle.errors import InputError
from rtstyle.io.ffmpeg import error_line, run_ffmpeg


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
    audio_tracks: int = 0  # audio streams in the file (only the first is kept)
    damaged: str | None = None  # what the frame count run found wrong (a cut or corrupt file), None when nothing

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


def parse_probe(text: str, path: str = "") -> MediaInfo:
    """Parse the stderr of ``ffmpeg -hide_banner -i FILE`` (no frame count). Raises InputError without video."""
    if "Input #0" not in text:
        raise InputError(f"{path}: not a readable video ({error_line(text, path)})")
    duration = None
    m = _RE_DURATION.search(text)
    if m:
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    m = _RE_START.search(text)
    start = float(m.group(1)) if m else 0.0

    video: dict | None = None
    audio_codec: str | None = None
    audio_tracks = 0
    current = None
    for line in text.splitlines():
        sm = _RE_STREAM.match(line)
        if sm:
            kind, codec, rest = sm.group(1), sm.group(2), sm.group(3)
            current = None
            if kind == "Video" and video is None and "attached pic" not in rest:
                video = {"codec": codec, "line": rest, "rotation": 0.0}
                current = video
            elif kind == "Audio":
                audio_tracks += 1
                audio_codec = audio_codec or codec
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
        audio_tracks=audio_tracks,
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


def probe(path: str | os.PathLike, count_frames: bool = True, timeout: float = 120.0) -> MediaInfo:
    """Describe a video file; InputError (one line) when it is missing, unreadable, corrupt or has no frames.

    ``count_frames`` counts the packets of the video stream with a fast stream-copy run (no decoding); it also
    catches files whose header is fine but which hold no video frames.
    """
    p = check_readable(path)
    proc = run_ffmpeg(["-i", str(p)], timeout)
    info = parse_probe(proc.stderr.decode("utf-8", "replace"), str(p))
    if not count_frames:
        return info
    proc = run_ffmpeg(["-i", str(p), "-map", "0:V:0", "-c", "copy", "-f", "null", "-"], timeout)
    text = proc.stderr.decode("utf-8", "replace")
    counts = _RE_FRAME.findall(text)
    if proc.returncode != 0 and not counts:
        raise InputError(f"{p}: not a readable video ({error_line(text, str(p))})")
    n = int(counts[-1]) if counts else 0
    if n == 0:
        raise InputError(f"{p}: the video stream holds no frames")
    damage = [ln for ln in text.splitlines() if any(k in ln.lower() for k in _DAMAGE)]
    damaged = error_line(damage[0], str(p)) if damage else None
    return MediaInfo(**{**info.__dict__, "frame_count": n, "damaged": damaged})


_DAMAGE = ("partial file", "corrupt", "invalid data", "truncat")  # words of a cut or damaged file in ffmpeg's log
