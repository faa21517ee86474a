"""The one ffmpeg every part of rtstyle runs (decoding, encoding, ``--push``), started the same way everywhere.

The binary is the one bundled with ``imageio-ffmpeg`` (H.264, AAC, MP3 decoding) unless ``RTSTYLE_FFMPEG`` names
another. Every ffmpeg process is started with :func:`detached` (a terminal's Ctrl-C, SIGTERM or SIGHUP reaches
rtstyle alone, which then stops or finishes each ffmpeg itself) and its log is boiled down to one line with
:func:`error_line`.
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import lru_cache

import imageio_ffmpeg

from rtstyle.errors import InputError


def detached() -> dict:
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


def error_line(text: str, path: str) -> str:
    """The most telling error line of an ffmpeg run, without the ``[demuxer @ 0x...]`` prefix."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    ignore = ("At least one output file", "Exiting with exit code", "Error opening input file")
    for ln in reversed(lines):
        if any(ln.startswith(s) or s in ln for s in ignore):
            continue
        ln = re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", ln)
        return ln.replace(path + ": ", "").replace(path, "").strip(": ") or ln
    return "ffmpeg could not read it"


def run_ffmpeg(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``ffmpeg -hide_banner -nostdin ARGS`` to the end (stdout dropped, stderr kept); InputError on timeout."""
    try:
        return subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
            **detached(),
        )
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"ffmpeg took longer than {timeout:.0f} s to read {args[args.index('-i') + 1]}") from exc
