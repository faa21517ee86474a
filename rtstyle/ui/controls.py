"""The hotkeys of the live window: :class:`Controls` holds what they change (a pure object, testable without a
display); the live session reads it before every frame."""

from __future__ import annotations

from dataclasses import dataclass, field

from rtstyle.choices import SMOOTH_MODES

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
