"""What a command asks of the live outputs (filled from CLI flags)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StreamOptions:
    virtual_cam: bool = False
    vcam_size: tuple[int, int] | None = None  # (width, height); None: the stream's size
    vcam_fps: float | None = None  # None: the stream's frame rate
    vcam_backend: str | None = None  # pyvirtualcam backend name; None: the platform default
    serve: str | None = None  # "[HOST:]PORT"; host defaults to 127.0.0.1
    jpeg_quality: int = 80
    serve_fps: float | None = None  # cap on frames sent to HTTP viewers
    push: str | None = None  # rtmp://, srt://, any URL ffmpeg takes
    push_audio: str | None = None  # None: silent track; else an ffmpeg audio input (microphone) spec
    hud_on_output: bool = False

    @property
    def any(self) -> bool:
        return bool(self.virtual_cam or self.serve or self.push)
