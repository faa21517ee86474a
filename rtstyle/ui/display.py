"""The live preview window: whether one can be opened here (:func:`has_display`) and the window itself.

OpenCV HighGUI must be driven from the thread that created the window, so :class:`WindowSink` does no drawing in
``write``: it keeps the newest frame, and the caller's loop (on the main thread) calls :meth:`WindowSink.show` once
per frame, which runs ``imshow`` + ``waitKey`` and returns the key pressed (:mod:`rtstyle.ui.controls` maps it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import sys
from pathlib import Path

import cv2
import numpy as np

from rtstyle.errors import DeviceError
from rtstyle.io.sinks.base import Sink


def has_display() -> bool:
    """True when a window can be opened (``cv2.imshow`` aborts the process when it cannot).

    Linux and other X11/Wayland systems: ``DISPLAY`` (a connection is tried with libX11's ``XOpenDisplay`` when
    that library is present) or ``WAYLAND_DISPLAY`` (only when OpenCV's GUI can talk Wayland: the Qt build in the
    opencv-python wheel ships the X11 plugin alone and aborts on a Wayland-only session). macOS, Windows: True.
    """
    if sys.platform in ("darwin", "win32", "cygwin"):
        return True
    display = os.environ.get("DISPLAY")
    if display and _x11_connects(display):
        return True
    return bool(os.environ.get("WAYLAND_DISPLAY")) and _wayland_ok()


def _wayland_ok() -> bool:
    """Whether this OpenCV build can open a window on Wayland without X11 (GTK can; a Qt without its plugin not)."""
    m = re.search(r"GUI:\s*(\S+)", cv2.getBuildInformation())
    gui = m.group(1).upper() if m else ""
    if "QT" in gui:
        platforms = Path(cv2.__file__).parent / "qt" / "plugins" / "platforms"
        if platforms.is_dir():
            return any("wayland" in p.name for p in platforms.iterdir())
        return True  # a system Qt: it normally has the Wayland plugin
    return gui not in ("", "NONE")


def _x11_connects(display: str) -> bool:
    """Try to open (and close) an X11 connection; trust the variable when libX11 cannot be loaded."""
    name = ctypes.util.find_library("X11")
    if not name:
        return True
    try:
        lib = ctypes.CDLL(name)
        lib.XOpenDisplay.restype = ctypes.c_void_p
        lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
        lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
        handle = lib.XOpenDisplay(display.encode())
    except (OSError, AttributeError):
        return True
    if not handle:
        return False
    lib.XCloseDisplay(handle)
    return True


class WindowSink(Sink):
    """A preview window. ``write`` only keeps the newest frame; :meth:`show` (main thread) displays it.

    Create it on the thread that will call :meth:`show`, and only when :func:`has_display` is True.
    """

    name = "window"
    wants_hud = True

    def __init__(self, title: str = "rtstyle", fullscreen: bool = False) -> None:
        self.title = title
        self._frame: np.ndarray | None = None
        self._closed = False
        self._shown = 0
        self._fullscreen = False
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        except cv2.error:
            raise DeviceError(
                "this OpenCV build cannot open windows (opencv-python-headless?): use --no-window with "
                "--record/--serve/--virtual-cam/--push, or install opencv-python"
            ) from None
        if fullscreen:
            self.set_fullscreen(True)

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        self._frame = frame

    def set_fullscreen(self, on: bool) -> None:
        if on == self._fullscreen or self._closed:
            return
        mode = cv2.WINDOW_FULLSCREEN if on else cv2.WINDOW_NORMAL
        cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, mode)
        self._fullscreen = on

    def show(self, frame: np.ndarray | None = None, wait_ms: int = 1) -> int:
        """Display ``frame`` (or the newest written one), pump events; return the key code or -1.

        Returns 27 (Esc) when the user closed the window with its close button.
        """
        if self._closed:
            return 27
        if frame is not None:
            self._frame = frame
        if self._frame is not None:
            cv2.imshow(self.title, self._frame)
            self._shown += 1
        key = cv2.waitKeyEx(max(1, wait_ms))
        if self._shown and self._window_closed():
            return 27
        return key

    def _window_closed(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass

    @property
    def stats(self) -> dict[str, float]:
        return {"shown": float(self._shown)}
