"""Video file sink: MP4/MOV/MKV (H.264), WebM (VP9 + Opus) or GIF by OUT's extension, with the input's timing
(VFR kept) and audio, written safely.

Frames and their timestamps go to a bounded queue; a writer thread encodes them with PyAV
(:class:`rtstyle.io.encode.Encoder`: every frame with its own timestamp, the audio interleaved as it goes).
A file must keep every frame: with ``lossless=True`` (the default for ``timestamps="pts"``) ``write`` waits when
the queue is full (back-pressure: the pipeline slows to the encoder's speed instead of losing frames).
``lossless=False`` (the default for ``timestamps="wallclock"``, the live recorder) drops the frame instead.
The output is written to a temporary file next to ``OUT``, unique to the run (``.OUT.<pid>-<random>.part.mp4``,
ending in OUT's own extension: two runs writing one OUT never share it), checked (it must read back as a video) and
renamed on ``close()``; ``abort()`` stops the encoder and deletes the temporary file, so nothing half-written or
corrupt ever carries OUT's name.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from rtstyle.adjust import to_bgr
from rtstyle.errors import InputError, OutputError, notice
from rtstyle.files import check_output_path, publish, remove_stale_parts, temp_path
from rtstyle.io.encode import GIF_FPS, GIF_MAX_WIDTH, VIDEO_SUFFIXES, Encoder, container_for, even_size, gif_size
from rtstyle.io.probe import probe
from rtstyle.io.sinks.base import Sink

_STOP = object()
PART_SUFFIX = ".mp4"  # temporary files of an MP4 end in .part.mp4 (of any OUT: .part + OUT's extension)

__all__ = ["PART_SUFFIX", "VIDEO_SUFFIXES", "VideoFileSink", "check_video_output", "part_suffix"]


def part_suffix(out: str | os.PathLike) -> str:
    """What OUT's temporary files end in after ``.part``: OUT's extension (lower case)."""
    return Path(out).suffix.lower() or PART_SUFFIX


def check_video_output(
    out: str | os.PathLike, inputs: tuple[str | os.PathLike | None, ...] = (), force: bool = False
) -> Path:
    """What every video writer checks before any work: OUT is writable, none of the inputs, not an existing file
    (unless ``force``), and named for a container rtstyle writes (.mp4, .m4v, .mov, .mkv, .webm, .gif)."""
    container_for(out)
    return check_output_path(out, inputs, force=force)


class VideoFileSink(Sink):
    """Write frames with their timestamps to a video file whose extension picks the container and codecs
    (:data:`rtstyle.io.encode.CONTAINERS`), plus ``audio_from``'s audio where the container takes sound.

    ``timestamps="pts"`` uses the timestamps given to ``write`` (a file's presentation times: variable frame rate
    survives); ``"wallclock"`` stamps each frame with the time ``write`` was called (webcam recording).
    Odd sizes are padded by one black row/column (yuv420p needs even sizes); see ``notes``. Frames of another size
    than ``size`` are resized to it. Audio is copied when the container takes the codec (MP4: AAC, MP3, AC-3,
    E-AC-3, ALAC; WebM: Opus, Vorbis; MKV: nearly any) and re-encoded (AAC; WebM: Opus) otherwise. ``encoder``
    names the video encoder (``nvenc``, ``qsv``, ``videotoolbox`` or an FFmpeg encoder name; None: the container's
    software encoder). A GIF keeps at most ``gif_fps`` frames a second, at most ``gif_width`` pixels wide. ``force`` (the library's default) replaces an existing OUT; ``force=False`` (the
    commands without ``--force``) refuses one that exists now and never replaces one that appears while writing
    (the video is then kept beside it, ``path`` says where).
    """

    name = "video-file"
    wants_hud = False

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        size: tuple[int, int],
        audio_from: str | os.PathLike | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        timestamps: str = "pts",
        *,
        lossless: bool | None = None,
        queue_size: int = 16,
        timescale: int | None = None,
        input_path: str | os.PathLike | None = None,
        shortest: bool = False,
        force: bool = True,
        encoder: str | None = None,
        gif_fps: float = GIF_FPS,
        gif_width: int = GIF_MAX_WIDTH,
    ) -> None:
        if timestamps == "source":  # alias
            timestamps = "pts"
        if timestamps not in ("pts", "wallclock"):
            raise ValueError("timestamps must be 'pts' (alias 'source') or 'wallclock'")
        w, h = int(size[0]), int(size[1])
        if w < 1 or h < 1:
            raise OutputError(f"cannot write a {w}x{h} video")
        self.path = check_output_path(path, (audio_from, input_path), force=force)
        container = container_for(path)
        self.force = force
        self.size = (w, h)
        self.timestamps = timestamps
        # a file keeps every frame (back-pressure); a live recording drops a frame rather than stall the loop
        self.lossless = (timestamps == "pts") if lossless is None else lossless
        self.notes: list[str] = []
        gif = container.muxer == "gif"
        if gif and gif_size(w, h, gif_width) != (w, h):
            gw, gh = gif_size(w, h, gif_width)
            self.notes.append(f"GIF scaled to {gw}x{gh} (at most {gif_width} px wide)")
        elif not gif and even_size(w, h) != (w, h):
            ew, eh = even_size(w, h)
            self.notes.append(f"odd frame size {w}x{h} padded to {ew}x{eh} (H.264 yuv420p needs even sizes)")
        audio_codec = None
        if audio_from is not None:
            info = probe(audio_from, count_frames=False)
            if info.has_audio and container.audio is None:
                self.notes.append(f"audio left out: {container.label} files have no sound")
                audio_from = None
            elif info.has_audio:
                audio_codec = info.audio_codec
            else:
                audio_from = None
        self.audio_codec = audio_codec
        self._frames = 0
        self._dropped = 0
        self._t0: float | None = None
        self._closed = False
        self.failed: str | None = None  # why close() failed (the pipeline may swallow close errors)
        self._error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        suffix = part_suffix(self.path)
        remove_stale_parts(self.path, suffix)  # left by runs that died; never a live run's
        tmp: Path | None = None
        enc: Encoder | None = None
        try:  # an interrupt anywhere in here leaves neither a temporary file nor an open encoder behind
            tmp = self.tmp_path = temp_path(self.path, suffix)
            enc = self._encoder = Encoder(
                tmp,
                w,
                h,
                fps,
                audio_from=str(audio_from) if audio_from is not None else None,
                audio_codec=audio_codec,
                crf=crf,
                preset=preset,
                timescale=timescale,
                shortest=shortest,
                container=container,
                encoder=encoder,
                gif_fps=gif_fps,
                gif_width=gif_width,
            )
            if self._encoder.audio_mode not in (None, "copy"):
                self.notes.append(
                    f"audio re-encoded to {self._encoder.audio_mode.upper()} ({audio_codec} does not go into"
                    f" {container.label} as it is)"
                )
            self._thread = threading.Thread(target=self._run, name="rtstyle-video-writer", daemon=True)
            self._thread.start()
        except BaseException:
            if enc is not None:
                enc.kill()
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise

    @property
    def audio_mode(self) -> str | None:
        """``"copy"``, ``"aac"`` or ``"opus"`` (re-encoded) or None (no audio)."""
        return self._encoder.audio_mode

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                frame, ts = item
                self._encoder.write(frame, ts)
                self._frames += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the pipeline thread via write/close
            self._error = exc
            while True:  # unblock a producer waiting on a full queue
                try:
                    if self._queue.get_nowait() is _STOP:
                        return
                except queue.Empty:
                    return

    def _raise_error(self) -> None:
        if self._error is not None:
            err = self._error
            if isinstance(err, OutputError):
                raise err
            raise OutputError(f"{self.path}: writing failed ({err})") from err

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        if self._closed:
            return
        self._raise_error()
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        ts = (now - self._t0) if self.timestamps == "wallclock" else float(timestamp)
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        else:
            frame = frame.copy()
        if frame.ndim == 2:
            frame = to_bgr(frame)[0]
        item = (frame, ts)
        if not self.lossless:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self._dropped += 1
            return
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                self._raise_error()
                if not self._thread.is_alive():
                    raise OutputError(f"{self.path}: the writer stopped") from None

    def close(self) -> None:
        """Flush every queued frame, finish the file, check that it reads back, and rename it to its final name."""
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put(_STOP)
            self._thread.join()
            self._raise_error()
            self._encoder.finish()
            self._final_check()
            published = publish(self.tmp_path, self.path, force=self.force, or_beside=True)
            if published != self.path:
                notice(
                    f"{self.path} appeared while this run was writing it and is left as it is; this video is {published}"
                )
                self.path = published
        except BaseException as exc:
            self.failed = str(exc) or type(exc).__name__
            self._discard()
            raise

    def _final_check(self) -> None:
        """The file must read back as a video, or it never carries OUT's name."""
        try:
            probe(self.tmp_path, count_frames=False)
        except InputError as exc:
            why = str(exc).replace(f"{self.tmp_path}: ", "")
            raise OutputError(f"{self.path}: the written video failed its final check ({why}); not kept") from None

    def abort(self) -> None:
        """Stop now: stop the encoder, delete the temporary file; OUT is left as it was."""
        if self._closed:
            return
        self._closed = True
        self.failed = "aborted"
        self._discard()

    def _discard(self) -> None:
        self._encoder.kill()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:  # pragma: no cover - drained just above
            pass
        self._thread.join(timeout=10)
        self.tmp_path.unlink(missing_ok=True)

    @property
    def stats(self) -> dict[str, float]:
        return {"frames": float(self._frames), "dropped": float(self._dropped)}
