"""The live outputs a command asks for (virtual camera, MJPEG over HTTP, push): :class:`StreamOptions` and
:func:`make_output_sinks`, which opens them as :class:`rtstyle.io.sinks.base.Sink`s."""

from __future__ import annotations

from dataclasses import dataclass

from rtstyle.io.sinks.base import Sink
from rtstyle.io.sinks.mjpeg import MjpegServerSink
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
    push: str | None = None  # rtmp://, srt://, any URL ffmpeg takes
    push_audio: str | None = None  # None: silent track; "none": no audio; else an ffmpeg audio input spec "FMT:INPUT"
    push_bitrate: str | None = None  # video bitrate for --push, e.g. "2500k"; None: from size and fps
    push_format: str | None = None  # ffmpeg muxer for --push; None: from the URL scheme
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
                    wants_hud=options.hud_on_output,
                )
            )
        if options.push:
            sinks.append(
                PushSink(
                    options.push,
                    size,
                    fps,
                    audio=options.push_audio,
                    bitrate=options.push_bitrate,
                    fmt=options.push_format,
                    wants_hud=options.hud_on_output,
                )
            )
    except BaseException:
        for s in sinks:
            try:
                s.abort()
            except Exception:
                pass
        raise
    return sinks
