"""Platform portability: no POSIX-only calls on the output path, model folders by platformdirs, cores and memory
by psutil, onnxruntime execution providers beyond CUDA (provider lists monkeypatched: no GPU here)."""

from __future__ import annotations

import os
import tempfile

import cv2
import pytest
from conftest import synthetic_frame

from rtstyle import files


def test_publish_mode_without_fchmod(tmp_path, monkeypatch):
    """Windows before Python 3.13 has no os.fchmod (nor os.chmod on descriptors): publishing still works."""
    monkeypatch.delattr(os, "fchmod", raising=False)
    monkeypatch.setattr(os, "supports_fd", set(), raising=False)
    fd, name = tempfile.mkstemp(dir=tmp_path)
    try:
        files.publish_mode(fd)  # no AttributeError
    finally:
        os.close(fd)
    files.publish_mode(name)
    assert os.stat(name).st_mode & 0o777 == files.default_mode()


def test_publish_mode_fd_chmod_fallback(tmp_path, monkeypatch):
    """Without os.fchmod but with os.chmod taking descriptors, the descriptor's file gets the ordinary mode."""
    if os.chmod not in os.supports_fd:
        pytest.skip("os.chmod takes no descriptors here")
    monkeypatch.delattr(os, "fchmod", raising=False)
    fd, name = tempfile.mkstemp(dir=tmp_path)
    try:
        files.publish_mode(fd)
    finally:
        os.close(fd)
    assert os.stat(name).st_mode & 0o777 == files.default_mode()


def test_image_write_without_fchmod(tmp_path, test_model, monkeypatch):
    """`rtstyle image`'s read, stylize and write steps run with os.fchmod gone (Windows, Python 3.10-3.12)."""
    from rtstyle.io.images import read_image, write_image
    from rtstyle.runtime.stylizer import Stylizer

    monkeypatch.delattr(os, "fchmod", raising=False)
    monkeypatch.setattr(os, "supports_fd", set(), raising=False)
    inp, out = tmp_path / "in.png", tmp_path / "out.png"
    cv2.imwrite(str(inp), synthetic_frame(24, 32))
    write_image(out, Stylizer(test_model, device="cpu")(read_image(inp)), force=False)
    assert cv2.imread(str(out)).shape == (24, 32, 3)
    assert os.stat(out).st_mode & 0o777 == files.default_mode()


# ------------------------------------------------------------------------------------------ execution providers

from rtstyle.errors import DeviceError, RtstyleError, UnknownDevice  # noqa: E402
from rtstyle.runtime import hardware  # noqa: E402
from rtstyle.runtime.session import StyleSession, provider_list  # noqa: E402
from rtstyle.runtime.stylizer import Stylizer  # noqa: E402

