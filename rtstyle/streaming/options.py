"""What a command asks of the live outputs (filled from CLI flags)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StreamOptions:
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
