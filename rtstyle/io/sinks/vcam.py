"""Virtual camera output through ``pyvirtualcam`` (OBS Virtual Camera, v4l2loopback, Unity Capture).

``pyvirtualcam`` is the optional extra ``rtstyle[vcam]`` and is imported only when a virtual camera is asked for.
Frames are letterboxed (aspect ratio kept, black bars) to the camera size; the camera size is rounded down to even
numbers because the YUV formats that virtual cameras use need them. A worker thread sends the newest frame at the
camera's frame rate (paced with ``sleep_until_next_frame``) and re-sends the last frame twice a second when the
stream stalls, so meeting apps do not see a dead camera; ``write`` only copies the frame into a one-slot mailbox.
"""

from __future__ import annotations

import platform
import threading
import time

import cv2
import numpy as np

from rtstyle.errors import DeviceError
from rtstyle.io.sinks.base import Sink
from rtstyle.io.sinks.common import Mailbox, letterbox

INSTALL_HINT = "pip install 'rtstyle[vcam]'"
KEEPALIVE_S = 0.5


def backend_hint(system: str | None = None) -> str:
    """What to install for a virtual camera backend on this platform."""
    system = system or platform.system()
    if system == "Linux":
        return "load v4l2loopback: sudo modprobe v4l2loopback exclusive_caps=1 card_label=rtstyle"
    if system == "Windows":
        return "install OBS Studio and start its Virtual Camera once (or install Unity Capture)"
    if system == "Darwin":
        return "install OBS Studio (28 or newer) and start its Virtual Camera once"
    return "no virtual camera backend is known for this platform"


def _import_pyvirtualcam():
    try:
        import pyvirtualcam
    except ImportError as e:
        raise DeviceError(f"--virtual-cam needs pyvirtualcam: {INSTALL_HINT}") from e
    return pyvirtualcam


class VirtualCamSink(Sink):
    """Send frames to a virtual camera that meeting apps and OBS can pick."""

    name = "vcam"

    def __init__(
        self,
        size: tuple[int, int],
        fps: float,
        *,
        backend: str | None = None,
        device: str | None = None,
        wants_hud: bool = False,
    ) -> None:
        pyvirtualcam = _import_pyvirtualcam()
        w, h = int(size[0]) // 2 * 2, int(size[1]) // 2 * 2
        if w < 2 or h < 2:
            raise DeviceError(f"virtual camera size too small: {size[0]}x{size[1]}")
        self.size = (w, h)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.wants_hud = wants_hud
        if backend is not None and backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(sorted(pyvirtualcam.camera.BACKENDS)) or "none on this platform"
            raise DeviceError(f"unknown virtual camera backend {backend!r} (known: {known})")
        if not pyvirtualcam.camera.BACKENDS:
            raise DeviceError(f"no virtual camera backend for this platform: {backend_hint()}")
        self._rgb = False
        try:
            self._cam = pyvirtualcam.Camera(
                w, h, self.fps, fmt=pyvirtualcam.PixelFormat.BGR, backend=backend, device=device
            )
        except Exception as bgr_error:  # some backends may lack BGR input: retry with RGB
            try:
                self._cam = pyvirtualcam.Camera(
                    w, h, self.fps, fmt=pyvirtualcam.PixelFormat.RGB, backend=backend, device=device
                )
                self._rgb = True
            except Exception:
                reason = "; ".join(
                    line.strip().split(". ")[0].rstrip(".") for line in str(bgr_error).splitlines() if line.strip()
                )
                raise DeviceError(f"no virtual camera available ({reason or 'no backend'}): {backend_hint()}") from None
        self.device = self._cam.device
        self.backend = self._cam.backend
        self._box = Mailbox()
        self._frames_in = 0
        self._sent = 0
        self._repeats = 0
        self._latency_sum = 0.0
        self._latency_n = 0
        self._error: BaseException | None = None
        self._error_raised = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="rtstyle-vcam", daemon=True)
        self._thread.start()

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        self._raise_error()
        self._frames_in += 1
        self._box.put((frame.copy(), time.monotonic()))

    def _run(self) -> None:
        last: np.ndarray | None = None
        try:
            while True:
                item = self._box.take(timeout=KEEPALIVE_S)
                if item is None and self._box.closed:
                    break
                t_write = None
                if item is not None:
                    frame, t_write = item
                    out = letterbox(frame, self.size)
                    if self._rgb:
                        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
                    last = np.ascontiguousarray(out)
                elif last is None:
                    continue
                else:
                    self._repeats += 1
                self._cam.send(last)
                self._sent += 1
                if t_write is not None:
                    self._latency_sum += time.monotonic() - t_write
                    self._latency_n += 1
                self._cam.sleep_until_next_frame()
        except Exception as e:  # device gone, backend error
            self._error = e

    def _raise_error(self) -> None:
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise DeviceError(f"virtual camera {self.device} failed: {self._error}")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._box.close()
        self._thread.join(timeout=5)
        try:
            self._cam.close()
        except Exception:
            pass
        self._raise_error()

    @property
    def stats(self) -> dict[str, float]:
        return {
            "frames": self._frames_in,
            "sent": self._sent,
            "dropped": self._box.replaced,
            "repeated": self._repeats,
            "fps": self.fps,
            "latency_ms": 1000 * self._latency_sum / self._latency_n if self._latency_n else 0.0,
        }

    @property
    def description(self) -> str:
        """One line for the terminal: which virtual camera to pick in the meeting app."""
        return f"virtual camera {self.device} ({self.backend}, {self.size[0]}x{self.size[1]} at {self.fps:g} fps)"

    def __repr__(self) -> str:
        return f"VirtualCamSink({self.size[0]}x{self.size[1]}@{self.fps:g}, {self.backend}:{self.device})"


def wait_sent(sink: VirtualCamSink, n: int, timeout: float = 5.0) -> bool:
    """Wait until ``sink`` has sent at least ``n`` frames (for tests and the benchmark)."""
    deadline = time.monotonic() + timeout
    while sink.stats["sent"] < n:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
