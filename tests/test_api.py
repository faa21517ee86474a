"""The Python API: RGB and PIL frames, [0, 1] floats, Stylizer's lifetime, errors that are Python's idioms too,
iterable sources, the jobs and names importable from ``rtstyle`` (lazily), typing (Literal types, py.typed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import cv2
import numpy as np
import pytest
from conftest import make_contract_model, synthetic_frame
from PIL import Image

import rtstyle
from rtstyle import choices, contract
from rtstyle.errors import InputError, InputNotFound, RtstyleError, StyleNotFound
from rtstyle.io.sources import Prepended, Source
from rtstyle.runtime.stylizer import Stylizer


@pytest.fixture()
def st(test_model):
    with Stylizer(test_model, device="cpu") as s:
        yield s


def test_rgb_channels(test_model, frame):
    bgr = Stylizer(test_model, device="cpu")
    rgb = Stylizer(test_model, device="cpu", channels="rgb")
    want = bgr(frame)
    np.testing.assert_array_equal(rgb(frame[..., ::-1]), want[..., ::-1])
    np.testing.assert_array_equal(bgr.stylize_rgb(frame[..., ::-1]), want[..., ::-1])
    alpha = np.full(frame.shape[:2], 77, np.uint8)
    out = rgb(np.dstack([frame[..., ::-1], alpha]))  # RGBA in, RGBA out, alpha where it was
    np.testing.assert_array_equal(out[..., :3], want[..., ::-1])
    assert (out[..., 3] == 77).all()
    with pytest.raises(ValueError, match="channels"):
        Stylizer(test_model, device="cpu", channels="hsv")


def test_pil_in_pil_out(st, frame):
    want = st(frame)
    img = Image.fromarray(np.ascontiguousarray(frame[..., ::-1]))
    out = st(img)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == img.size
    np.testing.assert_array_equal(np.asarray(out), want[..., ::-1])
    rgba = img.convert("RGBA")
    rgba.putalpha(50)
    out = st(rgba)
    assert out.mode == "RGBA" and np.asarray(out)[..., 3].max() == 50
    for mode in ("L", "P", "CMYK", "1", "I;16", "LA"):
        out = st(img.convert(mode))
        assert isinstance(out, Image.Image) and out.size == img.size
        assert out.mode == ("RGBA" if mode == "LA" else "RGB")


def test_float_frames(st, frame):
    want = st(frame)
    for dtype in (np.float32, np.float64):
        out = st(frame.astype(dtype) / 255.0)
        assert out.dtype == dtype and out.shape == frame.shape
        assert 0.0 <= out.min() and out.max() <= 1.0
        np.testing.assert_allclose(out * 255.0, want, atol=1.01)
    with pytest.raises(InputError, match=r"\[0, 1\].*divide 0..255 floats by 255") as ei:
        st(frame.astype(np.float32))  # 0..255 floats
    assert isinstance(ei.value, ValueError) and "\n" not in str(ei.value)
    bad = frame.astype(np.float32) / 255.0
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        st(bad)
    with pytest.raises(InputError, match="numpy array or a PIL image"):
        st([[1, 2, 3]])


def test_context_manager_close_and_repr(test_model, frame):
    with Stylizer(test_model, device="cpu", max_side=64, strength=0.5) as s:
        text = repr(s)
        assert text.startswith("Stylizer(style='solo'") and "provider='CPUExecutionProvider'" in text
        assert "max_side=64" in text and "strength=0.5" in text
        s(frame)
    assert s.closed and repr(s) == "Stylizer(closed)"
    with pytest.raises(InputError, match="closed"):
        s(frame)
    s.close()  # again: harmless


def test_errors_are_python_idioms_too(test_model, models_dir, tmp_path):
    with pytest.raises(LookupError) as ei:
        Stylizer("no-such-style", device="cpu")
    assert isinstance(ei.value, StyleNotFound) and isinstance(ei.value, RtstyleError)
    for bad in ({"tier": "huge"}, {"strength": 2.0}, {"strength": float("nan")}, {"max_side": 0}, {"scale": -1.0}):
        with pytest.raises(ValueError) as ei:
            Stylizer(test_model, device="cpu", **bad)
        assert isinstance(ei.value, RtstyleError)
    with pytest.raises(FileNotFoundError) as ei:
        Stylizer(tmp_path / "missing.onnx", device="cpu")
    assert isinstance(ei.value, InputNotFound) and "model file not found" in str(ei.value)
    with pytest.raises(FileNotFoundError):
        rtstyle.read_image(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError):
        rtstyle.open_source(tmp_path / "missing.mp4")


def test_literal_types_match_the_choices():
    assert get_args(choices.Device) == choices.DEVICES
    assert get_args(choices.Tier) == contract.TIERS
    assert get_args(choices.SmoothMode) == choices.SMOOTH_MODES
    assert get_args(choices.Channels) == choices.CHANNELS


def test_py_typed_ships():
    pkg = Path(rtstyle.__file__).parent
    assert (pkg / "py.typed").is_file()
    pyproject = (pkg.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"rtstyle" = ["py.typed"]' in pyproject


class Frames(Source):
    def __init__(self, n: int) -> None:
        self.items = [(synthetic_frame(8, 12, t), t / 10) for t in range(n)]
        self.closed = False

    def read(self):
        return self.items.pop(0) if self.items else None

    def close(self) -> None:
        self.closed = True


def test_sources_are_iterable():
    with Frames(3) as src:
        frames = list(src)
    assert len(frames) == 3 and all(f.shape == (8, 12, 3) for f in frames) and src.closed
    timed = list(Frames(2).timed())
    assert [t for _, t in timed] == [0.0, 0.1]
    src = Frames(2)
    first = src.read()
    assert len(list(Prepended(first, src))) == 2  # the frame read ahead comes first


def test_file_source_iterates(tmp_path):
    from rtstyle.io.demo_clip import write_demo_clip

    clip = write_demo_clip(tmp_path / "clip.mp4", seconds=0.4, size=(64, 36), fps=10)
    with rtstyle.open_source(clip) as src:
        n = src.frame_count
        frames = list(src)
    assert frames and (n is None or len(frames) == n)
    assert frames[0].shape == (36, 64, 3) and frames[0].dtype == np.uint8


def test_jobs_importable_from_rtstyle(tmp_path, test_model):
    inp, out = tmp_path / "in.png", tmp_path / "out.jpg"
    cv2.imwrite(str(inp), synthetic_frame(20, 30))
    res = rtstyle.stylize_image(str(inp), str(out), rtstyle.StylizeOptions(style=str(test_model), device="cpu"))
    assert res.path == out and (res.width, res.height) == (30, 20) and cv2.imread(str(out)).shape == (20, 30, 3)
    assert rtstyle.stylize_video.__module__ == "rtstyle.pipeline.jobs"
    assert sorted(rtstyle.__all__[1:]) == sorted(rtstyle._LAZY)
    for name in rtstyle.__all__:
        assert getattr(rtstyle, name) is not None
    with pytest.raises(AttributeError):
        rtstyle.no_such_name  # noqa: B018


def test_import_rtstyle_stays_light():
    code = (
        "import sys, rtstyle\n"
        "rtstyle.RtstyleError, rtstyle.StyleNotFound\n"
        "print(','.join(m for m in ('numpy', 'cv2', 'onnxruntime', 'PIL', 'psutil', 'torch') if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr


def test_multi_style_file_blend_still_works_with_rgb(tmp_path, frame):
    path = make_contract_model(tmp_path / "duo.onnx", styles=("red", "blue"))
    s = Stylizer(path, device="cpu", channels="rgb", blend={"red": 0.5, "blue": 0.5})
    assert s(frame[..., ::-1]).shape == frame.shape
