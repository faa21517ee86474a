"""The one FFmpeg every part of rtstyle uses (probing, decoding, encoding, ``--push``): PyAV's, in process.

PyAV's wheels bundle FFmpeg (H.264 through libx264, VP9, Opus, AAC, GIF); no ffmpeg executable is run. FFmpeg's
log goes to PyAV's ``libav`` logger, kept off the terminal here (:func:`quiet_libav`): every failure is reported
by rtstyle in one line of its own, made from the exception and FFmpeg's last error message (:func:`av_reason`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import av

from rtstyle.errors import InputError


def quiet_libav() -> None:
    """Keep FFmpeg's messages (the ``libav`` logger) for the exceptions but off stderr."""
    av.logging.set_level(av.logging.ERROR)  # errors are kept as the "last error" of each exception
    log = logging.getLogger("libav")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())
    log.propagate = False


quiet_libav()


def av_reason(exc: BaseException, path: str = "") -> str:
    """One line saying why FFmpeg failed: its error text, plus its last log message when that says more."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    log = getattr(exc, "log", None)
    if log and len(log) >= 3 and log[2]:
        detail = str(log[2]).strip().splitlines()[0] if str(log[2]).strip() else ""
        if detail and detail.lower() not in text.lower():
            text = f"{text}: {detail}"
    text = re.sub(r"\s+", " ", text).strip()
    if path:
        text = text.replace(f"'{path}'", "").replace(path, "").strip(" :;")
    return text or "FFmpeg could not read it"


def open_input(
    url: str,
    *,
    timeout: float | None = 60.0,
    options: Mapping[str, str] | None = None,
    fmt: str | None = None,
    label: str | None = None,
) -> av.container.InputContainer:
    """Open ``url`` (file or network stream) for reading; InputError in one line when FFmpeg cannot."""
    try:
        return av.open(
            url,
            "r",
            format=fmt,
            options=dict(options or {}),
            timeout=timeout,
            metadata_errors="replace",
        )
    except av.FFmpegError as exc:
        raise InputError(f"{label or url}: not a readable video ({av_reason(exc, url)})") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{label or url}: cannot open it ({exc})") from None


def first_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The first video stream that is not cover art (an attached picture), or None."""
    for stream in container.streams.video:
        disp = getattr(stream, "disposition", 0)
        try:
            attached = bool(disp & av.stream.Disposition.attached_pic)
        except (AttributeError, TypeError):  # pragma: no cover - older PyAV
            attached = False
        if not attached:
            return stream
    return None


def ffmpeg_version() -> str:
    """``FFmpeg <libavcodec version> (PyAV <version>)``."""
    codec = ".".join(str(x) for x in av.library_versions.get("libavcodec", ()))
    return f"FFmpeg libraries from PyAV {av.__version__} (libavcodec {codec})"
