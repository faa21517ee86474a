"""One contract-v1 model file in one onnxruntime session (``StyleSession``), and the session settings every rtstyle
session uses."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from rtstyle import contract
from rtstyle.errors import ContractError, DeviceError, InputError, InputNotFound, UnknownDevice
from rtstyle.runtime import hardware
from rtstyle.runtime.hardware import (
    COREML_EP,
    CPU_EP,
    CUDA_EP,
    DML_EP,
    OPENVINO_EP,
    ORT_LOG_SEVERITY,
    PROVIDERS,
    TENSORRT_EP,
    onnxruntime_module,
)

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
    ort = onnxruntime_module()
    if not path.is_file():
        raise InputNotFound(f"model file not found: {path}")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        raise ContractError(
            f"{path.name} is not a readable ONNX model (truncated or corrupt?): {_one_line(exc)}"
        ) from None


def session_options(device: str, threads: int | None = None) -> Any:
    """The onnxruntime ``SessionOptions`` of every rtstyle session (benchmarks and studies reuse them)."""
    ort = onnxruntime_module()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = ORT_LOG_SEVERITY
    if device == "cpu":
        opts.intra_op_num_threads = threads or hardware.physical_cores()
        opts.inter_op_num_threads = 1
        # Idle workers sleep instead of spinning: in a video or webcam loop the decoder, the encoder and the
        # smoother's flow need those cores between two frames (end to end: 15 -> 20 fps on 2 cores).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def _cuda_options() -> dict[str, Any]:
    return {"device_id": 0, "cudnn_conv_algo_search": "HEURISTIC"}


def provider_list(device: str) -> list[Any]:
    """The providers (with their options) a session on ``device`` asks onnxruntime for, in order: the device's
    provider first, the CPU provider last for whatever operators it does not take."""
    if device not in PROVIDERS:
        raise UnknownDevice(f"unknown device {device!r}: use one of {', '.join(PROVIDERS)}")
    if device == "cpu":
        return [CPU_EP]
    if device == "cuda":
        return [(CUDA_EP, _cuda_options()), CPU_EP]
    if device == "tensorrt":
        # An engine is built for each new input size (slow: seconds to minutes); cached across runs.
        import platformdirs

        cache = Path(platformdirs.user_cache_dir("rtstyle", appauthor=False)) / "tensorrt"
        trt = {
            "device_id": 0,
            "trt_fp16_enable": True,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
        }
        return [(TENSORRT_EP, trt), (CUDA_EP, _cuda_options()), CPU_EP]
    if device == "coreml":
        return [(COREML_EP, {"ModelFormat": "MLProgram"}), CPU_EP]  # ML programs take flexible input sizes
    if device == "directml":
        return [(DML_EP, {"device_id": 0}), CPU_EP]
    return [OPENVINO_EP, CPU_EP]


class StyleSession:
    """One contract-v1 model file in one onnxruntime session, on ``cpu`` or one provider's device (``cuda``,
    ``coreml``, ``directml``, ``openvino``, ``tensorrt``; never ``auto`` here). A device that cannot run is a
    one-line ``DeviceError`` (its provider missing from this onnxruntime build, its libraries missing, or
    onnxruntime falling back to the CPU), never a silent CPU run."""

    def __init__(
        self, path: str | Path, device: str = "cpu", threads: int | None = None, io_binding: bool | None = None
    ) -> None:
        ort = onnxruntime_module()  # the global logger silenced before the first session
        self.path = Path(path)
        if device not in PROVIDERS:
            raise UnknownDevice(f"StyleSession needs one of {', '.join(PROVIDERS)}, not {device!r}")
        label = hardware.device_label(device)
        opts = session_options(device, threads)
        if device != "cpu":
            hardware.check_device(device)
        providers = provider_list(device)
        # A failed provider load would be logged before onnxruntime falls back to the CPU; the log is silenced
        # (ORT_LOG_SEVERITY) and the fallback detected below and explained in one line.
        if device == "cpu":
            self.session = load_session(self.path, providers, opts)
        else:
            if not self.path.is_file():
                raise InputNotFound(f"model file not found: {self.path}")
            try:
                self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
            except Exception as exc:  # the provider's own exception types
                load_session(self.path, [CPU_EP], session_options("cpu", 1))  # a broken model: its ContractError
                raise DeviceError(f"{label} cannot run {self.path.name}: {_one_line(exc)}") from None
        self.provider = self.session.get_providers()[0]
        wanted = PROVIDERS[device]
        if self.provider != wanted:
            if device == "cuda":
                raise DeviceError(
                    f"CUDA was asked for but onnxruntime fell back to {self.provider} "
                    '(CUDA/cuDNN libraries missing or no GPU; see `rtstyle doctor`; `pip install "rtstyle[cuda]"`)'
                )
            raise DeviceError(
                f"{label} was asked for but onnxruntime fell back to {self.provider} "
                f"(its libraries or hardware are missing; see `rtstyle doctor`)"
            )
        self.device = hardware.device_of(self.provider)
        self.inputs, self.outputs, self.meta, self.info = describe_session(self.session)
        self._lock = threading.Lock()
        # I/O binding (default on CUDA): input/output buffers on the device, reused while the frame size holds.
        self.io_binding = self.device == "cuda" if io_binding is None else bool(io_binding)
        self._bound: tuple[Any, ...] | None = None  # (shape, binding, in_value, out_value)
        # On the CPU, runs from several threads overlap (onnxruntime's CPU sessions are thread-safe; each run works
        # on its caller's thread and the session's intra-op threads): the frames in flight of ``Stylizer(lanes=)``.
        # Elsewhere one run at a time: the I/O binding's buffers are one per session, and DirectML forbids overlap.
        self.serial = self.device != "cpu" or self.io_binding

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
        with self._lock if self.serial else contextlib.nullcontext():
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
                if self.device not in ("cpu", "cuda") and "memory" not in low and "alloc" not in low:
                    label = hardware.device_label(self.device)
                    raise DeviceError(f"{label} failed running {self.path.name}: {msg}") from None
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
        ort = onnxruntime_module()
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
