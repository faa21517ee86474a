"""Frame sources: files (ffmpeg), cameras (OpenCV, faked here), URLs, and open_source's dispatch."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_media import make_clip, vfr_times

import rtstyle.io.sources as sources
from rtstyle.errors import DeviceError, InputError
from rtstyle.io.sources import CameraSource, FileSource, UrlSource, open_source


def read_all(src: sources.Source) -> list[tuple[np.ndarray, float]]:
    out = []
    while (item := src.read()) is not None:
        out.append(item)
    return out


def test_file_source_frames_timestamps_and_metadata(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "v.mp4", frames=12, vfr=True, audio="aac")
    with FileSource(clip) as src:
        assert (src.width, src.height) == (96, 64)
        assert src.frame_count == 12 and not src.is_live
        assert src.info.has_audio
        items = read_all(src)
        assert src.read() is None  # stays at the end
    assert len(items) == 12
    assert [t for _, t in items] == pytest.approx(vfr_times(12), abs=1e-3)
    assert all(f.shape == (64, 96, 3) and f.dtype == np.uint8 for f, _ in items)
    # frames differ (the test source animates): the reader thread did not hand out one buffer twice
    assert not np.array_equal(items[0][0], items[5][0])


def test_file_source_realtime_plays_at_its_own_pace(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", rate=20, frames=10)  # 0.45 s from first to last frame
    t0 = time.monotonic()
    with FileSource(clip, realtime=True) as src:
        items = read_all(src)
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.4  # a lower bound only: it waited for each frame's time
    assert items[-1][1] == pytest.approx(0.45, abs=1e-3)


def test_file_source_realtime_skips_late_frames(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", rate=20, frames=20)
    with FileSource(clip, realtime=True) as src:
        first = src.read()
        time.sleep(0.6)  # a slow consumer: the frames due meanwhile are skipped, as a live source would
        rest = read_all(src)
    assert first is not None and src.frames_skipped > 0
    assert len(rest) + 1 + src.frames_skipped == 20


def test_file_source_bad_inputs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(InputError):
        FileSource(bad)
    with pytest.raises(InputError):
        FileSource(tmp_path / "missing.mp4")


def test_url_source_newest_frame(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", frames=30)
    src = UrlSource(f"file://{clip}")
    try:
        assert src.is_live and (src.width, src.height) == (96, 64)
        first = src.read()
        assert first is not None and first[1] == 0.0
        deadline = time.monotonic() + 20
        while src._decoder.frames_decoded < 30 and time.monotonic() < deadline:
            time.sleep(0.02)  # ffmpeg decodes all 30 frames meanwhile; only the newest is kept
        items = read_all(src)
    finally:
        src.close()
    assert len(items) < 29 and src.frames_dropped > 0
    assert not src.lost
    times = [t for _, t in items]
    assert times == sorted(times)


class FakeCapture:
    """Stands in for cv2.VideoCapture: numbered frames (value = frame index), optional failure after N reads."""

    fail_after: int | None = None
    opened = True
    instances: list[FakeCapture] = []

    def __init__(self, index: object, *args: object) -> None:
        self.index = index
        self.n = 0
        self.props: dict[int, float] = {}
        self.released = False
        type(self).instances.append(self)

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return 30.0 if prop == cv2.CAP_PROP_FPS else self.props.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(0.002)
        if self.fail_after is not None and self.n >= self.fail_after:
            return False, None
        frame = np.full((24, 32, 3), self.n % 256, np.uint8)
        self.n += 1
        return True, frame

    def release(self) -> None:
        self.released = True


@pytest.fixture()
def fake_cv2(monkeypatch: pytest.MonkeyPatch) -> type[FakeCapture]:
    class Cap(FakeCapture):
        pass

    Cap.instances = []
    monkeypatch.setattr(cv2, "VideoCapture", Cap)
    return Cap


def test_camera_source_keeps_only_newest_frame(fake_cv2: type[FakeCapture]) -> None:
    src = CameraSource("fake0", width=640, height=480, fps=30, mjpg=True)
    try:
        assert src.is_live and (src.width, src.height) == (32, 24) and src.fps == 30.0
        cap = fake_cv2.instances[0]
        assert cap.props[cv2.CAP_PROP_FRAME_WIDTH] == 640 and cap.props[cv2.CAP_PROP_FRAME_HEIGHT] == 480
        assert cv2.CAP_PROP_FOURCC in cap.props
        a = src.read()
        deadline = time.monotonic() + 10
        while cap.n < 10 and time.monotonic() < deadline:
            time.sleep(0.01)  # the capture thread keeps reading; only the newest is handed out
        b = src.read()
    finally:
        src.close()
    assert a is not None and b is not None
    assert int(b[0][0, 0, 0]) > int(a[0][0, 0, 0]) + 1
    assert b[1] > a[1] >= 0.0
    assert src.frames_dropped > 0
    assert fake_cv2.instances[0].released


def test_camera_absent_is_device_error(fake_cv2: type[FakeCapture]) -> None:
    fake_cv2.opened = False
    with pytest.raises(DeviceError, match="cannot be opened"):
        CameraSource("fake0")


def test_camera_without_frames_is_device_error(fake_cv2: type[FakeCapture]) -> None:
    fake_cv2.fail_after = 0
    with pytest.raises(DeviceError, match="no frame"):
        CameraSource("fake0", first_frame_timeout=0.2)


def test_camera_lost_mid_run(fake_cv2: type[FakeCapture]) -> None:
    fake_cv2.fail_after = 5
    src = CameraSource("fake0", lost_after=0.2)
    got = []
    done = threading.Event()

    def consume() -> None:
        while (item := src.read()) is not None:
            got.append(item)
        done.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    assert done.wait(10.0), "read() must return None once the camera is gone"
    src.close()
    assert src.lost and 1 <= len(got) <= 5


def test_camera_index_that_does_not_exist() -> None:
    with pytest.raises(DeviceError):
        open_source("97")


def test_open_source_dispatch(tmp_path: Path, fake_cv2: type[FakeCapture], monkeypatch: pytest.MonkeyPatch) -> None:
    clip = make_clip(tmp_path / "a.mp4", frames=3)
    with open_source(str(clip)) as src:
        assert isinstance(src, FileSource) and not src.realtime
    with open_source(clip, realtime=True) as src:
        assert isinstance(src, FileSource) and src.realtime
    with open_source(f"file://{clip}") as src:
        assert isinstance(src, UrlSource)
    monkeypatch.setattr(sources.sys, "platform", "testos")  # skip the /dev/videoN existence check
    with open_source("2", width=320) as src:
        assert isinstance(src, CameraSource) and fake_cv2.instances[-1].index == 2
    with open_source(3) as src:
        assert isinstance(src, CameraSource) and fake_cv2.instances[-1].index == 3
    with pytest.raises(InputError, match="no such file, camera index or URL"):
        open_source(str(tmp_path / "nope.mp4"))
    with pytest.raises(InputError, match="unsupported URL"):
        open_source("gopher2://example/x")


def test_url_source_unreachable_is_one_line() -> None:
    with pytest.raises(InputError) as err:
        open_source("http://127.0.0.1:9/stream.mjpg")  # port 9 (discard): nothing listens, refused at once
    assert "\n" not in str(err.value) and "127.0.0.1" in str(err.value)
