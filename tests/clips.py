"""Test clips made here with PyAV (FFmpeg's lavfi test sources, a few frames at a tiny size): no ffmpeg
executable and nothing from ../shared."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from rtstyle.io.decode import Decoder

AUDIO_ENCODERS = {"aac": "aac", "mp3": "libmp3lame", "vorbis": "vorbis", "opus": "libopus", "flac": "flac"}


def vfr_times(n: int) -> list[float]:
    """Timestamps of the VFR clip: irregular steps and a 0.5 s gap."""
    return [i * 0.1 + 0.04 * (i % 2) + (0.5 if i >= 6 else 0.0) for i in range(n)]


def _pictures(size: tuple[int, int], rate: int, frames: int) -> list[np.ndarray]:
    w, h = size
    src = av.open(f"testsrc=size={w}x{h}:rate={rate}", format="lavfi")
    out = []
    try:
        for frame in src.decode(video=0):
            out.append(frame.to_ndarray(format="bgr24"))
            if len(out) >= frames:
                break
    finally:
        src.close()
    return out


def _add_audio(out: av.container.OutputContainer, codec: str, seconds: float, freq: int) -> list[av.Packet]:
    """Encode ``seconds`` of a sine tone; returns its packets (muxed by the caller, after the video's)."""
    options = {"strict": "experimental"} if codec == "vorbis" else {}
    stream = out.add_stream(AUDIO_ENCODERS[codec], rate=48000 if codec == "opus" else 44100, options=options)
    stream.layout = "stereo" if codec in ("vorbis", "opus") else "mono"
    fmt = stream.codec_context.codec.audio_formats[0].name
    resampler = av.AudioResampler(format=fmt, layout=stream.layout.name, rate=stream.rate)
    src = av.open(f"sine=frequency={freq}:sample_rate=44100:duration={seconds:.3f}", format="lavfi")
    frames = []
    try:
        for frame in src.decode(audio=0):
            frame.pts = None
            frames += resampler.resample(frame)
    finally:
        src.close()
    frames += resampler.resample(None)
    samples = 0
    for f in frames:  # timestamps from 0, in samples
        f.pts = samples
        f.time_base = Fraction(1, stream.rate)
        samples += f.samples
    return [stream, frames]  # type: ignore[list-item]


def write_clip(
    path: Path,
    size: tuple[int, int] = (96, 64),
    rate: int = 10,
    frames: int = 10,
    times: Sequence[float] | None = None,
    audio: Sequence[str] = (),
    audio_seconds: float | None = None,
    sar: Fraction | None = None,
    rotate: int | None = None,
    tones: Sequence[int] = (440, 880, 660),
) -> Path:
    """A clip of ``frames`` testsrc pictures at ``times`` (default: every 1/rate s) with one audio track per entry of
    ``audio`` (codec names of :data:`AUDIO_ENCODERS`)."""
    w, h = size
    odd = w % 2 or h % 2
    fmt = {".mkv": "matroska", ".mp4": "mp4", ".mov": "mov", ".webm": "webm"}.get(path.suffix.lower())
    options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
    out = av.open(str(path), "w", format=fmt, options=options)
    try:
        codec = "ffv1" if odd else "libx264"
        vs = out.add_stream(codec, rate=rate, options={"preset": "ultrafast"} if codec == "libx264" else {})
        vs.width, vs.height = w, h
        vs.pix_fmt = "yuv444p" if odd else "yuv420p"
        vs.codec_context.time_base = Fraction(1, 1000)
        if sar is not None:
            vs.codec_context.sample_aspect_ratio = Fraction(sar)
        if rotate is not None:
            vs.set_display_rotation(rotate)
        tracks = []
        seconds = audio_seconds if audio_seconds is not None else frames / rate
        for i, codec_name in enumerate(audio):
            tracks.append(_add_audio(out, codec_name, seconds, tones[i % len(tones)]))
        stamps = list(times) if times is not None else [i / rate for i in range(frames)]
        for picture, t in zip(_pictures(size, rate, frames), stamps, strict=False):
            vf = av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(format=vs.pix_fmt)
            vf.pts = int(round(t * 1000))
            vf.time_base = Fraction(1, 1000)
            for packet in vs.encode(vf):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        for stream, audio_frames in tracks:
            for af in [*audio_frames, None]:
                for packet in stream.encode(af):
                    out.mux(packet)
    finally:
        out.close()
    return path


def make_clip(
    path: Path,
    size: tuple[int, int] = (96, 64),
    rate: int = 10,
    frames: int = 10,
    audio: str | None = None,
    vfr: bool = False,
    sar: int | str | None = None,
    rotate: int | None = None,
) -> Path:
    """A small test clip. ``audio``: None, "aac", "mp3", "flac" or "vorbis" (the last two need .mkv); ``vfr``: :func:`vfr_times`
    timestamps; ``sar``: sample aspect ratio (N or "A/B"); ``rotate``: display-matrix rotation. Missing folders
    of ``path`` are made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    seconds = frames / rate + 0.5 if vfr else frames / rate
    return write_clip(
        path,
        size,
        rate,
        frames,
        times=vfr_times(frames) if vfr else None,
        audio=(audio,) if audio else (),
        audio_seconds=seconds,
        sar=Fraction(sar) if sar else None,
        rotate=rotate,
    )


def empty_video(path: Path, size: tuple[int, int] = (16, 16)) -> Path:
    """A Matroska file with a video track and no frames."""
    out = av.open(str(path), "w", format="matroska")
    try:
        vs = out.add_stream("ffv1", rate=10)
        vs.width, vs.height = size
        vs.pix_fmt = "yuv444p"
        out.start_encoding()
    finally:
        out.close()
    return path


def audio_only(path: Path, seconds: float = 0.5) -> Path:
    """An AAC file with no video stream."""
    out = av.open(str(path), "w", format="mp4")
    try:
        stream, frames = _add_audio(out, "aac", seconds, 440)
        for af in [*frames, None]:
            for packet in stream.encode(af):
                out.mux(packet)
    finally:
        out.close()
    return path


def decode_all(path: Path) -> tuple[list[np.ndarray], list[float]]:
    dec = Decoder(str(path))
    frames, times = [], []
    try:
        while (item := dec.read()) is not None:
            frames.append(item[0])
            times.append(item[1])
    finally:
        dec.close()
    return frames, times


def write_frames(path: Path, pictures: Sequence[np.ndarray], rate: int = 10, crf: int = 12) -> Path:
    """BGR ``pictures`` at ``rate`` frames a second into an H.264 file (libx264 ultrafast, ``crf``)."""
    h, w = pictures[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    out = av.open(str(path), "w")
    try:
        vs = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": str(crf)})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        for i, picture in enumerate(pictures):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="bgr24")
            vf.pts = i
            vf.time_base = Fraction(1, rate)
            for packet in vs.encode(vf):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
    finally:
        out.close()
    return path


def panning(n: int, h: int, w: int, shift: int, seed: int = 0) -> list[np.ndarray]:
    """A blurred random texture panning by ``shift`` px per frame: frame_t(x) = frame_{t-1}(x + shift)."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.integers(0, 256, (h, w + shift * n + 8, 3), dtype=np.uint8), (0, 0), 2.0)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX)
    return [np.ascontiguousarray(big[:, shift * t : shift * t + w]) for t in range(n)]


def flicker(frames: Sequence[np.ndarray], sigma: float = 18.0, seed: int = 1) -> list[np.ndarray]:
    """A fake stylizer: each frame plus fresh low-frequency noise (an 8x coarser grid, upsampled)."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        h, w = f.shape[:2]
        noise = cv2.resize(rng.normal(0, sigma, (h // 8, w // 8, 3)).astype(np.float32), (w, h))
        out.append(np.clip(f.astype(np.float32) + noise, 0, 255).astype(np.uint8))
    return out
