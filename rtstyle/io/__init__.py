"""Frames in and out.

``ffmpeg`` (the one FFmpeg: PyAV's, in process; its log kept off the terminal), ``probe`` (what a video file
holds), ``decode`` (frames and their timestamps), ``encode`` (frames and timestamps into MP4/MOV/MKV, WebM or GIF,
audio included), ``images`` (pictures), ``sources`` (camera, file, URL), ``demo_clip`` (the generated sample clip)
and ``sinks/`` (a video file, MJPEG over HTTP, push, virtual camera).

OpenCV's own log lines (a corrupt picture, a camera that cannot be opened) never reach the terminal: rtstyle says
what went wrong in one line of its own (:func:`quiet_opencv`, applied when this package is imported).
"""

from __future__ import annotations

import os

import cv2


def quiet_opencv() -> None:
    """Silence OpenCV's warnings and errors on stderr (rtstyle reports every failure itself)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_VIDEOIO_DEBUG", "0")
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # pragma: no cover - builds without the utils module
        setter = getattr(cv2, "setLogLevel", None)
        if setter is not None:
            setter(0)


quiet_opencv()
