"""onnxruntime side: one session per model file (``StyleSession``) and the user-facing ``Stylizer``.

``Stylizer(style, device="auto")`` takes a catalogue name or a path to a contract-v1 ``.onnx`` file and maps a
uint8 BGR frame to a stylized uint8 BGR frame of the same size, stateless per frame. ``device="auto"`` uses CUDA
only when it really runs (onnxruntime silently falls back to CPU when CUDA/cuDNN libraries are missing), and
``Stylizer.provider`` always names the provider that runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rtstyle import adjust, contract
from rtstyle.errors import ContractError, DeviceError, InputError

DEVICES = ("auto", "cuda", "cpu")
CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"
# Refuse a single pass above this many pixels (the stylization size, after --max-side/--scale).
MAX_PIXELS = 4096 * 4096
# Rough peak working memory per pixel of a Johnson-size network in fp32 (activations and scratch).
BYTES_PER_PIXEL_ESTIMATE = 600

_ORT_TYPES = {
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


_LOGGER_SET = False


def _ort() -> Any:
    """onnxruntime, with its global logger limited to errors (rtstyle words warnings and fallbacks itself)."""
    global _LOGGER_SET
    import onnxruntime as ort

    if not _LOGGER_SET:
        _LOGGER_SET = True
        with contextlib.suppress(Exception):
            ort.set_default_logger_severity(3)
    return ort


# ---------------------------------------------------------------------------------------------- hardware facts


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
    ort = _ort()
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
    import shutil
    import subprocess

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


# ---------------------------------------------------------------------------------------------- sessions


def _specs(args: Any) -> list[contract.TensorSpec]:
    return [
        contract.TensorSpec(a.name, _ORT_TYPES.get(a.type, a.type), tuple(a.shape) if a.shape is not None else ())
        for a in args
    ]


def describe_session(
    session: Any,
) -> tuple[list[contract.TensorSpec], list[contract.TensorSpec], dict[str, str], contract.ModelInfo]:
    """The session's inputs, outputs and metadata as contract types, plus the validated :class:`ModelInfo`."""
    inputs = _specs(session.get_inputs())
    outputs = _specs(session.get_outputs())
    meta = dict(session.get_modelmeta().custom_metadata_map)
    return inputs, outputs, meta, contract.validate(inputs, outputs, meta)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def load_session(path: Path, providers: list[Any], options: Any) -> Any:
    """Create an ``InferenceSession``; unreadable/corrupt files become one-line ``ContractError``s."""
    ort = _ort()
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        raise ContractError(
            f"{path.name} is not a readable ONNX model (truncated or corrupt?): {_one_line(exc)}"
        ) from None


def session_options(device: str, threads: int | None = None) -> Any:
    """The onnxruntime ``SessionOptions`` of every rtstyle session (benchmarks and studies reuse them)."""
    ort = _ort()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    if device == "cpu":
        opts.intra_op_num_threads = threads or physical_cores()
        opts.inter_op_num_threads = 1
        # Idle workers sleep instead of spinning: in a video or webcam loop the decoder, the encoder and the
        # smoother's flow need those cores between two frames (end to end: 15 -> 20 fps on 2 cores).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


