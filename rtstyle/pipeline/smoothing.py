"""Temporal smoothing of stylized video: flow-guided blending, plain exponential blending, or off.

Per-frame style networks flicker: a small change in the input (noise, lighting, motion) changes the brush
strokes everywhere. :class:`Smoother` removes most of that flicker after the stylizer, without touching the
network:

``flow`` (default)
    Optical flow between the previous and the current *input* frame (OpenCV DIS on downscaled grey images)
    warps the previous *output* onto the current frame. Where the flow is reliable, the output is
    ``alpha * warped_prev + (1 - alpha) * new``; where it is not (occlusions, new content entering at the
    borders, fast motion the flow gets wrong) the new stylized frame is taken as it is, with a soft transition.
    Reliability = forward-backward consistency of the flow x photometric agreement of the warped input frames
    x in-bounds. Memory is bounded (``alpha`` < 1 makes old frames decay geometrically), which together with
    the mask keeps trails away.
``ema``
    ``out = a * prev_out + (1 - a) * new``: cheap, no motion compensation, so it trails on motion.
``off``
    The stylized frame is returned unchanged.

Both blending modes reset (output = new stylized frame) on scene cuts, when the frame size changes, and when
the mode changes. Everything is numpy + OpenCV; a 640x360 frame costs a few milliseconds on one core.

The work splits in two: :meth:`Smoother.prepare` needs only the input frame (optical flow, reliability mask,
sampling maps: nearly all the cost) and :meth:`Smoother.blend` then warps the previous output and mixes in the
new stylized frame (a remap and a blend). :meth:`Smoother.apply` runs ``prepare`` in a worker thread while the
stylizer runs, so smoothing adds little to a frame's latency when the network and the flow share the cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from rtstyle.choices import SMOOTH_MODES, SmoothMode
from rtstyle.errors import InputError

MODES = SMOOTH_MODES  # the one list of smoothing modes (rtstyle.choices)

_THUMB_WIDTH = 64  # scene-cut detector works on thumbnails this wide
_MIN_FLOW_SIDE = 32  # DIS needs this much (tested up to aspect 12)
_MAX_ASPECT = 10.0  # beyond this (a strip, not a picture) flow mode passes frames through
_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,  # the default: flow at a quarter of flow_side, no refinement
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,  # half of flow_side, refined: ~2.5x ultrafast's time
}


def check_mode(mode: str) -> str:
    """``mode`` when it is a smoothing mode, else an ``InputError`` naming the choices (one line)."""
    if mode not in MODES:
        raise InputError(f"--smooth must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def make_smoother(mode: SmoothMode) -> Smoother | None:
    """A :class:`Smoother` in ``mode``, or None for ``off`` (the pipeline then skips smoothing altogether)."""
    return None if check_mode(mode) == "off" else Smoother(mode=mode)


def _as_bgr_u8(name: str, img: np.ndarray) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        shape = getattr(img, "shape", None)
        dtype = getattr(img, "dtype", None)
        raise ValueError(f"{name} must be a uint8 HxWx3 array, got shape={shape} dtype={dtype}")
    return img


@dataclass
class Motion:
    """What :meth:`Smoother.prepare` learned from one input frame, for :meth:`Smoother.blend`.

    ``kind``: ``"off"`` (mode off: nothing is kept), ``"fresh"`` (no usable past: first frame, size change,
    scene cut, flow unreliable), ``"pass"`` (a strip: no flow), ``"ema"`` or ``"flow"``.
    """

    kind: str
    generation: int
    out_size: tuple[int, int] | None = None  # (H, W) the maps below were built for
    maps: tuple[Any, Any] | None = None  # fixed-point remap maps (flow)
    w_past: np.ndarray | None = None  # uint8 HxWx3 at out_size: 255 x the weight of the warped past (flow)
    w_new: np.ndarray | None = None  # 255 - w_past
    back: np.ndarray | None = None  # flow-size backward flow and past weight, to build the maps for a size
    w_small: np.ndarray | None = None
    reliable: float = 0.0


class Smoother:
    """Temporal smoothing applied after the stylizer: ``out = smoother(input_frame, stylized)``.

    ``input_frame`` is the frame the stylizer saw (uint8 BGR HxWx3, used for motion and scene-cut detection),
    ``stylized`` the stylizer's output for it (uint8 HxWx3; usually the same size, a different size is allowed).
    The returned array is new; the arguments are never modified.

    Parameters
    ----------
    mode: ``"flow"`` (default), ``"ema"`` or ``"off"``; settable at run time (``smoother.mode = "ema"``).
    alpha: weight of the warped previous output where the flow is fully reliable (flow mode). Effective
        memory is about ``1 / (1 - alpha)`` frames; 0.6 removes most flicker without visible lag.
    ema_alpha: weight of the previous output in ema mode.
    flow_side: long side (pixels) of the grey images the optical flow runs on.
    preset: OpenCV DIS preset, ``"ultrafast"`` (default), ``"fast"`` or ``"medium"`` (finer and refined flow:
        about 5 ms more per 640x360 frame, see docs/smoothing.md).
    forward_backward: also compute the forward flow and require forward-backward consistency
        (one more DIS call; catches occlusions that the photometric check misses on flat areas).
    cut_threshold: mean absolute difference (0..1) of consecutive input thumbnails above which a scene cut
        is assumed and the state is reset.
    min_reliable: in flow mode, reset when less than this fraction of the frame has reliable flow
        (a cut the thumbnail test missed, or motion far too fast to follow).
    warp: how the previous output is sampled, ``"linear"`` (bilinear) or ``"nearest"``: a quarter of the
        remap's time at 1280x720 and a sharper output, at a slightly higher warping error (docs/smoothing.md).
    alpha_moving: motion-adaptive blending (flow mode): the past's weight falls from ``alpha`` where the flow is
        at most ``motion_lo`` pixels (at flow size) to ``alpha_moving`` where it is ``motion_hi`` pixels or more,
        since a warp error (a trail) grows with the displacement; None = one ``alpha`` everywhere (the default
        before session 9; docs/smoothing.md, "Motion-adaptive alpha").
    """

    def __init__(
        self,
        mode: SmoothMode = "flow",
        *,
        alpha: float = 0.6,
        ema_alpha: float = 0.5,
        flow_side: int = 320,
        forward_backward: bool = True,
        cut_threshold: float = 0.15,
        min_reliable: float = 0.2,
        photo_lo: float = 12.0,
        photo_hi: float = 40.0,
        preset: str = "ultrafast",
        texture_level: float = 40.0,
        photo_blur: int = 5,
        warp: str = "linear",
        alpha_moving: float | None = 0.45,
        motion_lo: float = 0.5,
        motion_hi: float = 2.0,
    ) -> None:
        if not 0.0 <= alpha < 1.0:
            raise ValueError("alpha must be in [0, 1)")
        if not 0.0 <= ema_alpha < 1.0:
            raise ValueError("ema_alpha must be in [0, 1)")
        if alpha_moving is not None and not 0.0 <= alpha_moving < 1.0:
            raise ValueError("alpha_moving must be in [0, 1)")
        if not 0.0 <= motion_lo < motion_hi:
            raise ValueError("motion_lo and motion_hi must satisfy 0 <= motion_lo < motion_hi")
        if preset not in _DIS_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(_DIS_PRESETS)}")
        if warp not in ("linear", "nearest"):
            raise ValueError("warp must be 'linear' or 'nearest'")
        self.warp = warp
        self.alpha = float(alpha)
        self.ema_alpha = float(ema_alpha)
        self.alpha_moving = None if alpha_moving is None else float(alpha_moving)
        self.motion_lo, self.motion_hi = float(motion_lo), float(motion_hi)
        self.flow_side = max(16, int(flow_side))
        self.forward_backward = bool(forward_backward)
        self.cut_threshold = float(cut_threshold)
        self.min_reliable = float(min_reliable)
        self.photo_lo = float(photo_lo)
        self.photo_hi = float(max(photo_hi, photo_lo + 1.0))
        self.preset = preset
        self.texture_level = max(1e-3, float(texture_level))
        self.photo_blur = int(photo_blur) | 1  # odd kernel size
        self._lock = threading.RLock()  # the webcam's hotkeys may switch modes from another thread
        self._mode = "off"
        self.mode = mode  # validates
        self._dis = None
        self._pool: ThreadPoolExecutor | None = None
        self._grid_cache: dict = {}
        self.resets = 0  # number of resets so far (scene cuts, size changes); for the HUD / tests
        self.last_reliable = 1.0  # fraction of the last frame where the previous output was used (flow mode)
        self.reset()

    # ------------------------------------------------------------------ state
    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        value = str(value).lower()
        if value not in MODES:
            raise ValueError(f"unknown smoothing mode {value!r}; choose one of {', '.join(MODES)}")
        with self._lock:
            if value != self._mode:
                self._mode = value
                self.reset()

    def next_mode(self) -> str:
        """Cycle flow -> ema -> off -> flow (the webcam hotkey); returns the new mode."""
        self.mode = MODES[(MODES.index(self._mode) + 1) % len(MODES)]
        return self._mode

    def reset(self) -> None:
        """Forget the past: the next output equals the next stylized frame."""
        with self._lock:
            self._prev_out: np.ndarray | None = None
            self._prev_grey: np.ndarray | None = None  # flow-size grey input
            self._prev_thumb: np.ndarray | None = None
            self._in_shape: tuple[int, ...] | None = None
            self._generation = getattr(self, "_generation", 0) + 1  # a Motion from before a reset is stale

    # ------------------------------------------------------------------ main entry
    def __call__(self, input_frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        _as_bgr_u8("stylized", stylized)
        with self._lock:
            return self.blend(self.prepare(input_frame, stylized.shape[:2]), stylized)

    def apply(self, input_frame: np.ndarray, stylize: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``self(input_frame, stylize(input_frame))``, with the motion analysis of ``input_frame`` running in a
        worker thread while ``stylize`` runs (both release the GIL: OpenCV and onnxruntime).

        A thin per-frame wrapper for code that drives its own loop; a stream of frames is better served by
        :class:`rtstyle.pipeline.Pipeline`, which also overlaps the blend, the outputs and the decoding."""
        _as_bgr_u8("input_frame", input_frame)
        if self._mode == "off":
            return stylize(input_frame)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtstyle-flow")
        future = self._pool.submit(self.prepare, input_frame)
        try:
            stylized = stylize(input_frame)
        finally:
            motion = future.result()  # never leave prepare running against the next frame
        return self.blend(motion, stylized)

    def close(self) -> None:
        """Stop the worker thread of :meth:`apply` (a later ``apply`` starts a new one)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def prepare(self, input_frame: np.ndarray, out_size: tuple[int, int] | None = None) -> Motion:
        """Motion analysis of the next input frame against the previous one (needs no stylized frame).

        ``out_size`` (H, W) is the size the stylized frame will have (default: the input's). Call ``prepare``
        and :meth:`blend` alternately, once per frame."""
        _as_bgr_u8("input_frame", input_frame)
        with self._lock:
            return self._prepare(input_frame, out_size or input_frame.shape[:2])

    def blend(self, motion: Motion, stylized: np.ndarray) -> np.ndarray:
        """The smoothed output for the frame ``motion`` was prepared from; the stylized frame is not modified."""
        _as_bgr_u8("stylized", stylized)
        with self._lock:
            return self._blend(motion, stylized)

    def _prepare(self, input_frame: np.ndarray, out_size: tuple[int, int]) -> Motion:
        if self._mode == "off":
            return Motion("off", self._generation)

        grey = cv2.cvtColor(input_frame, cv2.COLOR_BGR2GRAY)
        h, w = grey.shape
        flowable = max(h, w) <= _MAX_ASPECT * min(h, w)  # no reliable flow on strips
        grey_small = self._flow_size(grey) if flowable else grey
        thumb = self._thumb(grey_small)
        fresh = self._prev_grey is None or self._in_shape != input_frame.shape or self._is_cut(thumb)
        prev_small = self._prev_grey
        self._prev_grey, self._prev_thumb, self._in_shape = grey_small, thumb, input_frame.shape
        motion = Motion("fresh" if fresh else self._mode, self._generation)
        if fresh or self._mode == "ema":
            return motion
        if not flowable:
            motion.kind = "pass"
            return motion
        assert prev_small is not None
        back = self._flow(grey_small, prev_small)  # current -> previous
        mask = self._reliability(grey_small, prev_small, back)
        motion.reliable = float(mask.mean())
        if motion.reliable < self.min_reliable:
            motion.kind = "fresh"  # a cut the thumbnail test missed, or motion far too fast to follow
            motion.reliable = 0.0
            return motion
        motion.back = back
        motion.w_small = mask * self._alpha_map(back)
        self._build_maps(motion, out_size)
        return motion

    def _alpha_map(self, back: np.ndarray) -> np.ndarray | np.float32:
        """The past's weight where the flow is reliable: ``alpha``, or with ``alpha_moving`` set a per-pixel ramp
        from ``alpha`` (flow up to ``motion_lo`` px) to ``alpha_moving`` (``motion_hi`` px and more)."""
        if self.alpha_moving is None:
            return np.float32(self.alpha)
        speed = cv2.magnitude(back[..., 0], back[..., 1])
        t = np.clip((speed - self.motion_lo) * (1.0 / (self.motion_hi - self.motion_lo)), 0.0, 1.0)
        return (self.alpha + (self.alpha_moving - self.alpha) * t).astype(np.float32)

    def _build_maps(self, motion: Motion, out_size: tuple[int, int]) -> None:
        assert motion.back is not None and motion.w_small is not None
        H, W = out_size
        back, w_prev = motion.back, motion.w_small
        h, w = back.shape[:2]
        if (h, w) == (H, W):
            full_map = self._grid2(H, W) + back
        else:
            # Build the sampling map at flow size and upsample it: bilinear resizing reproduces the full-size
            # grid exactly (cv2.resize samples at (X + 0.5) * w / W - 0.5), except within a pixel or two of
            # the border, and saves full-size passes.
            sx, sy = W / w, H / h
            small_map = (self._grid2(h, w) + 0.5) * np.array([sx, sy], np.float32) - 0.5
            small_map += back * np.array([sx, sy], np.float32)
            full_map = cv2.resize(small_map, (W, H), interpolation=cv2.INTER_LINEAR)
            w_prev = cv2.resize(w_prev, (W, H), interpolation=cv2.INTER_LINEAR)
        # Fixed-point maps make the full-size remap about twice as fast.
        motion.maps = cv2.convertMaps(full_map, None, cv2.CV_16SC2, nninterpolation=self.warp == "nearest")
        # The blend in uint8 fixed point (two scaled multiplies and an add) takes a third of the time of
        # cv2.blendLinear's float weights at 1280x720; its result differs by at most one level.
        w8 = cv2.convertScaleAbs(w_prev, alpha=255.0)
        motion.w_past = cv2.merge([w8, w8, w8])
        motion.w_new = cv2.bitwise_not(motion.w_past)  # 255 - w_past
        motion.out_size = (H, W)

    def _blend(self, motion: Motion, stylized: np.ndarray) -> np.ndarray:
        if motion.kind == "off" or self._mode == "off":
            self._prev_out = None
            return stylized.copy()
        prev = self._prev_out
        kind = motion.kind
        if prev is None or prev.shape != stylized.shape or motion.generation != self._generation:
            kind = "fresh"
        if kind == "fresh":
            if prev is not None:
                self.resets += 1
            out = stylized.copy()
            self.last_reliable = 0.0
        elif kind == "pass":
            out = stylized.copy()
            self.last_reliable = 0.0
        elif kind == "ema":
            out = cv2.addWeighted(prev, self.ema_alpha, stylized, 1.0 - self.ema_alpha, 0.0)
            self.last_reliable = 1.0
        else:
            if motion.out_size != stylized.shape[:2]:
                self._build_maps(motion, stylized.shape[:2])
            assert motion.maps is not None
            map1, map2 = motion.maps
            if self.warp == "nearest":
                warped = cv2.remap(prev, map1, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
            else:
                warped = cv2.remap(prev, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            scale = 1.0 / 255.0
            out = cv2.add(
                cv2.multiply(warped, motion.w_past, scale=scale), cv2.multiply(stylized, motion.w_new, scale=scale)
            )
            self.last_reliable = motion.reliable
        self._prev_out = out.copy()  # callers may draw on what we return
        return out

    # ------------------------------------------------------------------ helpers
    def _thumb(self, grey: np.ndarray) -> np.ndarray:
        h, w = grey.shape
        tw = min(_THUMB_WIDTH, w)
        th = max(1, round(h * tw / w))
        return cv2.resize(grey, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32)

    def _is_cut(self, thumb: np.ndarray) -> bool:
        if self._prev_thumb is None or self._prev_thumb.shape != thumb.shape:
            return True
        # Mean-normalised difference: a global brightness change (auto exposure) is not a cut.
        a = thumb - thumb.mean()
        b = self._prev_thumb - self._prev_thumb.mean()
        return float(np.mean(np.abs(a - b))) / 255.0 > self.cut_threshold

    def _flow_size(self, grey: np.ndarray) -> np.ndarray:
        """Grey image at flow size: long side ``flow_side``, but short side at least 32 px (smaller images
        crash OpenCV's DIS at some aspect ratios)."""
        h, w = grey.shape
        s = min(1.0, self.flow_side / max(h, w))
        if min(h, w) * s < _MIN_FLOW_SIDE:
            s = _MIN_FLOW_SIDE / min(h, w)
        if s == 1.0:
            return grey
        size = (max(_MIN_FLOW_SIDE, round(w * s)), max(_MIN_FLOW_SIDE, round(h * s)))
        return cv2.resize(grey, size, interpolation=cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR)

    def _grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        g = self._grid_cache.get((h, w))
        if g is None:
            gx = np.tile(np.arange(w, dtype=np.float32), (h, 1))
            gy = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
            if len(self._grid_cache) > 8:
                self._grid_cache.clear()
            g = self._grid_cache[(h, w)] = (gx, gy)
        return g

    def _grid2(self, h: int, w: int) -> np.ndarray:
        key = (-h, -w)  # separate cache slot from the split grids
        g = self._grid_cache.get(key)
        if g is None:
            gx, gy = self._grid(h, w)
            g = np.dstack([gx, gy])
            self._grid_cache[key] = g  # type: ignore[assignment]
        return g  # type: ignore[return-value]

    def _flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow field f with a(x) ~ b(x + f(x))."""
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[self.preset])
        return self._dis.calc(a, b, None)

    def _reliability(self, cur: np.ndarray, prev: np.ndarray, back: np.ndarray) -> np.ndarray:
        """Soft mask in [0, 1] at flow size: 1 where prev warped by ``back`` explains cur."""
        h, w = cur.shape
        cur_f = cur.astype(np.float32)
        layers = [prev.astype(np.float32), np.ones((h, w), np.float32)]
        if self.forward_backward:
            fwd = self._flow(prev, cur)
            layers += [fwd[..., 0], fwd[..., 1]]
        # One remap warps the previous grey image, an all-ones layer (whose warp is the in-bounds weight: new
        # content entering through the borders has no past) and the forward flow.
        warped = cv2.remap(
            cv2.merge(layers), self._grid2(h, w) + back, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        mask = warped[..., 1]
        # Photometric: the warped previous input must look like the current input. A global brightness change
        # (auto exposure) is compensated so that it does not read as "all unreliable".
        shift = float(cur_f.mean()) - float(layers[0].mean())
        k = self.photo_blur
        diff = (
            cv2.GaussianBlur(np.abs(cur_f - (warped[..., 0] + shift)), (k, k), 0)
            if k > 1
            else np.abs(cur_f - (warped[..., 0] + shift))
        )
        mask = mask * np.clip((self.photo_hi - diff) * (1.0 / (self.photo_hi - self.photo_lo)), 0.0, 1.0)
        if self.forward_backward:
            sx = back[..., 0] + warped[..., 2]  # forward flow at the target cancels the backward flow
            sy = back[..., 1] + warped[..., 3]
            err = sx * sx + sy * sy
            fx, fy, bx, by = warped[..., 2], warped[..., 3], back[..., 0], back[..., 1]
            mag = bx * bx + by * by + fx * fx + fy * fy
            tol = 0.01 * mag + 0.5  # Sundaram et al. style tolerance, in flow-size pixels squared
            fb_bad = 1.0 - np.clip(2.0 - err / tol, 0.0, 1.0)  # 0 up to tol, 1 from 2*tol
            # DIS flow is arbitrary on flat areas, where a wrong vector moves nothing visible and the photometric
            # test already speaks: count the forward-backward test in proportion to local texture only.
            soft = cv2.GaussianBlur(cur_f, (5, 5), 0)  # sensor noise is not texture
            gx = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
            gy = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
            texture = cv2.GaussianBlur(np.abs(gx) + np.abs(gy), (5, 5), 0)
            mask *= 1.0 - fb_bad * np.clip(texture * (1.0 / self.texture_level), 0.0, 1.0)
        # Grow unreliable regions a little (occlusion edges are where trails start), then soften.
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
        return cv2.GaussianBlur(mask, (5, 5), 0)
