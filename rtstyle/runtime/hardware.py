"""What this machine can run: physical cores and free memory (psutil), the onnxruntime execution providers that
``--device`` names (CUDA, CoreML, DirectML, OpenVINO, TensorRT) and whether each can run here (and why not), and
the device ``auto`` resolves to."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from rtstyle.choices import DEVICES
from rtstyle.errors import DeviceError, UnknownDevice

CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"
COREML_EP = "CoreMLExecutionProvider"
DML_EP = "DmlExecutionProvider"
OPENVINO_EP = "OpenVINOExecutionProvider"
TENSORRT_EP = "TensorrtExecutionProvider"

# --device NAME -> the onnxruntime execution provider it asks for (``auto`` resolves to one of these).
PROVIDERS: dict[str, str] = {
    "cpu": CPU_EP,
    "cuda": CUDA_EP,
    "coreml": COREML_EP,
    "directml": DML_EP,
    "openvino": OPENVINO_EP,
    "tensorrt": TENSORRT_EP,
}
# Devices whose provider runs the network on a GPU or neural engine: the full tier is their default.
ACCELERATORS = ("cuda", "tensorrt", "directml", "coreml")
# Where each provider comes from, for the one-line error when this onnxruntime build lacks it.
PROVIDER_SOURCES: dict[str, str] = {
    "cuda": 'onnxruntime-gpu on Linux x86_64 and Windows (`pip install "rtstyle[cuda]"` adds its CUDA libraries)',
    "coreml": "the onnxruntime package on macOS",
    "directml": "`pip install onnxruntime-directml` on Windows (in place of onnxruntime-gpu)",
    "openvino": "`pip install onnxruntime-openvino` (in place of onnxruntime / onnxruntime-gpu)",
    "tensorrt": "onnxruntime-gpu with NVIDIA's TensorRT libraries installed (`pip install tensorrt`)",
}


_LOGGER_SET = False


# onnxruntime's own log: fatal only. rtstyle words every failure itself in one line; an error line from
# onnxruntime (with colour codes) printed before it would only repeat it.
ORT_LOG_SEVERITY = 4


def onnxruntime_module() -> Any:
    """onnxruntime, with its global logger silenced (``ORT_LOG_SEVERITY``: rtstyle words warnings, fallbacks and
    errors itself).

    Imported on first use: ``rtstyle styles`` and ``rtstyle --help`` never pay for it."""
    global _LOGGER_SET
    import onnxruntime as ort

    if not _LOGGER_SET:
        _LOGGER_SET = True
        with contextlib.suppress(Exception):
            ort.set_default_logger_severity(ORT_LOG_SEVERITY)
    return ort


@functools.lru_cache(maxsize=1)
def physical_cores() -> int:
    """Physical CPU cores this process may use (threads for onnxruntime's CPU provider): psutil's count of
    physical cores on every OS (not the logical count: SMT siblings share a core's vector units), at most the
    CPUs this process may run on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    try:
        cores = psutil.cpu_count(logical=False) or 0
    except Exception:  # noqa: BLE001 - psutil cannot read the topology (some containers, exotic OSes)
        cores = 0
    if cores <= 0:
        cores = os.cpu_count() or 1
    return max(1, min(cores, usable))


MEMORY_INTERVAL_S = 1.0  # how stale the free-memory figure may be (it is asked for on every frame)
_MEMORY_LOCK = threading.Lock()
_MEMORY: tuple[float, int | None] | None = None  # (monotonic time read, bytes available)


def available_memory(max_age: float = MEMORY_INTERVAL_S) -> int | None:
    """Bytes of memory available to new allocations without swapping (psutil, every OS), or None when it cannot
    be read. Read at most once per ``max_age`` seconds: the frame loop asks on every frame."""
    global _MEMORY
    now = time.monotonic()
    with _MEMORY_LOCK:
        if _MEMORY is not None and now - _MEMORY[0] < max_age:
            return _MEMORY[1]
        try:
            value: int | None = int(psutil.virtual_memory().available)
        except Exception:  # noqa: BLE001 - psutil cannot read it here
            value = None
        _MEMORY = (now, value)
        return value


def _quiet_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with Python-level stdout/stderr swallowed (onnxruntime's helpers print)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kwargs)


@functools.lru_cache(maxsize=1)
def cuda_unavailable_reason() -> str | None:
    """Why onnxruntime's CUDA provider cannot run here, or ``None`` when its libraries load.

    Loads the provider library the way onnxruntime will (after ``ort.preload_dlls()``, which picks up the
    ``nvidia-*`` wheels of ``pip install rtstyle[cuda]``); the loader names the first missing library.
    """
    ort = onnxruntime_module()
    if CUDA_EP not in ort.get_available_providers():
        return f"this onnxruntime build ({ort.__version__}, package without CUDA) has no CUDA provider"
    if hasattr(ort, "preload_dlls"):
        with contextlib.suppress(Exception):
            _quiet_call(ort.preload_dlls)
    capi = Path(ort.__file__).parent / "capi"
    libs = sorted(capi.glob("libonnxruntime_providers_cuda*")) + sorted(capi.glob("onnxruntime_providers_cuda*.dll"))
    if not libs:
        return None  # cannot check; the session check after creation decides
    try:
        ctypes.CDLL(str(libs[0]))
    except OSError as exc:
        msg = str(exc)
        first = msg.split(":")[0].strip() if "cannot open shared object" in msg else " ".join(msg.split())
        missing = _ldd_missing(libs[0]) or [first]
        driver = [m for m in missing if m.startswith("libcuda.so") or m.startswith("nvcuda")]
        libs_missing = [m for m in missing if m not in driver]
        parts = []
        if driver:
            parts.append(f"no NVIDIA driver found ({driver[0]} missing)")
        if libs_missing:
            parts.append(
                f"CUDA/cuDNN libraries missing ({', '.join(libs_missing)}): install them with "
                "`pip install 'rtstyle[cuda]'` or a CUDA toolkit + cuDNN matching onnxruntime-gpu"
            )
        return "; ".join(parts)
    cudnn = ("cudnn64_9.dll",) if os.name == "nt" else ("libcudnn.so.9", "libcudnn.so")
    for name in cudnn:
        try:
            ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return (
            f"cuDNN 9 is missing ({cudnn[0]} cannot be loaded): install it with `pip install 'rtstyle[cuda]'` "
            "(nvidia-cudnn wheels) or from NVIDIA"
        )
    return None


def _ldd_missing(lib: Path) -> list[str]:
    """Libraries ``ldd`` cannot find for ``lib`` (Linux; empty elsewhere or when ldd is absent)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(lib)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    missing = [line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line]
    try:  # libraries that ort.preload_dlls() already loaded into this process are not missing
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            loaded = f.read()
    except OSError:
        loaded = ""
    return [m for m in missing if "/" + m not in loaded]


def available_providers() -> list[str]:
    """The execution providers this onnxruntime build has (whether each really runs is another matter:
    :func:`unavailable_reason`, and ``rtstyle doctor`` tries each)."""
    return list(onnxruntime_module().get_available_providers())


def device_of(provider: str) -> str:
    """The ``--device`` name of an execution provider (``cpu`` for one rtstyle does not name)."""
    for name, ep in PROVIDERS.items():
        if ep == provider:
            return name
    return "cpu"


def _build() -> str:
    ort = onnxruntime_module()
    return f"{getattr(ort, '__version__', '?')}"


def unavailable_reason(device: str) -> str | None:
    """Why ``device`` (a :data:`PROVIDERS` name) cannot run here, or None when its provider is in this build and
    (for CUDA, and TensorRT on top of it) its libraries load. The session check after creation decides the rest."""
    if device not in PROVIDERS:
        raise UnknownDevice(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    if device == "cpu":
        return None
    if device == "cuda":
        return cuda_unavailable_reason()
    ep = PROVIDERS[device]
    if ep not in available_providers():
        return f"this onnxruntime build ({_build()}) has no {ep}; it comes with {PROVIDER_SOURCES[device]}"
    if device == "tensorrt":
        reason = cuda_unavailable_reason()
        if reason is not None:
            return f"TensorRT runs on CUDA, which cannot run: {reason}"
    return None


def check_device(device: str) -> None:
    """Raise a one-line ``DeviceError`` when ``device`` (not ``auto``) cannot run here (see
    :func:`unavailable_reason`)."""
    reason = unavailable_reason(device)
    if reason is not None:
        raise DeviceError(f"{device_label(device)} was asked for but cannot run: {reason}")


def device_label(device: str) -> str:
    """How messages name a device: ``CUDA``, ``CoreML``, ``DirectML``, ``OpenVINO``, ``TensorRT``, ``CPU``."""
    return _LABELS.get(device, device)


_LABELS = {
    "cpu": "CPU",
    "cuda": "CUDA",
    "coreml": "CoreML",
    "directml": "DirectML",
    "openvino": "OpenVINO",
    "tensorrt": "TensorRT",
}


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when the CUDA provider's libraries load, else ``cpu``; any other name is checked and
    returned as it is (whether it runs is checked when a session is made).

    ``auto`` never picks CoreML, DirectML, OpenVINO or TensorRT: they are used when named (``--device coreml``).
    rtstyle's models take any frame size, and these providers compile per input shape or fall back to the CPU
    for dynamic shapes (TensorRT builds an engine for each new size), so whether they beat the CPU provider
    depends on the machine and has not been measured."""
    if device not in DEVICES:
        raise UnknownDevice(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if cuda_unavailable_reason() is None else "cpu"
    return device
