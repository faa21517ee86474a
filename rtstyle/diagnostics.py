"""What this machine can run, for ``rtstyle doctor``: the onnxruntime build, which providers really run (and why
CUDA does not), the GPU, display, ffmpeg and the catalogue folders, as one dict (:func:`gather`)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib.metadata import distributions
from typing import Any

from rtstyle import __version__, catalog
from rtstyle.io.encode import encoder_report
from rtstyle.io.ffmpeg import ffmpeg_version
from rtstyle.runtime import hardware

# A one-node ONNX model (Identity on float[1], opset 13), serialised with onnx.helper; needs no onnx at run time.
_TINY_MODEL_HEX = (
    "08083a3c0a100a017812017922084964656e746974791206646f63746f725a0f0a0178120a0a08080112040a020801620f0a0179120a0a"
    "08080112040a02080142040a00100d"
)


def _provider_check(ep: str, model: bytes) -> tuple[bool, str]:
    """Create a tiny session asking for ``ep`` and report whether it is the one that runs."""
    ort = hardware.onnxruntime_module()
    opts = ort.SessionOptions()
    opts.log_severity_level = hardware.ORT_LOG_SEVERITY
    try:
        providers: list[Any] = [ep, "CPUExecutionProvider"] if ep != "CPUExecutionProvider" else [ep]
        sess = ort.InferenceSession(model, sess_options=opts, providers=providers)
    except Exception as exc:
        return False, " ".join(str(exc).split())[:200]
    runs = sess.get_providers()
    if runs and runs[0] == ep:
        return True, "runs"
    return False, f"onnxruntime fell back to {runs[0] if runs else 'nothing'}"


def _nvidia_gpus() -> list[str] | None:
    """GPU names and driver versions from ``nvidia-smi`` (None when it is not installed)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        r = subprocess.run(
            [smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return [f"nvidia-smi failed: {exc}"]
    lines = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
    return lines or [f"nvidia-smi: {' '.join(r.stderr.split())[:160] or 'no GPU listed'}"]


def gather() -> dict[str, Any]:
    """Everything doctor reports, as a dict."""
    ort = hardware.onnxruntime_module()
    info: dict[str, Any] = {
        "rtstyle": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "onnxruntime": ort.__version__,
        "onnxruntime_device": ort.get_device(),
        "physical_cores": hardware.physical_cores(),
        "logical_cpus": os.cpu_count(),
    }
    try:
        names = sorted({(d.metadata["Name"] or "").lower() for d in distributions()})
        info["onnxruntime_packages"] = [n for n in names if n.startswith("onnxruntime")]
    except Exception:  # pragma: no cover - metadata quirks
        info["onnxruntime_packages"] = []
    available = hardware.available_providers()
    info["providers_available"] = available
    info["gpu"] = _nvidia_gpus()
    model = bytes.fromhex(_TINY_MODEL_HEX)
    checks = {}
    named = set(hardware.PROVIDERS.values())
    for ep in available:
        if ep not in named:
            checks[ep] = {"runs": False, "why": "not used by rtstyle (no --device names it)", "device": None}
            continue
        device = hardware.device_of(ep)
        reason = hardware.unavailable_reason(device)  # CUDA's libraries, TensorRT on CUDA
        ok, why = (False, reason) if reason is not None else _provider_check(ep, model)
        checks[ep] = {"runs": ok, "why": why, "device": device}
    info["providers"] = checks
    info["providers_running"] = [ep for ep, c in checks.items() if c["runs"]]
    info["devices_running"] = [c["device"] for c in checks.values() if c["runs"] and c["device"]]
    info["default_device"] = hardware.resolve_device("auto")
    if sys.platform.startswith("linux"):
        disp = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        info["display"] = disp or None
    else:
        info["display"] = "native"
    info["ffmpeg"] = ffmpeg_version()
    info["encoders"] = encoder_report()
    info["models_shipped_dir"] = str(catalog.shipped_models_dir() or "")
    info["models_user_dir"] = str(catalog.user_models_dir())
    try:
        info["styles"] = len(catalog.list_styles())
    except Exception as exc:  # never let doctor crash on a catalogue problem
        info["styles"] = f"error: {exc}"
    return info
