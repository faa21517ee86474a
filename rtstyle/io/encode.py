"""Encoding: BGR frames with their timestamps into an H.264 MP4 (plus the input's audio), through ffmpeg::

    ffmpeg -hide_banner -nostdin -loglevel error -f matroska -i pipe:0 [-i AUDIO_SOURCE]
           -map 0:v:0 [-map 1:a:0? -c:a copy|aac [-shortest]] -fps_mode passthrough -enc_time_base:v 1:1000000
           -vf [pad=EW:EH:0:0:black,]scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int,
               format=yuv420p,setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709
           -c:v libx264 -preset P -crf N -pix_fmt yuv420p
           -video_track_timescale T -movflags +faststart -f mp4 TMP

Frames go to ffmpeg on stdin in a Matroska stream (:mod:`rtstyle.io.matroska`), so the encoder sees the real
per-frame timestamps and variable frame rate survives.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections import deque

import numpy as np

from rtstyle.errors import OutputError
from rtstyle.io.ffmpeg import detached, error_line, ffmpeg_exe
from rtstyle.io.matroska import mkv_frame, mkv_header

# Audio codecs that go into MP4 as they are; anything else is re-encoded to AAC.
MP4_AUDIO_COPY = frozenset({"aac", "mp3", "ac3", "eac3", "alac"})


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even dimensions: the encoder pads odd sizes with one black row/column."""
    return width + (width & 1), height + (height & 1)


class Encoder:
    """An ffmpeg libx264 process fed with BGR frames and their timestamps (microsecond precision).

    ``write`` blocks while ffmpeg's stdin pipe is full; :class:`rtstyle.io.sinks.video.VideoFileSink` calls it from
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
                args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **detached()
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
        return error_line("\n".join(self._log), self.out_path)

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
