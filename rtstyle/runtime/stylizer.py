"""``Stylizer``: the user-facing stylization call (``rtstyle.Stylizer``).

``Stylizer(style, device="auto")`` takes a catalogue name or a path to a contract-v1 ``.onnx`` file and maps a
uint8 BGR frame to a stylized uint8 BGR frame of the same size, stateless per frame (RGB arrays with
``channels="rgb"``, PIL images and [0, 1] float arrays too: ``rtstyle.runtime.frames``). ``device="auto"`` uses
CUDA only when it really runs (onnxruntime silently falls back to CPU when CUDA/cuDNN libraries are missing), and
``Stylizer.provider`` always names the provider that runs. It is a context manager: ``close()`` (or the end of a
``with`` block) releases the onnxruntime sessions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from rtstyle import adjust, catalog, contract
from rtstyle.choices import CHANNELS, Channels, Device, Tier
from rtstyle.errors import DeviceError, InputError
from rtstyle.runtime import frames, hardware
from rtstyle.runtime.session import StyleSession

if TYPE_CHECKING:  # pragma: no cover - for type checkers only; PIL is never imported here
    from PIL.Image import Image as PILImage

# Refuse a single pass above this many pixels (the stylization size, after --max-side/--scale).
MAX_PIXELS = 4096 * 4096
# Rough peak working memory per pixel of a Johnson-size network in fp32 (activations and scratch).
BYTES_PER_PIXEL_ESTIMATE = 600


def _fp16_sibling(path: Path) -> Path | None:
    if path.name.endswith(".fp16.onnx"):
        return None
    sib = path.with_name(path.name[: -len(".onnx")] + ".fp16.onnx") if path.name.endswith(".onnx") else None
    return sib if sib is not None and sib.is_file() else None


def resolve_lanes(lanes: int | str, device: str) -> int:
    """``Stylizer``'s ``lanes`` as a number: ``"auto"`` is 2 on a CPU with two or more physical cores, 1 on any
    other device (one run at a time there); a number is checked (at least 1) and kept on the CPU, 1 elsewhere."""
    if lanes == "auto":
        return 2 if device == "cpu" and hardware.physical_cores() >= 2 else 1
    if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
        raise InputError(f"lanes must be 'auto' or a whole number of at least 1, not {lanes!r}")
    return lanes if device == "cpu" else 1


def lane_threads(lanes: int, threads: int | None = None) -> int | None:
    """onnxruntime's intra-op threads for each of ``lanes`` frames at once: ``threads`` when given, else the
    physical cores shared out among the lanes (None for one lane: the session's default, every core)."""
    if threads or lanes <= 1:
        return threads
    return max(1, hardware.physical_cores() // lanes)


def _is_path_like(style: str | Path) -> bool:
    if isinstance(style, Path):
        return True
    return style.endswith(".onnx") or os.sep in style or (os.altsep is not None and os.altsep in style)


class Stylizer:
    """Stylize frames with a contract-v1 model; stateless per frame.

    ``style``: a catalogue name (``rtstyle styles``) or a path to an ``.onnx`` file. ``device``: ``auto`` (CUDA
    when it really runs, else CPU), ``cpu``, or an onnxruntime execution provider by name (``cuda``, ``coreml``,
    ``directml``, ``openvino``, ``tensorrt``; a ``DeviceError`` saying why when it cannot run here).
    ``max_side``/``scale`` stylize at a smaller size and resize back, which makes the strokes larger relative to
    the frame. ``strength`` blends with the original; ``preserve_color`` keeps the input's colours. ``blend``
    mixes styles (``{name: weight}``): inside one multi-style file through its style input, across files by
    mixing the outputs. ``channels``: the colour order of array frames, ``"bgr"`` (OpenCV's) or ``"rgb"``
    (PIL's, matplotlib's, most other libraries'); PIL images are always understood as what they are.

    Frames: uint8 HxWx3 (HxW gray, HxWx4 with alpha kept; uint16 scaled down), float arrays in [0, 1] (returned
    as floats), or PIL images (returned as PIL images). Bad arguments raise ``InputError`` (a ``ValueError``),
    an unknown style ``StyleNotFound`` (a ``LookupError``), a missing model file ``InputNotFound`` (a
    ``FileNotFoundError``); all are ``RtstyleError``s.

    ``lanes``: how many frames a frame loop (:class:`rtstyle.pipeline.Pipeline`) may stylize at once, each on
    ``threads`` (default: the physical cores shared out) onnxruntime threads; ``"auto"``: 2 on a CPU with two
    or more cores, else 1. On two cores, two frames at once on one thread each get through ~1.4-1.9x the frames
    of one frame on two threads (a small network's layers do not keep two threads busy), each frame taking
    longer (docs/performance.md). Calls from several threads are safe on the CPU; elsewhere they take turns.

    ``with Stylizer("mosaic") as stylize: ...`` releases the onnxruntime sessions at the end (``close()``).
    """

    def __init__(
        self,
        style: str | Path | None = None,
        device: Device = "auto",
        tier: Tier | None = None,
        max_side: int | None = None,
        scale: float | None = None,
        strength: float = 1.0,
        preserve_color: bool = False,
        blend: Mapping[str, float] | str | None = None,
        warm_up: bool = True,
        threads: int | None = None,
        channels: Channels = "bgr",
        lanes: int | str = 1,
    ) -> None:
        self._closed = False
        self._sessions: dict[Path, StyleSession] = {}
        self._parts: list[tuple[StyleSession, np.ndarray | None, float]] = []
        if tier is not None and tier not in contract.TIERS:
            raise InputError(f"unknown tier {tier!r}: use one of {', '.join(contract.TIERS)}")
        if channels not in CHANNELS:
            raise InputError(f"channels must be one of {', '.join(CHANNELS)}, not {channels!r}")
        try:
            strength_f = float(strength)
        except (TypeError, ValueError):
            raise InputError(f"strength must be a number in 0..1, not {strength!r}") from None
        if not (math.isfinite(strength_f) and 0.0 <= strength_f <= 1.0):
            raise InputError(f"strength must be in 0..1, not {strength}")
        self.channels: Channels = channels
        self.requested_device = device
        self.device = hardware.resolve_device(device)
        self.requested_tier = tier
        self.max_side = max_side
        self.scale = scale
        adjust.working_size(16, 16, max_side, scale)  # validates both
        self.strength = strength_f
        self.preserve_color = bool(preserve_color)
        self._warm = warm_up
        self.lanes = resolve_lanes(lanes, self.device)
        self._threads = lane_threads(self.lanes, threads)
        # Current selection (self._parts): list of (session, weight vector or None, output mix weight).
        self._label = ""
        if blend is not None:
            self.set_style(adjust.parse_blend(blend) if isinstance(blend, str) else blend, base=style)
        else:
            self.set_style(style)

    # ------------------------------------------------------------------ model loading

    def _session(self, path: Path) -> StyleSession:
        self._check_open()
        path = path.resolve()
        if path not in self._sessions:
            try:
                sess = StyleSession(
                    (_fp16_sibling(path) or path) if self.device == "cuda" else path, self.device, threads=self._threads
                )
                if self._warm and sess.device not in ("cpu", "openvino"):
                    sess.warm_up(self.max_side or sess.info.working_size)
            except DeviceError:
                if self.requested_device != "auto":
                    raise
                # auto: the libraries loaded but the accelerator does not run (no GPU, driver mismatch): the CPU.
                self.device = "cpu"
                sess = StyleSession(path, "cpu", threads=self._threads)
            self._sessions[path] = sess
        return self._sessions[path]

    def _locate(self, name: str | Path | None) -> tuple[StyleSession, str | None]:
        """(session, style name inside it or None for its first) for a catalogue name or a model path."""
        if name is None:
            st = catalog.default_style(tier=self.requested_tier, device=self.device)
            return self._session(st.file), st.name
        if _is_path_like(name):
            return self._session(Path(name).expanduser()), None
        # A style inside an already loaded file (e.g. the other half of a multi-style model).
        for sess in self._sessions.values():
            if name in sess.info.style_names and (self.requested_tier in (None, sess.info.tier)):
                return sess, name
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
        if self.device in ("cpu", "openvino"):
            avail = hardware.available_memory()
            need = px * BYTES_PER_PIXEL_ESTIMATE * len(self._parts)
            if avail is not None and need > 0.8 * avail:
                raise InputError(
                    f"a {w}x{h} frame needs about {need / 2**30:.1f} GiB to stylize but {avail / 2**30:.1f} GiB is "
                    "free: use --max-side or --scale to stylize it smaller"
                )
        return w, h

    @overload
    def __call__(self, frame: np.ndarray) -> np.ndarray: ...

    @overload
    def __call__(self, frame: PILImage) -> PILImage: ...

    def __call__(self, frame: Any) -> Any:
        """Stylize one frame: HxWx3 BGR (RGB with ``channels="rgb"``), HxW gray (colour out), HxWx4 with alpha
        (alpha kept); uint8, uint16 or float in [0, 1] (floats out); or a PIL image (a PIL image out)."""
        self._check_open()
        native, kind = frames.to_native(frame, self.channels)
        return frames.from_native(self._stylize(native), kind)

    def stylize_rgb(self, frame: np.ndarray) -> np.ndarray:
        """Stylize an RGB(A) array whatever ``channels`` says (the result is RGB(A) too)."""
        self._check_open()
        native, kind = frames.to_native(frame, "rgb")
        return frames.from_native(self._stylize(native), kind)

    def _stylize(self, frame: np.ndarray) -> np.ndarray:
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

    # ------------------------------------------------------------------ lifetime

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise InputError("this Stylizer is closed (make a new one)")

    def close(self) -> None:
        """Release the onnxruntime sessions (and their device memory); the stylizer cannot be used afterwards.
        Closing twice is harmless."""
        self._closed = True
        self._parts = []
        self._sessions.clear()

    def __enter__(self) -> Stylizer:
        self._check_open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed or not self._parts:
            return "Stylizer(closed)" if self._closed else "Stylizer()"
        parts = [f"style={self.style!r}", f"tier={self.tier!r}", f"device={self.device!r}"]
        parts.append(f"provider={self.provider!r}")
        if self.max_side is not None:
            parts.append(f"max_side={self.max_side}")
        if self.scale is not None:
            parts.append(f"scale={self.scale:g}")
        if self.strength < 1.0:
            parts.append(f"strength={self.strength:g}")
        if self.preserve_color:
            parts.append("preserve_color=True")
        if self.channels != "bgr":
            parts.append(f"channels={self.channels!r}")
        return f"Stylizer({', '.join(parts)})"
