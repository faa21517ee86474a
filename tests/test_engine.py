from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from conftest import make_contract_model, synthetic_frame

from rtstyle.errors import ContractError, DeviceError, InputError, StyleNotFound
from rtstyle.runtime import hardware
from rtstyle.runtime import stylizer as stylizer_mod
from rtstyle.runtime.session import StyleSession, describe_session
from rtstyle.runtime.stylizer import Stylizer


def test_single_style_model_runs_on_cpu(test_model, frame):
    st = Stylizer(test_model, device="cpu")
    out = st(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert st.provider == "CPUExecutionProvider"
    assert st.style == "solo" and st.style_names == ["solo"] and st.tier == "full"
    # The test model adds 40 to red: the stylized frame is redder than the input.
    assert out[..., 2].astype(int).mean() > frame[..., 2].astype(int).mean() + 20
    # Stateless: the same frame gives the same output.
    assert np.array_equal(out, st(frame))


def test_describe_session_maps_types(test_model):
    sess = ort.InferenceSession(str(test_model), providers=["CPUExecutionProvider"])
    inputs, outputs, meta, info = describe_session(sess)
    assert inputs[0].dtype == "uint8" and outputs[0].name == "stylized"
    assert meta["rtstyle.contract"] == "1" and info.style_names == ["solo"]


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 5, 3), (17, 31, 3), (2, 1, 3)])
def test_odd_and_tiny_sizes(test_model, shape):
    st = Stylizer(test_model, device="cpu")
    x = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    y = st(x)
    assert y.shape == shape and y.dtype == np.uint8


def test_gray_and_bgra(test_model, frame):
    st = Stylizer(test_model, device="cpu")
    gray = frame[..., 1].copy()
    out = st(gray)
    assert out.shape == (*gray.shape, 3)
    alpha = np.tile(np.arange(frame.shape[1], dtype=np.uint8), (frame.shape[0], 1))
    bgra = np.dstack([frame, alpha])
    out = st(bgra)
    assert out.shape == bgra.shape and np.array_equal(out[..., 3], alpha)
    assert np.array_equal(out[..., :3], st(frame))


def test_bad_frames(test_model):
    st = Stylizer(test_model, device="cpu")
    with pytest.raises(InputError):
        st(np.full((4, 4, 3), 255.0, np.float32))  # float frames hold 0..1 (floats in 0..1: tests/test_api.py)
    with pytest.raises(InputError):
        st(np.zeros((4, 4, 5), np.uint8))


def test_multi_style_switch_and_blend(tmp_path, frame):
    path = make_contract_model(tmp_path / "duo.onnx", styles=("red", "blue"))
    st = Stylizer(path, device="cpu")
    assert st.style_names == ["red", "blue"]
    red = st(frame)
    st.set_style("blue")
    blue = st(frame)
    assert st.style == "blue"
    # style i adds 40*(i+1) to red: blue (index 1) is redder than red (index 0)
    assert blue[..., 2].astype(int).mean() > red[..., 2].astype(int).mean() + 20
    st.set_style({"red": 0.5, "blue": 0.5})
    half = st(frame)
    mid = (red[..., 2].astype(int).mean() + blue[..., 2].astype(int).mean()) / 2
    assert abs(half[..., 2].astype(int).mean() - mid) < 3
    with pytest.raises((ContractError, StyleNotFound)):
        st.set_style("green")
    st2 = Stylizer(path, device="cpu", blend="red:blue:0.5")
    assert np.array_equal(st2(frame), half)


def test_blend_across_files(tmp_path, frame, monkeypatch):
    d = tmp_path / "models"
    make_contract_model(d / "one.onnx", styles=("one",))
    make_contract_model(d / "two.onnx", styles=("two",))
    monkeypatch.setenv("RTSTYLE_MODELS", str(d))
    a = Stylizer("one", device="cpu")(frame).astype(float)
    b = Stylizer("two", device="cpu")(frame).astype(float)
    m = Stylizer("one", device="cpu", blend={"one": 0.25, "two": 0.75})(frame).astype(float)
    assert np.abs(m - (0.25 * a + 0.75 * b)).max() <= 1.0


def test_max_side_and_scale(test_model):
    x = synthetic_frame(90, 160)
    st = Stylizer(test_model, device="cpu", max_side=40)
    assert st.check_size(160, 90) == (40, 22)
    assert st(x).shape == x.shape
    st = Stylizer(test_model, device="cpu", scale=0.5)
    assert st.check_size(160, 90) == (80, 45)
    assert st(x).shape == x.shape
    with pytest.raises(InputError):
        Stylizer(test_model, device="cpu", scale=0)


def test_strength_and_preserve_color(test_model, frame):
    full = Stylizer(test_model, device="cpu")(frame)
    zero = Stylizer(test_model, device="cpu", strength=0.0)(frame)
    assert np.array_equal(zero, frame)
    half = Stylizer(test_model, device="cpu", strength=0.5)(frame).astype(int)
    assert np.abs(half - (full.astype(int) + frame.astype(int)) / 2).max() <= 1
    kept = Stylizer(test_model, device="cpu", preserve_color=True)(frame)
    ycc = [cv2.cvtColor(a, cv2.COLOR_BGR2YCrCb).astype(int) for a in (frame, full, kept)]
    # Chroma of the input, luminance of the stylized frame (up to rounding through BGR).
    assert np.abs(ycc[2][..., 1:] - ycc[0][..., 1:]).mean() < 2
    assert np.abs(ycc[2][..., 0] - ycc[1][..., 0]).mean() < 2
    assert np.abs(ycc[1][..., 1] - ycc[0][..., 1]).mean() > 10  # the style did shift the chroma


