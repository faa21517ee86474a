"""Decoding: one ffmpeg process turns a file or URL into upright, square-pixel BGR frames with timestamps::

    ffmpeg -hide_banner -nostdin -nostats -loglevel info -i IN -map 0:V:0 -an -sn -dn
           -fps_mode passthrough -vf scale=w='W':h=ih,setsar=1,format=bgr24,showinfo=checksum=0
           -f rawvideo pipe:1

ffmpeg rotates upright by itself (display matrix); ``-fps_mode passthrough`` keeps variable frame rate frames as
they are (no duplicates, no drops); ``W`` (``_SQUARE_W``) stretches non-square pixels to square ones (even width).
The ``showinfo`` line of each frame on stderr gives its size and ``pts_time``, which a reader thread pairs with the
raw bytes read from stdout (one line per frame, in order).
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from collections import deque

import numpy as np

from rtstyle.errors import InputError
from rtstyle.io.ffmpeg import detached, error_line, ffmpeg_exe

# Square pixels: stretch the width by the sample aspect ratio, to an even width (no padding needed for H.264 later).
_SQUARE_W = "if(gt(sar,0)*not(eq(sar,1)),max(2,2*round(iw*sar/2)),iw)"
_RE_SHOWINFO = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(\S+)\s+pts_time:(\S+).*?\bs:(\d+)x(\d+)")
_END = object()


class Decoder:
    """One ffmpeg process decoding ``url`` to upright, square-pixel BGR frames with presentation timestamps.

    A stdout reader thread fills a small queue so decoding overlaps whatever the caller does with a frame.
    ``latest_only`` keeps just the newest frame (live streams: a slow consumer gets fresh frames, not a backlog).
    The constructor waits for the first frame (``open_timeout`` seconds) so that a file that cannot be decoded
    fails here with one clear line; ``width``/``height`` are then the real decoded size.
    """

    def __init__(
        self,
        url: str,
        *,
        square_pixels: bool = True,
        latest_only: bool = False,
        queue_size: int = 4,
        input_args: tuple[str, ...] = (),
        open_timeout: float = 60.0,
        label: str | None = None,
    ) -> None:
        self.url = url
        self.label = label or url
        self.latest_only = latest_only
        vf = [f"scale=w='{_SQUARE_W}':h=ih,setsar=1"] if square_pixels else []
        vf += ["format=bgr24", "showinfo=checksum=0"]
        self.command = [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-loglevel",
            "info",
            *input_args,
            "-i",
            url,
            "-map",
            "0:V:0",  # the first video stream that is not cover art
            "-an",
            "-sn",
            "-dn",
            "-fps_mode",
            "passthrough",
            "-vf",
            ",".join(vf),
            "-f",
            "rawvideo",
            "pipe:1",
        ]
        self._meta: queue.Queue = queue.Queue()
        self._frames: queue.Queue = queue.Queue(maxsize=1 if latest_only else max(1, queue_size))
        self._log: deque[str] = deque(maxlen=30)
        self._stop = threading.Event()
        self.error: str | None = None
        self.frames_decoded = 0
        self.frames_dropped = 0
        self.width = 0
        self.height = 0
        try:
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                **detached(),
            )
        except OSError as exc:
            raise InputError(f"cannot start ffmpeg: {exc}") from exc
        self._err_thread = threading.Thread(target=self._read_stderr, name="rtstyle-decode-log", daemon=True)
        self._err_thread.start()
        try:
            self._first = self._meta.get(timeout=open_timeout) if open_timeout else self._meta.get()
        except queue.Empty:
            self.close()
            raise InputError(f"{self.label}: no frame within {open_timeout:.0f} s") from None
        if self._first is _END:
            self._proc.wait()
            self.close()
            raise InputError(f"{self.label}: no video frames could be decoded ({self.last_error()})")
        self.width, self.height = self._first[2], self._first[3]
        self._out_thread = threading.Thread(target=self._read_frames, name="rtstyle-decode", daemon=True)
        self._out_thread.start()

    def last_error(self) -> str:
        return error_line("\n".join(self._log), self.url)

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        try:
            for raw in self._proc.stderr:
                line = raw.decode("utf-8", "replace")
                m = _RE_SHOWINFO.search(line) if "showinfo" in line else None
                if m:
                    t = m.group(3)
                    pts = float(t) if t not in ("NOPTS", "nan") else None
                    self._meta.put((int(m.group(1)), pts, int(m.group(4)), int(m.group(5))))
                elif "showinfo" not in line and line.strip():
                    self._log.append(line.rstrip())
        except (OSError, ValueError):  # pipe closed while stopping
            pass
        finally:
            self._meta.put(_END)

    def _put(self, item: object) -> None:
        if not self.latest_only:
            while not self._stop.is_set():
                try:
                    self._frames.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue
            return
        while True:  # newest only: replace what the consumer has not taken yet
            try:
                self._frames.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._frames.get_nowait()
                    if item is not _END:
                        self.frames_dropped += 1
                except queue.Empty:
                    pass

    def _read_exact(self, n: int) -> bytearray | None:
        assert self._proc.stdout is not None
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = self._proc.stdout.readinto(view[got:])
            except (OSError, ValueError):  # pipe closed while stopping
                return None
            if not k:
                return None
            got += k
        return buf

    def _read_frames(self) -> None:
        meta = self._first
        last_pts = None
        try:
            while meta is not _END and not self._stop.is_set():
                _, pts, w, h = meta
                data = self._read_exact(w * h * 3)
                if data is None:
                    break
                frame = np.frombuffer(data, np.uint8).reshape(h, w, 3)
                if pts is None:
                    pts = 0.0 if last_pts is None else last_pts + 1e-3
                last_pts = pts
                self.frames_decoded += 1
                self._put((frame, pts))
                meta = self._meta.get()
        finally:
            if self._proc.poll() is None and self._stop.is_set():
                self._proc.kill()
            rc = self._proc.wait()
            if rc != 0 and not self._stop.is_set() and self.frames_decoded == 0:
                self.error = self.last_error()
            self._put(_END)

    def read(self, timeout: float | None = None) -> tuple[np.ndarray, float] | None:
        """The next ``(frame, pts_seconds)``, or None at the end (or after ``timeout`` seconds without a frame)."""
        try:
            item = self._frames.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self._frames.put(_END)  # stay at the end for later calls
            if self.error:
                raise InputError(f"{self.label}: decoding failed ({self.error})")
            return None
        return item  # type: ignore[return-value]

    @property
    def finished(self) -> bool:
        return self._proc.poll() is not None and self._frames.empty()

    def close(self) -> None:
        self._stop.set()
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        # the reader threads end at EOF now that ffmpeg is gone; close the pipes only after them
        for t in (self._err_thread, getattr(self, "_out_thread", None)):
            if t is not None and t is not threading.current_thread():
                t.join(timeout=5)
        for f in (self._proc.stdout, self._proc.stderr):
            try:
                if f:
                    f.close()
            except OSError:  # pragma: no cover
                pass
