"""``rtstyle webcam`` and ``rtstyle cameras``: headless runs on a generated clip, errors as one line, hotkeys."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from clips import write_clip
from conftest import synthetic_frame

from rtstyle.cli.options import parse_styles
from rtstyle.errors import DeviceError
from rtstyle.io.sinks.outputs import StreamOptions
from rtstyle.io.sources import camera_spec
from rtstyle.pipeline import live
from rtstyle.pipeline.live import LiveOptions, run_live
from rtstyle.runtime.hardware import physical_cores
from rtstyle.ui.hud import hud_lines, hud_rect

# Runs the real entry point (error handling included) with only the commands under test registered,
# so these tests do not depend on the other command modules.
RUNNER = (
    "import sys; from rtstyle.cli import main as m; m.COMMAND_MODULES = ('webcam', 'cameras'); m.main(sys.argv[1:])"
)


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    """A 1 s, 10 fps, 96x64 H.264 clip (10 frames)."""
    return write_clip(tmp_path / "clip.mp4", (96, 64), 10, 10)


def headless_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        cwd=cwd,
        env=env or headless_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def count_frames(path: Path) -> tuple[int, str]:
    """Decode the whole file; returns (frames, "codec WxH" of its video stream)."""
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        frames = sum(1 for _ in c.decode(video=0))
        return frames, f"{cc.codec.canonical_name} {cc.width}x{cc.height}"


def test_parse_styles_and_camera_spec() -> None:
    assert parse_styles(["a,b", "c", "a", " d , "]) == ["a", "b", "c", "d"]
    assert parse_styles(None) == []
    assert camera_spec("0") == 0
    assert camera_spec(" 2 ") == 2
    assert camera_spec("clip.mp4") == "clip.mp4"
    assert camera_spec("rtsp://host/x") == "rtsp://host/x"


def test_snapshot_names_are_unique(tmp_path: Path) -> None:
    a = live.snapshot_path(tmp_path)
    a.write_bytes(b"x")
    b = live.snapshot_path(tmp_path)
    assert a != b and a.parent == b.parent == tmp_path
    assert re.fullmatch(r"rtstyle-\d{8}-\d{6}-\d{3}(-\d+)?\.png", b.name)


def test_headless_record_from_file(models_dir: Path, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    res = run_cli(
        "webcam", "--camera", str(clip), "--no-window", "--record", str(out), "--max-frames", "6",
        "--as-fast-as-possible", "--style", "alpha", "--device", "cpu",
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert out.is_file()
    frames, info = count_frames(out)
    assert frames == 6
    assert "h264" in info and "96x64" in info
    assert re.search(r"\b6 frames\b", res.stdout) and "provider CPU" in res.stdout
    assert re.search(r"latency p50 \d+ ms, p95 \d+ ms", res.stdout)
    assert not list(tmp_path.glob("*.png"))  # no snapshot without a key press
    assert clip.stat().st_size > 0  # input untouched


def test_no_display_without_outputs_is_one_line(models_dir: Path, clip: Path, tmp_path: Path) -> None:
    res = run_cli("webcam", "--camera", str(clip), "--style", "alpha", cwd=tmp_path)
    assert res.returncode == 1  # a failure of the run (2 is the command line)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0] == f"rtstyle: error: {live.NO_DISPLAY}"


def test_no_display_with_record_runs_headless(models_dir: Path, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec.mp4"
    res = run_cli(
        "webcam", "--camera", str(clip), "--record", str(out), "--max-frames", "3", "--as-fast-as-possible",
        "--style", "red,blue", "--smooth", "off", "--device", "cpu", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "no display found: running without a window" in res.stderr
    assert count_frames(out)[0] == 3
    summary = json.loads(res.stdout)
    assert summary["frames"] == 3 and 0 < summary["latency_p50_ms"] <= summary["latency_p95_ms"]
    assert summary["lanes"] == (2 if physical_cores() >= 2 else 1)  # the webcam's default on the CPU


def test_json_with_quiet_keeps_the_result_on_stdout(models_dir: Path, clip: Path, tmp_path: Path) -> None:
    res = run_cli(
        "webcam", "--camera", str(clip), "--no-window", "--max-frames", "2", "--as-fast-as-possible",
        "--style", "red", "--smooth", "off", "--device", "cpu", "--json", "--quiet", "--lanes", "1",
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)  # as rtstyle video --json -q: the result, nothing else
    assert result["frames"] == 2 and result["lanes"] == 1


def test_missing_camera_is_one_line(models_dir: Path, tmp_path: Path) -> None:
    res = run_cli("webcam", "--camera", "9", "--no-window", "--style", "alpha", "--max-frames", "1", cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [s for s in res.stderr.strip().splitlines() if s.startswith("rtstyle: error:")]
    assert len(lines) == 1, res.stderr
    assert "camera 9" in lines[0] and "rtstyle cameras" in lines[0]


def test_unknown_style_is_one_line(models_dir: Path, clip: Path, tmp_path: Path) -> None:
    res = run_cli("webcam", "--camera", str(clip), "--no-window", "--style", "alpah", cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert "alpha" in res.stderr  # the nearest name is suggested


def test_cameras_command_lists_or_exits_1(tmp_path: Path) -> None:
    res = run_cli("cameras", "--max-index", "2", cwd=tmp_path)
    assert "Traceback" not in res.stderr
    out = res.stdout.strip()
    if res.returncode == 1:  # none here: one error line, nothing on stdout
        assert out == "" and res.stderr.startswith("rtstyle: error: no cameras found"), res.stderr
    else:
        assert res.returncode == 0 and re.search(r"\d+x\d+", out), res.stderr


class FakeWindow:
    """Stands in for WindowSink: replays scripted keys, keeps what it was asked to show."""

    keys: list[int] = []
    instances: list[FakeWindow] = []

    def __init__(self, title: str, fullscreen: bool = False) -> None:
        self.shown: list[np.ndarray] = []
        self.fullscreen = [fullscreen]
        self.closed = False
        self.name = "window"
        self.wants_hud = True
        FakeWindow.instances.append(self)

    def write(self, frame: np.ndarray, timestamp: float) -> None:  # pragma: no cover - not used by the loop
        pass

    def show(self, frame: np.ndarray | None = None, wait_ms: int = 1) -> int:
        self.shown.append(frame.copy())
        return FakeWindow.keys.pop(0) if FakeWindow.keys else -1

    def set_fullscreen(self, on: bool) -> None:
        self.fullscreen.append(on)

    def close(self) -> None:
        self.closed = True


def test_window_loop_hotkeys(
    models_dir: Path, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    FakeWindow.instances.clear()
    # hide the HUD, switch 'red' -> 'blue', snapshot, fullscreen, blend blue+red, then quit.
    FakeWindow.keys = [ord("h"), -1, ord("n"), 13, ord("f"), ord("b"), ord("q")]
    snaps = tmp_path / "snaps"
    opts = LiveOptions(
        camera=str(clip), styles=["red", "blue"], device="cpu", smooth="off", realtime=False, crf=23,
        preset="ultrafast", snapshot_dir=snaps, lanes=1,  # one frame at a time: a key acts on the very next frame
    )  # fmt: skip
    code = run_live(opts, window_factory=FakeWindow, display=lambda: True)
    assert code == 0
    win = FakeWindow.instances[0]
    assert win.closed
    assert len(win.shown) == 7  # stopped at 'q', before the clip's 10 frames ran out
    assert win.fullscreen[-1] is True
    pngs = list(snaps.glob("rtstyle-*.png"))
    assert len(pngs) == 1

    snap = cv2.imread(str(pngs[0]))
    assert snap.shape == (64, 96, 3)
    # The test model adds 40 (red) or 80 (blue, style index 1) to the red channel: 'n' switched styles.
    red_frame, blue_frame = win.shown[2], win.shown[3]
    assert blue_frame[..., 2].mean() > red_frame[..., 2].mean() + 20
    blend_red = win.shown[6][..., 2].mean()
    assert red_frame[..., 2].mean() + 8 < blend_red < blue_frame[..., 2].mean() - 8
    # The snapshot is the clean output of the frame shown when Enter was pressed (HUD hidden by then).
    assert np.array_equal(snap, blue_frame)
    assert "1 snapshot(s)" in capsys.readouterr().out


def test_window_hotkeys_with_two_lanes(models_dir: Path, clip: Path, tmp_path: Path) -> None:
    """With two frames at once (the webcam's CPU default) a key acts on the next frame read, so a frame already in
    the other lane may still show the old style: the new one shows by the second frame after the key at the
    latest (whether the next frame was read before the key depends on timing, so only that is checked)."""
    FakeWindow.instances.clear()
    FakeWindow.keys = [ord("h"), ord("n"), -1, -1, ord("q")]  # the HUD hidden, then 'n' on the second frame
    opts = LiveOptions(
        camera=str(clip), styles=["red", "blue"], device="cpu", smooth="off", realtime=False, window=True, lanes=2,
    )  # fmt: skip
    assert run_live(opts, window_factory=FakeWindow, display=lambda: True) == 0
    shown = FakeWindow.instances[0].shown
    red = [f[..., 2].mean() for f in shown]
    # the test model adds 40 (red) or 80 (blue) to the red channel; consecutive frames of the clip differ little
    assert (
        len(shown) == 5 and red[3] > red[1] + 20 and red[4] > red[1] + 20
    )  # blue from the second frame read after 'n' at the latest


class FakeLiveSource:
    """A live source that delivers ``n`` synthetic frames, then fails like an unplugged camera (or raises Ctrl-C)."""

    is_live = True
    fps = 10.0
    description = "fake camera"

    def __init__(self, n: int, then: str = "lost", size: tuple[int, int] = (64, 96), live: bool = True) -> None:
        self.frames = [synthetic_frame(*size, t) for t in range(n)]
        self.then = then
        self.closed = False
        self.is_live = live

    def read(self) -> tuple[np.ndarray, float] | None:
        if self.frames:
            return self.frames.pop(0), 0.0
        if self.then == "interrupt":
            raise KeyboardInterrupt
        return None

    def close(self) -> None:
        self.closed = True


def _run_live(source: FakeLiveSource, record: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    opts = LiveOptions(
        camera="0", styles=["alpha"], device="cpu", strength=0.8, preserve_color=True, smooth="flow",
        mirror=True, record=record, crf=23, preset="ultrafast", window=False,
    )  # fmt: skip
    return run_live(opts, open_source=lambda spec, **kw: source)


def test_camera_lost_mid_run_keeps_a_valid_recording(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = FakeLiveSource(5)
    out = tmp_path / "lost.mp4"
    with pytest.raises(DeviceError, match="camera 0 stopped delivering frames.*recording up to that point"):
        _run_live(source, out, monkeypatch)
    assert source.closed
    assert count_frames(out)[0] == 5
    assert not [p for p in tmp_path.iterdir() if p.name != "lost.mp4" and "lost" in p.name]  # no temp file left


def test_ctrl_c_finalises_the_recording(models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = FakeLiveSource(4, then="interrupt")
    out = tmp_path / "interrupted.mp4"
    assert _run_live(source, out, monkeypatch) == 0
    assert source.closed
    assert count_frames(out)[0] == 4


@pytest.mark.parametrize("hud_on_output", [False, True])
def test_streaming_outputs_get_no_hud_unless_asked(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, hud_on_output: bool
) -> None:
    pyvirtualcam = pytest.importorskip("pyvirtualcam")

    received: list[np.ndarray] = []

    class Backend:
        def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
            self.shape = (height, width, 3)

        def send(self, frame: np.ndarray) -> None:
            received.append(frame.reshape(self.shape).copy())

        def close(self) -> None:
            pass

        def device(self) -> str:
            return "/dev/fake0"

        def native_fourcc(self) -> None:
            return None

    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", dict(pyvirtualcam.camera.BACKENDS))
    pyvirtualcam.register_backend("rtstyle-test", Backend)
    FakeWindow.instances.clear()
    FakeWindow.keys = []
    source = FakeLiveSource(3, size=(360, 640), live=False)
    stream = StreamOptions(virtual_cam=True, hud_on_output=hud_on_output, vcam_backend="rtstyle-test")
    opts = LiveOptions(
        camera="x.mp4", styles=["alpha"], device="cpu", smooth="off", realtime=False, crf=23, preset="ultrafast",
        stream=stream,
    )  # fmt: skip
    code = run_live(opts, open_source=lambda spec, **kw: source, window_factory=FakeWindow, display=lambda: True)
    assert code == 0
    shown = FakeWindow.instances[0].shown
    assert len(shown) == 3 and received

    x0, y0, x1, y1 = hud_rect(shown[0].shape, hud_lines(0, 0, "alpha", "CPU", {"smooth": "off", "strength": "1.0"}))
    for got in received:
        if hud_on_output:
            assert any(np.array_equal(got, s) for s in shown)
        else:
            clean = [s for s in shown if np.array_equal(np.delete(got, np.s_[y0:y1], 0), np.delete(s, np.s_[y0:y1], 0))]
            assert clean, "a virtual camera frame is not one of the stylized frames"
            assert not any(np.array_equal(got[y0:y1, x0:x1], s[y0:y1, x0:x1]) for s in clean), "HUD on the output"
