"""What a video file holds: size, rotation, pixel aspect, frame rate, time base, duration, frame count, audio.

Read with PyAV from the demuxer's and decoder's own fields (no log parsing): the first frame is decoded for the
rotation (display matrix) and to prove that the file holds a decodable picture; ``count_frames`` demuxes the video
stream's packets (no decoding) to count them and to tell a cut file from a whole one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from rtstyle.errors import InputError
from rtstyle.io.ffmpeg import av_reason, first_video_stream, open_input


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
    damaged: str | None = None  # what the frame count found wrong (a cut or corrupt file), None when nothing

    @property
    def square_size(self) -> tuple[int, int]:
        """(width, height) of the frames the decoder delivers: upright, square pixels."""
        return square_size(self.width, self.height, self.sar)


def square_size(width: int, height: int, sar: Fraction) -> tuple[int, int]:
    """Upright size with square pixels: the width stretched by ``sar``, to an even width (no padding for H.264)."""
    if sar > 0 and sar != 1:
        width = max(2, 2 * round(width * sar / 2))
    return width, height


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


def _fraction(value: object) -> Fraction | None:
    if value is None:
        return None
    try:
        f = Fraction(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if f > 0 else None


def _first_rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int | None:
    """The first decodable frame's display rotation (counter-clockwise degrees), None when no frame decodes."""
    try:
        for frame in container.decode(stream):
            return int(round(frame.rotation or 0))
    except (av.FFmpegError, ValueError):
        return None
    return None


def probe(path: str | os.PathLike, count_frames: bool = True, timeout: float = 120.0) -> MediaInfo:
    """Describe a video file; InputError (one line) when it is missing, unreadable, corrupt or has no frames.

    ``count_frames`` counts the video stream's packets (demuxing only, no decoding); a count short of the
    container's own index marks the file ``damaged`` (cut off). ``timeout`` bounds opening and each read.
    """
    p = check_readable(path)
    container = open_input(str(p), timeout=timeout)
    try:
        stream = first_video_stream(container)
        if stream is None:
            raise InputError(f"{p}: no video stream")
        cc = stream.codec_context
        cw, ch = int(cc.width or 0), int(cc.height or 0)
        if cw <= 0 or ch <= 0:
            raise InputError(f"{p}: video stream without a frame size (corrupt?)")
        audio = list(container.streams.audio)
        sar = _fraction(stream.sample_aspect_ratio) or _fraction(cc.sample_aspect_ratio) or Fraction(1)
        dar = _fraction(stream.display_aspect_ratio)
        rate = _fraction(stream.average_rate) or _fraction(stream.guessed_rate)
        fps = float(rate) if rate else 0.0
        tb = stream.time_base
        timescale = int(tb.denominator) if tb else None
        duration = None  # the file's (the longest stream's), as ffmpeg reports it
        if container.duration is not None:
            duration = container.duration / 1_000_000
        elif stream.duration is not None and tb:
            duration = float(stream.duration * tb)
        start = float(stream.start_time * tb) if stream.start_time is not None and tb else 0.0
        indexed = len(stream.index_entries) if stream.index_entries is not None else 0
        frames: int | None = int(stream.frames) if stream.frames else None
        if frames is None and stream.duration is not None and tb and fps:
            frames = int(round(float(stream.duration * tb) * fps))
        elif frames is None and duration and fps:
            frames = int(round(duration * fps))
        ccw = _first_rotation(container, stream)
        if ccw is None:
            raise InputError(f"{p}: the video stream holds no frames that decode")
        rotation = (-int(round(ccw / 90.0)) * 90) % 360
        w, h = cw, ch
        if rotation in (90, 270):
            w, h, sar = ch, cw, 1 / sar
            dar = 1 / dar if dar else None
        damaged = None
        if count_frames:
            n, why = _count_packets(str(p), timeout)
            if n == 0:
                raise InputError(f"{p}: the video stream holds no frames")
            frames = n
            if why is None and indexed > n:
                why = f"{indexed - n} of {indexed} frames missing (a cut file?)"
            damaged = why
        return MediaInfo(
            path=str(p),
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
            video_codec=cc.codec.canonical_name,
            has_audio=bool(audio),
            audio_codec=audio[0].codec_context.codec.canonical_name if audio else None,
            audio_tracks=len(audio),
            damaged=damaged,
        )
    finally:
        container.close()


def _count_packets(path: str, timeout: float) -> tuple[int, str | None]:
    """Video packets in ``path`` (demuxed from the start, not decoded) and what stopped the count early, if any."""
    container = open_input(path, timeout=timeout)
    n, why = 0, None
    try:
        stream = first_video_stream(container)
        if stream is None:
            return 0, None
        try:
            for packet in container.demux(stream):
                if packet.size:
                    n += 1
        except av.FFmpegError as exc:
            why = av_reason(exc, path)
    finally:
        container.close()
    return n, why
