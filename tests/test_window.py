"""Window module: hotkeys (pure state), HUD drawing, display detection. No display needed."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import synthetic_frame

from rtstyle.ui import display
from rtstyle.ui.controls import Controls
from rtstyle.ui.display import has_display
from rtstyle.ui.hud import draw_hud, hud_lines, hud_rect


def test_style_keys_wrap_and_arrows() -> None:
    c = Controls(styles=["a", "b", "c"])
    assert c.style == "a"
    assert c.handle_key(ord("n")) and c.style == "b"
    assert c.handle_key(ord("N")) and c.style == "c"
    assert c.handle_key(ord("n")) and c.style == "a"  # wraps
    assert c.handle_key(ord("p")) and c.style == "c"
    for right in (0xFF53, 0x01000014, 0x270000):  # GTK, Qt, Windows
        c.index = 0
        assert c.handle_key(right) and c.style == "b"
    for left in (0xFF51, 0x01000012, 0x250000):
        c.index = 0
        assert c.handle_key(left) and c.style == "c"


def test_toggles_and_strength_bounds() -> None:
    c = Controls(styles=["a"], smooth="flow")
    assert not c.handle_key(-1)
    assert not c.handle_key(ord("z"))
    seen = []
    for _ in range(3):
        c.handle_key(ord("s"))
        seen.append(c.smooth)
    assert seen == ["ema", "off", "flow"]
    for _ in range(3):
        c.handle_key(ord("-"))
    assert c.strength == pytest.approx(0.7)
    for _ in range(10):
        c.handle_key(ord("+"))
    assert c.strength == 1.0
    for _ in range(20):
        c.handle_key(ord("-"))
    assert c.strength == 0.0
    c.handle_key(ord("="))
    assert c.strength == pytest.approx(0.1)
    for key, attr in (("c", "preserve_color"), ("m", "mirror"), ("f", "fullscreen"), (" ", "paused"), ("b", "blend")):
        before = getattr(c, attr)
        assert c.handle_key(ord(key))
        assert getattr(c, attr) is (not before)
    assert c.show_hud
    c.handle_key(ord("h"))
    assert not c.show_hud
    c.handle_key(13)
    c.handle_key(ord("k"))
    c.handle_key(10)
    assert c.snapshots_requested == 3
    assert not c.quit


@pytest.mark.parametrize("key", [ord("q"), ord("Q"), 27])
def test_quit_keys(key: int) -> None:
    c = Controls(styles=["a"])
    assert c.handle_key(key)
    assert c.quit


def test_status_lists_active_flags() -> None:
    c = Controls(styles=["a"], smooth="ema", strength=0.5, mirror=True)
    st = c.status()
    assert st["smooth"] == "ema" and st["strength"] == "0.5"
    assert "mirror" in st["on"] and "colour" not in st["on"]


@pytest.mark.parametrize("shape", [(360, 640), (64, 96), (720, 1280)])
def test_hud_changes_only_its_box_and_not_the_input(shape: tuple[int, int]) -> None:
    frame = synthetic_frame(*shape)
    original = frame.copy()
    out = draw_hud(frame, 29.7, 33.0, "mosaic", "CUDAExecutionProvider", {"smooth": "flow"})
    assert np.array_equal(frame, original), "draw_hud must not modify the frame other sinks receive"
    assert out.shape == frame.shape and out.dtype == np.uint8
    diff = np.any(out != frame, axis=2)
    assert diff.any(), "the HUD drew nothing"
    x0, y0, x1, y1 = hud_rect(frame.shape, hud_lines(29.7, 33.0, "mosaic", "CUDAExecutionProvider", {"smooth": "flow"}))
    outside = diff.copy()
    outside[y0:y1, x0:x1] = False
    assert not outside.any(), "the HUD changed pixels outside its box"
    # Small: the box covers well under half of a normal-size frame.
    if shape[0] >= 360:
        assert (x1 - x0) * (y1 - y0) < 0.25 * shape[0] * shape[1]
    # Readable: white text pixels inside a darkened box.
    box = out[y0:y1, x0:x1]
    assert (box.min(axis=2) > 200).any()
    assert np.median(box) < np.median(frame[y0:y1, x0:x1])  # background darkened


def test_hud_text_content() -> None:
    lines = hud_lines(12.0, 80.0, "candy", "CPUExecutionProvider", ["extra line"])
    assert any("12.0 fps" in s for s in lines)
    assert any("candy" in s for s in lines)
    assert any(s.endswith("CPU") for s in lines)
    assert lines[-1] == "extra line"


def test_has_display_false_without_display_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert has_display() is False


def test_has_display_false_for_unreachable_x_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display.sys, "platform", "linux")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":97")  # no X server listens there
    if display.ctypes.util.find_library("X11") is None:
        pytest.skip("libX11 not installed: the DISPLAY variable is trusted")
    assert has_display() is False


def test_has_display_true_on_wayland_and_other_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setattr(display, "_wayland_ok", lambda: True)
    assert has_display() is True
    # An OpenCV whose GUI cannot talk Wayland (the wheel's Qt has only the X11 plugin) would abort: no display.
    monkeypatch.setattr(display, "_wayland_ok", lambda: False)
    assert has_display() is False
    monkeypatch.delenv("WAYLAND_DISPLAY")
    for platform in ("darwin", "win32"):
        monkeypatch.setattr(display.sys, "platform", platform)
        assert has_display() is True
