"""What this machine can run: physical cores, whether onnxruntime's CUDA provider really loads (and why not), and
the device ``auto`` resolves to."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from rtstyle.choices import DEVICES
from rtstyle.errors import DeviceError

CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"


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
    """Physical CPU cores this process may use (threads for onnxruntime's CPU provider)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    cores = 0
    try:
        import psutil  # optional

        cores = psutil.cpu_count(logical=False) or 0
    except ImportError:
        try:
            pairs, phys = set(), "0"
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    key = key.strip()
                    if key == "physical id":
                        phys = value.strip()
                    elif key == "core id":
                        pairs.add((phys, value.strip()))
            cores = len(pairs)
        except OSError:
            cores = 0
    if cores <= 0:
        cores = os.cpu_count() or 1
    return max(1, min(cores, usable))


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
                "`pip install rtstyle[cuda]` or a CUDA toolkit + cuDNN matching onnxruntime-gpu"
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
            f"cuDNN 9 is missing ({cudnn[0]} cannot be loaded): install it with `pip install rtstyle[cuda]` "
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


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when the CUDA provider's libraries load, else ``cpu``; checks the name."""
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if cuda_unavailable_reason() is None else "cpu"
    return device