class StyleSession:
    """One contract-v1 model file in one onnxruntime session, on ``cuda`` or ``cpu`` (never ``auto`` here)."""

    def __init__(
        self, path: str | Path, device: str = "cpu", threads: int | None = None, io_binding: bool | None = None
    ) -> None:
        ort = _ort()
        self.path = Path(path)
        if device not in ("cuda", "cpu"):
            raise DeviceError(f"StyleSession needs device 'cuda' or 'cpu', not {device!r}")
        opts = session_options(device, threads)
        if device == "cuda":
            reason = cuda_unavailable_reason()
            if reason is not None:
                raise DeviceError(f"CUDA was asked for but cannot run: {reason}")
            providers: list[Any] = [
                (CUDA_EP, {"device_id": 0, "cudnn_conv_algo_search": "HEURISTIC"}),
                CPU_EP,
            ]
        else:
            providers = [CPU_EP]
        if device == "cuda":
            # A failed CUDA provider load is logged at error level before onnxruntime falls back to the CPU;
            # the fallback is detected below and explained in one line, so keep the log quiet meanwhile.
            with contextlib.suppress(Exception):
                ort.set_default_logger_severity(4)
            try:
                self.session = load_session(self.path, providers, opts)
            finally:
                with contextlib.suppress(Exception):
                    ort.set_default_logger_severity(3)
        else:
            self.session = load_session(self.path, providers, opts)
        self.provider = self.session.get_providers()[0]
        if device == "cuda" and self.provider != CUDA_EP:
            raise DeviceError(
                f"CUDA was asked for but onnxruntime fell back to {self.provider} "
                "(CUDA/cuDNN libraries missing or no GPU; see `rtstyle doctor`; `pip install rtstyle[cuda]`)"
            )
        self.device = "cuda" if self.provider == CUDA_EP else "cpu"
        self.inputs, self.outputs, self.meta, self.info = describe_session(self.session)
        self._lock = threading.Lock()
        # I/O binding (default on CUDA): input/output buffers on the device, reused while the frame size holds.
        self.io_binding = self.device == "cuda" if io_binding is None else bool(io_binding)
        self._bound: tuple[Any, ...] | None = None  # (shape, binding, in_value, out_value)

    def __repr__(self) -> str:
        return f"StyleSession({self.path.name!r}, provider={self.provider!r})"

    def run(self, bgr: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Stylize one contiguous uint8 HxWx3 BGR frame; ``weights`` is the style vector for multi-style files."""
        x = np.ascontiguousarray(bgr)[None]
        feeds: dict[str, np.ndarray] = {contract.INPUT_FRAME: x}
        if self.info.has_style_input:
            if weights is None:
                weights = np.eye(self.info.num_styles, dtype=np.float32)[0]
            feeds[contract.INPUT_STYLE] = np.asarray(weights, np.float32)
        with self._lock:
            try:
                if self.io_binding:
                    out = self._run_bound(x, feeds.get(contract.INPUT_STYLE))
                else:
                    out = self.session.run([contract.OUTPUT_FRAME], feeds)[0]
            except MemoryError:
                raise
            except Exception as exc:
                msg = _one_line(exc)
                low = msg.lower()
                if self.device == "cuda" and any(k in low for k in ("cuda", "cudnn", "cublas")) and "memory" not in low:
                    raise DeviceError(f"CUDA failed running {self.path.name}: {msg}") from None
                if "alloc" in low or "memory" in low:
                    raise InputError(
                        f"out of memory stylizing a {x.shape[2]}x{x.shape[1]} frame: try --max-side 1280 or --scale 0.5"
                    ) from None
                raise ContractError(f"{self.path.name} failed to run: {msg}") from None
        if out.shape != x.shape or out.dtype != np.uint8:
            raise ContractError(
                f"{self.path.name} breaks the model contract: returned {out.dtype} {list(out.shape)} "
                f"for a {list(x.shape)} frame"
            )
        return out[0]

    def _run_bound(self, x: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        """I/O-binding path (CUDA): input and output live on the device, the binding is reused while the size holds."""
        ort = _ort()
        if self._bound is None or self._bound[0] != x.shape:
            binding = self.session.io_binding()
            dev = self.device
            x_dev = ort.OrtValue.ortvalue_from_numpy(x, dev, 0)
            y_dev = ort.OrtValue.ortvalue_from_shape_and_type(list(x.shape), np.uint8, dev, 0)
            binding.bind_ortvalue_input(contract.INPUT_FRAME, x_dev)
            binding.bind_ortvalue_output(contract.OUTPUT_FRAME, y_dev)
            self._bound = (x.shape, binding, x_dev, y_dev)
        else:
            _, binding, x_dev, y_dev = self._bound
            x_dev.update_inplace(x)
        if weights is not None:
            binding.bind_cpu_input(contract.INPUT_STYLE, np.ascontiguousarray(weights, np.float32))
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def warm_up(self, long_side: int | None = None) -> None:
        """One run at the working size (CUDA picks its kernels here, not on the first real frame)."""
        side = int(long_side or self.info.working_size)
        self.run(np.zeros((max(1, side * 9 // 16), side, 3), np.uint8))


# ---------------------------------------------------------------------------------------------- stylizer


def _fp16_sibling(path: Path) -> Path | None:
    if path.name.endswith(".fp16.onnx"):
        return None
    sib = path.with_name(path.name[: -len(".onnx")] + ".fp16.onnx") if path.name.endswith(".onnx") else None
    return sib if sib is not None and sib.is_file() else None


def _is_path_like(style: str | Path) -> bool:
    if isinstance(style, Path):
        return True
    return style.endswith(".onnx") or os.sep in style or (os.altsep is not None and os.altsep in style)


class Stylizer:
    """Stylize uint8 BGR frames with a contract-v1 model; stateless per frame.

    ``style``: a catalogue name (``rtstyle styles``) or a path to an ``.onnx`` file. ``device``: ``auto`` (CUDA
    when it really runs, else CPU), ``cuda`` (a ``DeviceError`` saying why when it cannot) or ``cpu``.
    ``max_side``/``scale`` stylize at a smaller size and resize back, which makes the strokes larger relative to
    the frame. ``strength`` blends with the original; ``preserve_color`` keeps the input's colours. ``blend``
    mixes styles (``{name: weight}``): inside one multi-style file through its style input, across files by
    mixing the outputs.
    """

    def __init__(
        self,
        style: str | Path | None = None,
        device: str = "auto",
        tier: str | None = None,
        max_side: int | None = None,
        scale: float | None = None,
        strength: float = 1.0,
        preserve_color: bool = False,
        blend: Mapping[str, float] | str | None = None,
        warm_up: bool = True,
        threads: int | None = None,
    ) -> None:
        if tier is not None and tier not in contract.TIERS:
            raise InputError(f"unknown tier {tier!r}: use one of {', '.join(contract.TIERS)}")
        self.requested_device = device
        self.device = resolve_device(device)
        self.requested_tier = tier
        self.max_side = max_side
        self.scale = scale
        adjust.working_size(16, 16, max_side, scale)  # validates both
        self.strength = float(strength)
        self.preserve_color = bool(preserve_color)
        self._warm = warm_up
        self._threads = threads
        self._sessions: dict[Path, StyleSession] = {}
        # Current selection: list of (session, weight vector or None, output mix weight).
        self._parts: list[tuple[StyleSession, np.ndarray | None, float]] = []
        self._label = ""
        if blend is not None:
            self.set_style(adjust.parse_blend(blend) if isinstance(blend, str) else blend, base=style)
        else:
            self.set_style(style)

    # ------------------------------------------------------------------ model loading

    def _session(self, path: Path) -> StyleSession:
        path = path.resolve()
        if path not in self._sessions:
            try:
                sess = StyleSession(
                    (_fp16_sibling(path) or path) if self.device == "cuda" else path, self.device, threads=self._threads
                )
                if self._warm and sess.device == "cuda":
                    sess.warm_up(self.max_side or sess.info.working_size)
            except DeviceError:
                if self.requested_device != "auto":
                    raise
                # auto: the libraries loaded but CUDA does not run (no GPU, driver mismatch): use the CPU.
                self.device = "cpu"
                sess = StyleSession(path, "cpu", threads=self._threads)
            self._sessions[path] = sess
        return self._sessions[path]

    def _locate(self, name: str | Path | None) -> tuple[StyleSession, str | None]:
        """(session, style name inside it or None for its first) for a catalogue name or a model path."""
        if name is None:
            from rtstyle import catalog

            st = catalog.default_style(tier=self.requested_tier, device=self.device)
            return self._session(st.file), st.name
        if _is_path_like(name):
            return self._session(Path(name).expanduser()), None
        # A style inside an already loaded file (e.g. the other half of a multi-style model).
        for sess in self._sessions.values():
            if name in sess.info.style_names and (self.requested_tier in (None, sess.info.tier)):
                return sess, name
        from rtstyle import catalog

        st = catalog.resolve(str(name), tier=self.requested_tier, device=self.device)
        return self._session(st.file), st.name

    def preload(self, names: list[str]) -> None:
        """Load (and on CUDA warm up) these styles now so that switching to them later does not stall."""
        for n in names:
            self._locate(n)

    def set_style(self, style: str | Path | Mapping[str, float] | None, base: str | Path | None = None) -> None:
        """Switch to a style name / model path, or a blend ``{name: weight}`` (``base``: a model path the names
        live in)."""
        if isinstance(style, Mapping):
            if not style:
                raise InputError("an empty style blend")
            base_sess = self._locate(base)[0] if base is not None and _is_path_like(base) else None
            groups: dict[Path, tuple[StyleSession, dict[str, float]]] = {}
            for name, w in style.items():
                if base_sess is not None and name in base_sess.info.style_names:
                    sess = base_sess
                else:
                    sess, _ = self._locate(name)
                groups.setdefault(sess.path, (sess, {}))[1][name] = float(w)
            total = sum(sum(g[1].values()) for g in groups.values())
            if total <= 0:
                raise InputError("style blend weights must add up to more than zero")
            parts = []
            for sess, sel in groups.values():
                mix = sum(sel.values()) / total
                vec = (
                    np.asarray(contract.style_weights(sess.info, sel), np.float32)
                    if sess.info.has_style_input
                    else None
                )
                parts.append((sess, vec, mix))
            self._parts = parts
            self._label = "+".join(f"{n}:{w / total:.2f}" for n, w in style.items())
            return
        sess, name = self._locate(style)
        if name is None:
            name = sess.info.style_names[0]
        vec = np.asarray(contract.style_weights(sess.info, name), np.float32) if sess.info.has_style_input else None
        self._parts = [(sess, vec, 1.0)]
        self._label = name

    # ------------------------------------------------------------------ properties

    @property
    def session(self) -> StyleSession:
        return self._parts[0][0]

    @property
    def provider(self) -> str:
        """The onnxruntime provider that really runs (``CUDAExecutionProvider`` or ``CPUExecutionProvider``)."""
        return self.session.provider

    @property
    def info(self) -> contract.ModelInfo:
        return self.session.info

    @property
    def tier(self) -> str:
        return self.info.tier

    @property
    def style(self) -> str:
        """The current style name, or a blend label such as ``a:0.70+b:0.30``."""
        return self._label

    @property
    def style_names(self) -> list[str]:
        """Names of the styles in the current model file."""
        return self.info.style_names

    @property
    def model_path(self) -> Path:
        return self.session.path

    # ------------------------------------------------------------------ running

    def check_size(self, width: int, height: int) -> tuple[int, int]:
        """The stylization size for a ``width``x``height`` frame; ``InputError`` when it is too large to run."""
        w, h = adjust.working_size(width, height, self.max_side, self.scale)
        px = w * h
        if px > MAX_PIXELS:
            raise InputError(
                f"a {w}x{h} frame is too large to stylize in one pass (limit {MAX_PIXELS / 1e6:.0f} megapixels): "
                "use --max-side 2048 or --scale 0.5 (larger strokes) to stylize it smaller"
            )
        if self.device == "cpu":
            avail = _mem_available()
            need = px * BYTES_PER_PIXEL_ESTIMATE * len(self._parts)
            if avail is not None and need > 0.8 * avail:
                raise InputError(
                    f"a {w}x{h} frame needs about {need / 2**30:.1f} GiB to stylize but {avail / 2**30:.1f} GiB is "
                    "free: use --max-side or --scale to stylize it smaller"
                )
        return w, h

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Stylize one frame: HxWx3 BGR (HxW gray -> BGR out; HxWx4 BGRA -> BGRA out, alpha kept)."""
        bgr, alpha = adjust.to_bgr(frame)
        h, w = bgr.shape[:2]
        sw, sh = self.check_size(w, h)
        small = adjust.resize(bgr, sw, sh)
        out = None
        for sess, vec, mix in self._parts:
            y = sess.run(small, vec)
            if len(self._parts) == 1:
                out = y
            else:
                out = y.astype(np.float32) * mix if out is None else out + y.astype(np.float32) * mix
        assert out is not None
        if out.dtype != np.uint8:
            out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
        if (sw, sh) != (w, h):
            out = adjust.resize(out, w, h)
        if self.preserve_color:
            out = adjust.preserve_color(bgr, out)
        if self.strength < 1.0:
            out = adjust.apply_strength(bgr, out, self.strength)
        return adjust.with_alpha(out, alpha)


def _mem_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None