EXTRA_EPS = {
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def fake_providers(monkeypatch, *eps: str, runs: bool = True) -> list:
    """This onnxruntime build lists ``eps`` too; with ``runs`` a session asked for one reports it first (the
    graph itself runs on the CPU provider). Returns the provider lists the sessions were asked for."""
    ort = hardware.onnxruntime_module()
    real = ort.InferenceSession
    base = list(ort.get_available_providers())
    asked: list = []

    class Session:
        def __init__(self, model, sess_options=None, providers=None, **kw):
            asked.append(providers)
            self._real = real(model, sess_options=sess_options, providers=["CPUExecutionProvider"])
            first = providers[0][0] if isinstance(providers[0], tuple) else providers[0]
            self._providers = [first, "CPUExecutionProvider"] if runs and first in eps else ["CPUExecutionProvider"]

        def get_providers(self):
            return self._providers

        def __getattr__(self, name):
            return getattr(self._real, name)

    monkeypatch.setattr(ort, "InferenceSession", Session)
    monkeypatch.setattr(hardware, "available_providers", lambda: [*eps, *base])
    monkeypatch.setattr(hardware, "cuda_unavailable_reason", lambda: None)
    return asked


def test_device_choices_name_every_provider():
    from rtstyle.choices import DEVICES

    assert set(DEVICES) == {"auto", *hardware.PROVIDERS}
    assert set(EXTRA_EPS.items()) <= set(hardware.PROVIDERS.items())
    assert hardware.device_of("DmlExecutionProvider") == "directml"


@pytest.mark.parametrize("device", sorted(EXTRA_EPS))
def test_named_provider_runs_with_cpu_fallback(test_model, monkeypatch, device):
    asked = fake_providers(monkeypatch, EXTRA_EPS[device])
    st = Stylizer(test_model, device=device)
    assert st.provider == EXTRA_EPS[device] and st.device == device
    first = asked[-1][0]
    assert (first[0] if isinstance(first, tuple) else first) == EXTRA_EPS[device]
    assert asked[-1][-1] == "CPUExecutionProvider"  # the CPU provider takes what the device's does not
    assert st(synthetic_frame(8, 12)).shape == (8, 12, 3)


@pytest.mark.parametrize("device", sorted(EXTRA_EPS))
def test_missing_provider_is_one_line(test_model, device):
    if EXTRA_EPS[device] in hardware.available_providers() and device != "tensorrt":
        pytest.skip(f"this onnxruntime build has {EXTRA_EPS[device]}")
    with pytest.raises(DeviceError) as ei:
        Stylizer(test_model, device=device)
    msg = str(ei.value)
    assert "\n" not in msg and hardware.device_label(device) in msg


def test_missing_provider_names_where_it_comes_from(test_model, monkeypatch):
    monkeypatch.setattr(hardware, "available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(DeviceError, match=r"has no DmlExecutionProvider.*onnxruntime-directml"):
        StyleSession(test_model, "directml")
    with pytest.raises(DeviceError, match=r"has no CoreMLExecutionProvider.*macOS"):
        StyleSession(test_model, "coreml")


def test_provider_that_falls_back_is_refused(test_model, monkeypatch):
    """Listed in the build, but onnxruntime falls back to the CPU (libraries or hardware missing): one line."""
    fake_providers(monkeypatch, "OpenVINOExecutionProvider", runs=False)
    with pytest.raises(DeviceError, match="OpenVINO was asked for but onnxruntime fell back to CPUExecutionProvider"):
        Stylizer(test_model, device="openvino")
    # auto never picks such a provider; with CUDA not running it is the CPU
    monkeypatch.setattr(hardware, "cuda_unavailable_reason", lambda: "no GPU")
    assert Stylizer(test_model, device="auto").provider == "CPUExecutionProvider"


def test_unknown_device_is_value_error(test_model):
    with pytest.raises(UnknownDevice) as ei:
        Stylizer(test_model, device="tpu")
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, RtstyleError)
    with pytest.raises(ValueError):
        provider_list("tpu")


def test_accelerators_prefer_the_full_tier(tmp_path, monkeypatch):
    from conftest import make_contract_model

    from rtstyle import catalog

    d = tmp_path / "models"
    make_contract_model(d / "s.onnx", styles=("s",), tier="full")
    make_contract_model(d / "s-fast.onnx", styles=("s",), tier="fast", arch="test-fast")
    monkeypatch.setenv("RTSTYLE_MODELS", str(d))
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: None)
    assert catalog.resolve("s", device="directml").tier == "full"
    assert catalog.resolve("s", device="openvino").tier == "fast"


def test_cli_device_unavailable_one_line(tmp_path, test_model, monkeypatch, capsys):
    from test_cli_image import assert_one_line_error, run_cli

    monkeypatch.setattr(hardware, "available_providers", lambda: ["CPUExecutionProvider"])
    inp = tmp_path / "in.png"
    cv2.imwrite(str(inp), synthetic_frame(16, 16))
    code, _, err = run_cli(["image", inp, tmp_path / "out.png", "-s", test_model, "--device", "directml"], capsys)
    assert_one_line_error(code, err)
    assert "DirectML" in err and not (tmp_path / "out.png").exists()


def test_device_help_lists_the_providers(monkeypatch, capsys):
    from test_cli_image import run_cli

    monkeypatch.setenv("COLUMNS", "250")  # rich wraps the choice list at 80 columns

    code, out, _ = run_cli(["image", "--help"], capsys)
    assert code == 0
    for name in ("coreml", "directml", "openvino", "tensorrt"):
        assert name in out


def test_doctor_reports_which_providers_run(test_model, monkeypatch, capsys):
    import json

    from test_cli_image import run_cli

    fake_providers(monkeypatch, "TensorrtExecutionProvider", "DmlExecutionProvider")
    code, out, _ = run_cli(["doctor", "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["providers"]["TensorrtExecutionProvider"] == {"runs": True, "why": "runs", "device": "tensorrt"}
    assert {"tensorrt", "directml", "cpu"} <= set(info["devices_running"])
    code, out, _ = run_cli(["doctor"], capsys)
    assert code == 0 and "(--device directml)" in out and "devices that run:" in out
