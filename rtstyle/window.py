"""The live preview window: display detection, a HUD drawn on a copy of the frame, and hotkeys.

OpenCV HighGUI must be driven from the thread that created the window, so :class:`WindowSink` does no
drawing in ``write``: it keeps the newest frame, and the caller's loop (on the main thread) calls
:meth:`WindowSink.show` once per frame, which runs ``imshow`` + ``waitKey`` and returns the key pressed.
:class:`Controls` holds what the hotkeys change and is a pure object, testable without a display.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from rtstyle.choices import SMOOTH_MODES
from rtstyle.errors import DeviceError
from rtstyle.sinks import Sink

# --------------------------------------------------------------------------------------------- display


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
    import re
    from pathlib import Path

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


# --------------------------------------------------------------------------------------------- HUD

HUD_MARGIN = 6  # pixels between the frame's corner and the HUD box
HUD_ALPHA = 0.55  # darkness of the box behind the text


def hud_lines(
    fps: float,
    latency_ms: float,
    style: str,
    provider: str,
    extra: Mapping[str, object] | Sequence[str] | None = None,
) -> list[str]:
    """The text lines the HUD shows."""
    provider = provider.replace("ExecutionProvider", "")
    lines = [f"{fps:5.1f} fps  {latency_ms:4.0f} ms", f"style: {style}", f"provider: {provider}"]
    if isinstance(extra, Mapping):
        lines += [f"{k}: {v}" for k, v in extra.items()]
    elif extra:
        lines += [str(s) for s in extra]
    return lines


def _hud_font(shape: tuple[int, ...]) -> tuple[float, int, int]:
    """Font scale, thickness and line height for a frame of this shape (readable, small)."""
    h, w = shape[:2]
    scale = float(np.clip(min(h, w) / 720.0 * 0.8, 0.35, 1.0))
    thickness = 1 if scale < 0.8 else 2
    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    return scale, thickness, th + base + max(2, int(4 * scale))


def hud_rect(shape: tuple[int, ...], lines: Sequence[str]) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the HUD box (exclusive end) for a frame of this shape, clipped to the frame."""
    scale, thickness, line_h = _hud_font(shape)
    text_w = max(cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][0] for s in lines)
    pad = max(3, int(6 * scale))
    h, w = shape[:2]
    x0, y0 = min(HUD_MARGIN, w - 1), min(HUD_MARGIN, h - 1)
    x1 = min(w, x0 + text_w + 2 * pad)
    y1 = min(h, y0 + line_h * len(lines) + 2 * pad)
    return x0, y0, x1, y1


def draw_hud(
    frame: np.ndarray,
    fps: float,
    latency_ms: float,
    style: str,
    provider: str,
    extra: Mapping[str, object] | Sequence[str] | None = None,
) -> np.ndarray:
    """Return a copy of ``frame`` with a small semi-transparent HUD in the top-left corner.

    ``frame`` itself is left untouched, so the recording and the streaming outputs stay clean.
    """
    out = frame.copy()
    lines = hud_lines(fps, latency_ms, style, provider, extra)
    x0, y0, x1, y1 = hud_rect(out.shape, lines)
    if x1 <= x0 or y1 <= y0:
        return out
    box = out[y0:y1, x0:x1]
    box[:] = (box.astype(np.float32) * (1.0 - HUD_ALPHA)).astype(np.uint8)
    scale, thickness, line_h = _hud_font(out.shape)
    pad = max(3, int(6 * scale))
    # Text is drawn into the box view only, so nothing outside the box can change.
    for i, text in enumerate(lines):
        y = pad + line_h * (i + 1) - max(2, int(4 * scale))
        cv2.putText(box, text, (pad, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


# --------------------------------------------------------------------------------------------- hotkeys

SMOOTH_CYCLE = SMOOTH_MODES  # flow -> ema -> off (rtstyle.choices)
STRENGTH_STEP = 0.1

# Arrow keys as cv2.waitKeyEx reports them: GTK/X11, Qt, Windows, macOS.
KEYS_LEFT = frozenset({0xFF51, 0x01000012, 0x250000, 63234, 2})
KEYS_RIGHT = frozenset({0xFF53, 0x01000014, 0x270000, 63235, 3})
KEYS_ENTER = frozenset({10, 13, 0xFF0D, 0x01000004, 0x01000005})
KEYS_ESC = frozenset({27, 0x01000000})

HOTKEYS_HELP = (
    "n/p or arrows: next/previous style   s: smoothing (flow/ema/off)   +/-: strength   c: preserve colour   "
    "m: mirror   f: fullscreen   space: pause   Enter/k: snapshot   b: blend   h: HUD   q/Esc: quit"
)


@dataclass
class Controls:
    """What the hotkeys change. ``handle_key`` mutates it; the webcam loop reads it every frame."""

    styles: list[str]
    index: int = 0
    smooth: str = "flow"
    strength: float = 1.0
    preserve_color: bool = False
    mirror: bool = False
    fullscreen: bool = False
    paused: bool = False
    blend: bool = False
    show_hud: bool = True
    quit: bool = False
    snapshots_requested: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def style(self) -> str:
        return self.styles[self.index]

    def handle_key(self, key: int) -> bool:
        """Apply one key code (as from ``cv2.waitKeyEx``; -1 means none). True when it did something."""
        if key is None or key < 0:
            return False
        ch = chr(key).lower() if key < 256 else ""
        if key in KEYS_ESC or ch == "q":
            self.quit = True
        elif key in KEYS_RIGHT or ch == "n":
            self.index = (self.index + 1) % len(self.styles)
        elif key in KEYS_LEFT or ch == "p":
            self.index = (self.index - 1) % len(self.styles)
        elif ch == "s":
            i = SMOOTH_CYCLE.index(self.smooth) if self.smooth in SMOOTH_CYCLE else -1
            self.smooth = SMOOTH_CYCLE[(i + 1) % len(SMOOTH_CYCLE)]
        elif ch in ("+", "="):
            self.strength = round(min(1.0, self.strength + STRENGTH_STEP), 2)
        elif ch in ("-", "_"):
            self.strength = round(max(0.0, self.strength - STRENGTH_STEP), 2)
        elif ch == "c":
            self.preserve_color = not self.preserve_color
        elif ch == "m":
            self.mirror = not self.mirror
        elif ch == "f":
            self.fullscreen = not self.fullscreen
        elif ch == " ":
            self.paused = not self.paused
        elif key in KEYS_ENTER or ch == "k":
            self.snapshots_requested += 1
        elif ch == "b":
            self.blend = not self.blend
        elif ch == "h":
            self.show_hud = not self.show_hud
        else:
            return False
        return True

    def status(self) -> dict[str, str]:
        """The settings worth showing in the HUD's extra lines."""
        status = {
            "smooth": self.smooth,
            "strength": f"{self.strength:.1f}",
        }
        flags = [
            name
            for name, on in (
                ("colour", self.preserve_color),
                ("mirror", self.mirror),
                ("blend", self.blend),
                ("PAUSED", self.paused),
            )
            if on
        ]
        if flags:
            status["on"] = " ".join(flags)
        return status


# --------------------------------------------------------------------------------------------- window


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
