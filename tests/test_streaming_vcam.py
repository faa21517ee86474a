"""Virtual camera sink against a fake pyvirtualcam backend registered through pyvirtualcam's own registry."""

from __future__ import annotations

import builtins
import threading

import numpy as np
import pytest

from rtstyle.errors import DeviceError

pyvirtualcam = pytest.importorskip("pyvirtualcam")

from conftest import synthetic_frame  # noqa: E402

from rtstyle.io.sinks.outputs import StreamOptions, make_output_sinks  # noqa: E402
from rtstyle.io.sinks.vcam import VirtualCamSink, backend_hint, wait_sent  # noqa: E402


class FakeBackend:
    """Records what a virtual camera device would receive."""

    instances: list[FakeBackend] = []
    accept_fourcc: set[str] | None = None

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
        from pyvirtualcam.util import decode_fourcc

        fmt = decode_fourcc(fourcc)
        if FakeBackend.accept_fourcc is not None and fmt not in FakeBackend.accept_fourcc:
            raise RuntimeError(f"unsupported format {fmt}")
        self.width, self.height, self.fps, self.fmt = width, height, fps, fmt
        self.dev = device or "/dev/fake0"
        self.frames: list[np.ndarray] = []
        self.closed = False
        self.lock = threading.Lock()
        FakeBackend.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        with self.lock:
            self.frames.append(frame.copy())

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return self.dev

    def native_fourcc(self) -> None:
        return None


class FailingBackend(FakeBackend):
    def __init__(self, **kw) -> None:
        raise RuntimeError("No v4l2 loopback device found at /dev/video[0-99]. Did you run modprobe?")


@pytest.fixture()
def fake_backend(monkeypatch: pytest.MonkeyPatch):
    FakeBackend.instances = []
    FakeBackend.accept_fourcc = None
    backends = dict(pyvirtualcam.camera.BACKENDS)
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", backends)
    pyvirtualcam.register_backend("rtstyle-fake", FakeBackend)
    return FakeBackend


def test_frames_arrive_at_stream_size_in_bgr(fake_backend) -> None:
    sink = VirtualCamSink((128, 72), 60, backend="rtstyle-fake")
    frames = [synthetic_frame(72, 128, t) for t in range(3)]
    for t, f in enumerate(frames):
        sink.write(f, t / 60)
        assert wait_sent(sink, t + 1)
    sink.close()
    cam = fake_backend.instances[-1]
    assert (cam.width, cam.height, cam.fmt) == (128, 72, "24BG")
    assert cam.closed
    got = [f.reshape(72, 128, 3) for f in cam.frames]
    # each written frame arrived, in order, byte for byte (repeats of the last one are allowed)
    firsts = []
    for g in got:
        if not firsts or not np.array_equal(g, firsts[-1]):
            firsts.append(g)
    assert len(firsts) == 3
    for g, f in zip(firsts, frames, strict=True):
        assert np.array_equal(g, f)
    assert sink.stats["frames"] == 3


def test_fixed_size_letterboxes(fake_backend) -> None:
    sink = VirtualCamSink((161, 121), 30, backend="rtstyle-fake")  # odd size rounds down to even
    assert sink.size == (160, 120)
    frame = np.full((72, 128, 3), 200, np.uint8)  # 16:9 into 4:3 -> bars top and bottom
    sink.write(frame, 0.0)
    assert wait_sent(sink, 1)
    sink.close()
    out = fake_backend.instances[-1].frames[0].reshape(120, 160, 3)
    assert out[60, 80].tolist() == [200, 200, 200]
    assert out[0, 80].tolist() == [0, 0, 0] and out[-1, 80].tolist() == [0, 0, 0]
    assert out[60, 0].tolist() == [200, 200, 200]  # full width


def test_rgb_fallback_converts(fake_backend) -> None:
    fake_backend.accept_fourcc = {"raw "}  # RGB only
    sink = VirtualCamSink((8, 4), 30, backend="rtstyle-fake")
    frame = np.zeros((4, 8, 3), np.uint8)
    frame[..., 0] = 255  # blue in BGR
    sink.write(frame, 0.0)
    assert wait_sent(sink, 1)
    sink.close()
    cam = fake_backend.instances[-1]
    assert cam.fmt == "raw "
    assert cam.frames[0].reshape(4, 8, 3)[0, 0].tolist() == [0, 0, 255]


def test_write_never_blocks_on_a_slow_device(fake_backend) -> None:
    gate = threading.Event()

    class Slow(FakeBackend):
        def send(self, frame: np.ndarray) -> None:
            gate.wait(5)
            super().send(frame)

    pyvirtualcam.register_backend("rtstyle-slow", Slow)
    sink = VirtualCamSink((32, 16), 30, backend="rtstyle-slow")
    for i in range(50):
        sink.write(synthetic_frame(16, 32, i), i / 30)  # would hang here if write waited for the device
    assert sink.stats["frames"] == 50
    assert sink.stats["dropped"] >= 40  # newest-frame mailbox: stale frames replaced, not queued
    gate.set()
    sink.close()


def test_no_backend_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", {"v4l2loopback": FailingBackend})
    with pytest.raises(DeviceError) as e:
        VirtualCamSink((64, 48), 30)
    msg = str(e.value)
    assert "\n" not in msg
    assert "No v4l2 loopback device" in msg and "Did you run" not in msg
    assert backend_hint() in msg


def test_unknown_backend_and_platform_hints(fake_backend) -> None:
    with pytest.raises(DeviceError, match="unknown virtual camera backend"):
        VirtualCamSink((64, 48), 30, backend="nope")
    assert "modprobe v4l2loopback exclusive_caps=1" in backend_hint("Linux")
    assert "OBS" in backend_hint("Windows") and "Unity Capture" in backend_hint("Windows")
    assert "OBS" in backend_hint("Darwin")


def test_missing_pyvirtualcam_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "pyvirtualcam":
            raise ImportError("No module named 'pyvirtualcam'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(DeviceError, match=r"pip install 'rtstyle\[vcam\]'"):
        VirtualCamSink((64, 48), 30)


def test_make_output_sinks_builds_vcam(fake_backend) -> None:
    opts = StreamOptions(
        virtual_cam=True, vcam_size=(64, 48), vcam_fps=15, vcam_backend="rtstyle-fake", hud_on_output=True
    )
    sinks = make_output_sinks(opts, (128, 72), 30.0)
    try:
        assert len(sinks) == 1
        (sink,) = sinks
        assert isinstance(sink, VirtualCamSink)
        assert sink.size == (64, 48) and sink.fps == 15 and sink.wants_hud
        assert sink.description == "virtual camera /dev/fake0 (rtstyle-fake, 64x48 at 15 fps)"
    finally:
        for s in sinks:
            s.close()
    sinks = make_output_sinks(StreamOptions(virtual_cam=True, vcam_backend="rtstyle-fake"), (128, 72), 25.0)
    assert sinks[0].size == (128, 72) and sinks[0].fps == 25 and not sinks[0].wants_hud
    sinks[0].close()