def test_too_large_frame_refused(test_model, monkeypatch):
    monkeypatch.setattr(stylizer_mod, "MAX_PIXELS", 100 * 100)
    st = Stylizer(test_model, device="cpu")
    with pytest.raises(InputError, match="max-side"):
        st(np.zeros((200, 200, 3), np.uint8))
    st = Stylizer(test_model, device="cpu", max_side=64)
    assert st(np.zeros((200, 200, 3), np.uint8)).shape == (200, 200, 3)


def test_truncated_and_garbage_onnx(tmp_path, test_model):
    data = test_model.read_bytes()
    bad = tmp_path / "trunc.onnx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ContractError) as ei:
        Stylizer(bad, device="cpu")
    assert "\n" not in str(ei.value) and "trunc.onnx" in str(ei.value)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ContractError):
        StyleSession(junk)
    with pytest.raises(InputError, match="not found"):
        Stylizer(tmp_path / "nope.onnx", device="cpu")


def test_contract_breaking_model(tmp_path):
    p = make_contract_model(tmp_path / "old.onnx", meta_override={"rtstyle.contract": "0"})
    with pytest.raises(ContractError, match="version"):
        Stylizer(p, device="cpu")
    p = make_contract_model(tmp_path / "tier.onnx", meta_override={"rtstyle.tier": "turbo"})
    with pytest.raises(ContractError, match="tier"):
        Stylizer(p, device="cpu")


def test_device_checks(test_model, monkeypatch):
    with pytest.raises(DeviceError, match="unknown device"):
        Stylizer(test_model, device="tpu")
    hardware.cuda_unavailable_reason.cache_clear()
    monkeypatch.setattr(hardware, "cuda_unavailable_reason", lambda: "libcublas.so.13 is missing")
    with pytest.raises(DeviceError, match="libcublas"):
        Stylizer(test_model, device="cuda")
    st = Stylizer(test_model, device="auto")
    assert st.provider == "CPUExecutionProvider"


def test_cuda_reason_is_a_sentence_or_none():
    hardware.cuda_unavailable_reason.cache_clear()
    r = hardware.cuda_unavailable_reason()
    assert r is None or (isinstance(r, str) and "\n" not in r and r)


def test_physical_cores_positive():
    assert hardware.physical_cores() >= 1


def test_io_binding_path_matches_plain_run(tmp_path):
    """The I/O-binding code used on CUDA, exercised on CPU buffers: same result, reuse across sizes and styles."""
    path = make_contract_model(tmp_path / "duo.onnx", styles=("red", "blue"))
    plain = StyleSession(path, "cpu")
    bound = StyleSession(path, "cpu", io_binding=True)
    assert bound.io_binding and not plain.io_binding
    w = np.array([0.0, 1.0], np.float32)
    for h, wd in ((36, 64), (36, 64), (5, 3), (36, 64)):
        x = synthetic_frame(h, wd, h + wd)
        assert np.array_equal(bound.run(x, w), plain.run(x, w))
    bound.warm_up(64)


def test_silent_cuda_fallback_detected(test_model, monkeypatch, capfd):
    """When the CUDA libraries seem fine but the session falls back, auto uses the CPU and cuda says why."""
    hardware.cuda_unavailable_reason.cache_clear()
    if hardware.cuda_unavailable_reason() is None:
        pytest.skip("CUDA really runs here")
    monkeypatch.setattr(hardware, "cuda_unavailable_reason", lambda: None)
    st = Stylizer(test_model, device="auto")
    assert st.provider == "CPUExecutionProvider" and st.device == "cpu"
    with pytest.raises(DeviceError, match="fell back"):
        Stylizer(test_model, device="cuda")
    assert "ONNXRuntimeError" not in capfd.readouterr().err  # onnxruntime's own log stays quiet


def test_cpu_session_threads_sleep_instead_of_spinning(test_model):
    sess = StyleSession(test_model, "cpu", threads=2)
    opts = sess.session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.intra_op_num_threads == 2


def test_lanes_share_out_the_cores_and_runs_overlap_on_the_cpu(test_model, monkeypatch):
    """``Stylizer(lanes=)``: "auto" is 2 on a CPU with two or more cores (1 with one core or elsewhere), each
    lane's session gets its share of the cores, and CPU runs from two threads overlap with the same output."""
    monkeypatch.setattr(hardware, "physical_cores", lambda: 4)
    assert stylizer_mod.resolve_lanes("auto", "cpu") == 2 and stylizer_mod.resolve_lanes("auto", "cuda") == 1
    assert stylizer_mod.resolve_lanes(3, "cpu") == 3 and stylizer_mod.resolve_lanes(3, "cuda") == 1
    monkeypatch.setattr(hardware, "physical_cores", lambda: 1)
    assert stylizer_mod.resolve_lanes("auto", "cpu") == 1
    for bad in (0, -1, 1.5, "two", True):
        with pytest.raises(InputError, match="lanes"):
            stylizer_mod.resolve_lanes(bad, "cpu")
    monkeypatch.setattr(hardware, "physical_cores", lambda: 4)
    st = Stylizer(test_model, device="cpu", lanes=2)
    assert st.lanes == 2 and st.session.session.get_session_options().intra_op_num_threads == 2
    assert not st.session.serial  # CPU runs are not serialised
    assert (
        Stylizer(test_model, device="cpu", lanes=2, threads=3)
        .session.session.get_session_options()
        .intra_op_num_threads
        == 3
    )
    assert StyleSession(test_model, "cpu", io_binding=True).serial  # one binding per session: one run at a time
    frames = [synthetic_frame(36, 64, i) for i in range(8)]
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(st, frames))
    for f, out in zip(frames, outs, strict=True):
        assert np.array_equal(out, st(f))
