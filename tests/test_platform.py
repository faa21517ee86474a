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


# ------------------------------------------------------------------------------------------ cores and memory


def test_physical_cores_from_psutil(monkeypatch):
    """psutil's physical count on every OS (no /proc/cpuinfo, no logical-count fallback off Linux)."""
    import psutil

    calls = []
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: calls.append(logical) or (3 if not logical else 6))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    hardware.physical_cores.cache_clear()
    try:
        assert hardware.physical_cores() == 3 and calls == [False]
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
        hardware.physical_cores.cache_clear()
        assert hardware.physical_cores() == 2  # never more than the CPUs this process may use
        monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: None)  # topology unknown
        monkeypatch.setattr(os, "cpu_count", lambda: 4)
        monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # macOS, Windows
        hardware.physical_cores.cache_clear()
        assert hardware.physical_cores() == 4
    finally:
        hardware.physical_cores.cache_clear()


def test_free_memory_is_not_read_per_frame(test_model, monkeypatch):
    import psutil

    reads = []

    class VM:
        available = 8 * 2**30

    def virtual_memory():
        reads.append(1)
        return VM()

    monkeypatch.setattr(psutil, "virtual_memory", virtual_memory)
    monkeypatch.setattr(hardware, "_MEMORY", None)
    real_open = open

    def no_meminfo(path, *a, **k):
        assert "meminfo" not in str(path), "free memory read from /proc/meminfo"
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", no_meminfo)
    st = Stylizer(test_model, device="cpu")
    for _ in range(50):
        st(synthetic_frame(8, 8))
    assert len(reads) == 1  # once per MEMORY_INTERVAL_S, not once per frame
    assert hardware.available_memory(max_age=0) == 8 * 2**30 and len(reads) == 2
    VM.available = 2**20  # 1 MiB free: a big frame is refused in one line
    hardware.available_memory(max_age=0)
    with pytest.raises(RtstyleError, match="GiB is free"):
        st.check_size(1920, 1080)


# ------------------------------------------------------------------------------------------ model folders


def test_user_models_dir_from_platformdirs(tmp_path, monkeypatch):
    import platformdirs

    from rtstyle import catalog

    monkeypatch.delenv("RTSTYLE_MODELS", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app, appauthor=None: str(tmp_path / "AppData" / app))
    assert catalog.user_models_dir() == tmp_path / "AppData" / "rtstyle" / "models"
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "mine"))
    assert catalog.user_models_dir() == tmp_path / "mine"


def test_old_models_folder_still_read_with_a_notice(tmp_path, monkeypatch, capsys):
    import platformdirs
    from conftest import make_contract_model

    from rtstyle import catalog, errors

    monkeypatch.delenv("RTSTYLE_MODELS", raising=False)
    monkeypatch.delenv("RTSTYLE_QUIET", raising=False)
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: None)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app, appauthor=None: str(tmp_path / "new" / app))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "old"))  # the old folder: $XDG_DATA_HOME/rtstyle/models
    monkeypatch.setattr(errors, "_NOTICED", set())
    monkeypatch.setattr(catalog, "_NOTICED", errors._NOTICED)
    make_contract_model(tmp_path / "old" / "rtstyle" / "models" / "legacy.onnx", styles=("legacy",))
    make_contract_model(tmp_path / "new" / "rtstyle" / "models" / "fresh.onnx", styles=("fresh",))
    names = {s.name for s in catalog.list_styles()}
    assert names == {"legacy", "fresh"}
    catalog.list_styles()
    err = capsys.readouterr().err
    notices = [ln for ln in err.splitlines() if "earlier versions" in ln]
    assert len(notices) == 1 and str(tmp_path / "new" / "rtstyle" / "models") in notices[0]  # said once
    assert catalog.resolve("legacy").file.parent == tmp_path / "old" / "rtstyle" / "models"
    # the same folder (Linux, where platformdirs gives the XDG path): no notice, no duplicate
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app, appauthor=None: str(tmp_path / "old" / app))
    monkeypatch.setattr(errors, "_NOTICED", set())
    monkeypatch.setattr(catalog, "_NOTICED", errors._NOTICED)
    assert {s.name for s in catalog.list_styles()} == {"legacy"}
    assert "earlier versions" not in capsys.readouterr().err
