"""Temporal smoothing: flicker goes down, scene cuts and size changes reset, no trails, modes behave."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from rtstyle.pipeline.smoothing import MODES, Smoother

H, W = 120, 200
SHIFT = 2  # px per frame, to the left (camera pans right)


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    t = cv2.GaussianBlur(t, (0, 0), 2.0)
    return cv2.normalize(t, None, 0, 255, cv2.NORM_MINMAX)


def _panning(n: int, seed: int = 0) -> list[np.ndarray]:
    """Frames of a textured scene panning by SHIFT px per frame: frame_t(x) = frame_{t-1}(x + SHIFT)."""
    big = _texture(H, W + SHIFT * n + 8, seed)
    return [np.ascontiguousarray(big[:, SHIFT * t : SHIFT * t + W]) for t in range(n)]


def _flicker(frames: list[np.ndarray], sigma: float = 18.0, seed: int = 1) -> list[np.ndarray]:
    """A fake stylizer: the frame plus fresh low-frequency noise every frame (what per-frame networks do)."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        noise = rng.normal(0, sigma, (H // 10, W // 10, 3)).astype(np.float32)
        noise = cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC)
        out.append(np.clip(f.astype(np.float32) + noise, 0, 255).astype(np.uint8))
    return out


def _gt_warp_error(frames: list[np.ndarray]) -> float:
    """Warping error with the known translation, away from the borders (values in [0, 1])."""
    m = 10
    errs = []
    for t in range(1, len(frames)):
        cur = frames[t][m:-m, m : W - m - SHIFT].astype(np.float32) / 255
        prev = frames[t - 1][m:-m, m + SHIFT : W - m].astype(np.float32) / 255
        errs.append(np.mean((cur - prev) ** 2))
    return float(np.mean(errs))


def _run(sm: Smoother, frames: list[np.ndarray], styl: list[np.ndarray]) -> list[np.ndarray]:
    return [sm(f, s) for f, s in zip(frames, styl, strict=True)]


def test_translated_sequence_is_consistent_and_flicker_is_not() -> None:
    frames = _panning(8)
    assert _gt_warp_error(frames) < 1e-6  # the helper's geometry is right
    assert _gt_warp_error(_flicker(frames)) > 1e-3


@pytest.mark.parametrize(
    ("flow_side", "warp", "preset"),
    [
        (320, "linear", "ultrafast"),
        (100, "linear", "ultrafast"),
        (100, "nearest", "ultrafast"),
        (320, "linear", "medium"),
    ],
)  # 100: flow at half size, warp map upsampled
def test_flow_smoothing_reduces_flicker_by_a_clear_margin(flow_side: int, warp: str, preset: str) -> None:
    frames = _panning(16)
    styl = _flicker(frames)
    out = _run(Smoother("flow", flow_side=flow_side, warp=warp, preset=preset), frames, styl)
    raw_err = _gt_warp_error(styl[4:])
    smooth_err = _gt_warp_error(out[4:])
    assert smooth_err < 0.5 * raw_err, (smooth_err, raw_err)
    # ... without drifting away from the stylization (no lag, no smearing of the texture)
    drift = np.mean([np.mean((o.astype(np.float32) - f) ** 2) for o, f in zip(out[4:], frames[4:], strict=True)])
    raw_drift = np.mean([np.mean((s.astype(np.float32) - f) ** 2) for s, f in zip(styl[4:], frames[4:], strict=True)])
    assert drift < raw_drift


def test_motion_adaptive_alpha_blends_less_where_the_scene_moves() -> None:
    """alpha_moving: a pan of SHIFT px per frame takes the moving weight, a still scene the full alpha (the same
    output as one alpha everywhere)."""
    frames = _panning(16)
    styl = _flicker(frames)
    plain = _gt_warp_error(_run(Smoother("flow", alpha_moving=None), frames, styl)[4:])
    moving = _gt_warp_error(_run(Smoother("flow", alpha_moving=0.2, motion_hi=1.5), frames, styl)[4:])
    raw = _gt_warp_error(styl[4:])
    assert plain < moving < raw, (plain, moving, raw)  # less of the past on motion, still some smoothing
    still = [frames[0]] * 8
    noisy = _flicker(still)
    a = _run(Smoother("flow", alpha_moving=None), still, noisy)
    b = _run(Smoother("flow", alpha_moving=0.2, motion_hi=1.5), still, noisy)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # no motion: the same blend


@pytest.mark.parametrize(
    "kw", [{"alpha_moving": 1.0}, {"alpha_moving": -0.1}, {"motion_lo": 2.0, "motion_hi": 1.0}, {"preset": "slow"}]
)
def test_motion_adaptive_alpha_settings_are_checked(kw: dict) -> None:
    with pytest.raises(ValueError):
        Smoother("flow", **kw)


def test_flow_beats_ema_on_motion() -> None:
    """EMA has no motion compensation: on a pan it smears the texture; flow mode must not."""
    frames = _panning(12)
    flow = _run(Smoother("flow"), frames, frames)
    ema = _run(Smoother("ema"), frames, frames)

    def dev(outs: list[np.ndarray]) -> float:
        return float(
            np.mean([np.abs(o.astype(np.float32) - f).mean() for o, f in zip(outs[3:], frames[3:], strict=True)])
        )

    assert dev(flow) < 2.0
    assert dev(ema) > 2 * dev(flow)


def _moving_square(n: int, step: int = 6) -> list[np.ndarray]:
    bg = _texture(H, W, seed=3) // 2
    out = []
    for t in range(n):
        f = bg.copy()
        x0 = 20 + step * t
        f[40:80, x0 : x0 + 40] = (250, 250, 250)
        out.append(f)
    return out


def test_no_trails_behind_a_moving_object() -> None:
    n, step = 12, 6
    frames = _moving_square(n, step)
    x_now = 20 + step * (n - 1)
    behind = (slice(40, 80), slice(x_now - 3 * step, x_now))  # where the square was 1-3 frames ago

    def trail(mode: str) -> float:
        out = _run(Smoother(mode), frames, frames)  # a flicker-free "stylizer": ideal output = input
        return float(np.abs(out[-1][behind].astype(np.float32) - frames[-1][behind]).mean())

    assert trail("flow") < 12.0
    assert trail("ema") > 40.0  # the check can fail: plain blending does leave a trail


def test_scene_cut_resets() -> None:
    a = _panning(6, seed=0)
    b = _panning(3, seed=7)
    layout = np.zeros((H, W, 3), np.uint8)
    layout[:, : W // 2] = 200  # another shot: different layout (bright left, dark right), same texture statistics
    b = [cv2.addWeighted(x, 0.3, layout, 0.7, 0) for x in b]
    sa, sb = _flicker(a, seed=2), _flicker(b, seed=3)
    for mode in ("flow", "ema"):
        sm = Smoother(mode)
        _run(sm, a, sa)
        resets = sm.resets
        out = sm(b[0], sb[0])
        assert np.array_equal(out, sb[0]), mode
        assert sm.resets == resets + 1
        assert not np.array_equal(sm(b[1], sb[1]), sb[1])  # and smoothing goes on after the cut


def test_global_brightness_change_is_not_a_cut() -> None:
    frames = _panning(4)
    sm = Smoother("flow")
    _run(sm, frames[:3], frames[:3])
    darker = np.clip(frames[3].astype(np.int16) - 30, 0, 255).astype(np.uint8)
    sm(darker, darker)
    assert sm.resets == 0


def test_size_change_resets() -> None:
    frames = _panning(4)
    styl = _flicker(frames)
    sm = Smoother("flow")
    _run(sm, frames, styl)
    small_in = cv2.resize(frames[-1], (W // 2, H // 2))
    small_st = cv2.resize(styl[-1], (W // 2, H // 2))
    out = sm(small_in, small_st)
    assert out.shape == small_st.shape
    assert np.array_equal(out, small_st)


def test_first_frame_and_off_mode_return_the_stylized_frame() -> None:
    frames = _panning(5)
    styl = _flicker(frames)
    assert np.array_equal(Smoother("flow")(frames[0], styl[0]), styl[0])
    sm = Smoother("off")
    for f, s in zip(frames, styl, strict=True):
        out = sm(f, s)
        assert np.array_equal(out, s)
        assert out is not s


def test_ema_blends() -> None:
    f = _texture(H, W)
    s0 = np.full((H, W, 3), 100, np.uint8)
    s1 = np.full((H, W, 3), 200, np.uint8)
    sm = Smoother("ema", ema_alpha=0.5)
    assert np.array_equal(sm(f, s0), s0)
    out = sm(f, s1)
    assert np.abs(out.astype(int) - 150).max() <= 1
    out = sm(f, s1)
    assert np.abs(out.astype(int) - 175).max() <= 1


def test_mode_is_settable_and_switching_resets() -> None:
    frames = _panning(4)
    styl = _flicker(frames)
    sm = Smoother()
    assert sm.mode == "flow"
    _run(sm, frames[:3], styl[:3])
    sm.mode = "ema"
    assert sm.mode == "ema"
    assert np.array_equal(sm(frames[3], styl[3]), styl[3])
    assert sm.next_mode() == "off"
    assert sm.next_mode() == "flow"
    with pytest.raises(ValueError):
        sm.mode = "blur"
    with pytest.raises(ValueError):
        Smoother("nope")
    assert set(MODES) == {"flow", "ema", "off"}


def test_reset_forgets() -> None:
    frames = _panning(4)
    styl = _flicker(frames)
    sm = Smoother()
    _run(sm, frames[:3], styl[:3])
    sm.reset()
    assert np.array_equal(sm(frames[3], styl[3]), styl[3])


def test_arguments_are_not_modified_and_bad_input_is_refused() -> None:
    frames = _panning(3)
    styl = _flicker(frames)
    copies = [x.copy() for x in frames + styl]
    sm = Smoother()
    out = _run(sm, frames, styl)
    out[-1][:] = 0  # the caller draws a HUD on the output: the smoother's state must not change
    for x, c in zip(frames + styl, copies, strict=True):
        assert np.array_equal(x, c)
    with pytest.raises(ValueError):
        sm(frames[0].astype(np.float32), styl[0])
    with pytest.raises(ValueError):
        sm(frames[0], styl[0][..., 0])
    with pytest.raises(ValueError, match="warp"):
        Smoother(warp="cubic")


def test_stylized_at_another_size_and_tiny_frames() -> None:
    frames = _panning(6)
    styl = [cv2.resize(s, (W * 2, H * 2)) for s in _flicker(frames)]
    sm = Smoother()
    outs = _run(sm, frames, styl)
    assert all(o.shape == (H * 2, W * 2, 3) for o in outs)
    assert sm.resets == 0
    for shape in [(1, 1), (5, 7), (12, 40), (16, 300), (24, 200), (1, 900), (700, 3)]:
        sm = Smoother()
        f = np.random.default_rng(0).integers(0, 256, shape + (3,), dtype=np.uint8)
        for _ in range(3):
            assert sm(f, f).shape == f.shape


def test_a_missed_cut_falls_back_to_the_new_frame() -> None:
    """Content that the flow cannot explain (but the thumbnails call similar) still takes the new frame."""
    frames = _panning(4)
    sm = Smoother("flow", cut_threshold=1.0)  # disable the thumbnail cut test
    _run(sm, frames, frames)
    other = np.ascontiguousarray(np.roll(_texture(H, W, seed=11), 37, axis=1))
    out = sm(other, other)
    assert np.abs(out.astype(np.float32) - other).mean() < 8.0


def test_flat_static_scene_with_sensor_noise_stays_reliable() -> None:
    """DIS is arbitrary on flat areas; that must not switch smoothing off on a static, nearly flat scene."""
    rng = np.random.default_rng(4)
    y, x = np.mgrid[0:H, 0:W]
    flat = np.stack([x * 0.3 + 60, y * 0.3 + 80, np.full_like(x, 120.0)], -1)
    frames = [np.clip(flat + rng.normal(0, 2.0, flat.shape), 0, 255).astype(np.uint8) for _ in range(6)]
    sm = Smoother("flow")
    rel = []
    for f, s in zip(frames, _flicker(frames), strict=True):
        sm(f, s)
        rel.append(sm.last_reliable)
    assert min(rel[1:]) > 0.8, rel


def test_mode_switches_from_another_thread_are_safe() -> None:
    frames = _panning(30)
    styl = _flicker(frames)
    sm = Smoother()
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            sm.next_mode()

    t = threading.Thread(target=flip)
    t.start()
    try:
        outs = _run(sm, frames, styl)  # must not raise although the state is reset under its feet
    finally:
        stop.set()
        t.join()
    assert len(outs) == len(frames) and all(o.shape == (H, W, 3) for o in outs)


def test_apply_overlaps_motion_with_stylizing_and_gives_the_same_frames() -> None:
    frames = _panning(8)
    styl = _flicker(frames)
    lookup = {id(f): s for f, s in zip(frames, styl, strict=True)}
    threads: list[str] = []

    def stylize(frame: np.ndarray) -> np.ndarray:
        threads.append(threading.current_thread().name)
        return lookup[id(frame)]

    plain = _run(Smoother(), frames, styl)
    sm = Smoother()
    overlapped = [sm.apply(f, stylize) for f in frames]
    sm.close()
    for a, b in zip(plain, overlapped, strict=True):
        np.testing.assert_array_equal(a, b)
    assert sm.last_reliable > 0.5  # the flow path ran, not only resets
    assert set(threads) == {"MainThread"}  # the stylizer stays on the caller's thread


def test_apply_passes_a_stylizer_error_through_and_stays_usable() -> None:
    frames = _panning(3)
    sm = Smoother()

    def broken(frame: np.ndarray) -> np.ndarray:
        raise RuntimeError("inference failed")

    sm.apply(frames[0], lambda f: f)
    with pytest.raises(RuntimeError, match="inference failed"):
        sm.apply(frames[1], broken)
    assert sm.apply(frames[2], lambda f: f).shape == frames[2].shape
    sm.close()


def test_a_reset_between_prepare_and_blend_makes_the_frame_fresh() -> None:
    frames = _panning(3)
    styl = _flicker(frames)
    sm = Smoother()
    sm(frames[0], styl[0])
    motion = sm.prepare(frames[1])
    sm.mode = "ema"  # e.g. the webcam's hotkey, from another thread
    sm.mode = "flow"
    np.testing.assert_array_equal(sm.blend(motion, styl[1]), styl[1])


def test_prepared_maps_follow_a_stylized_frame_of_another_size() -> None:
    frames = _panning(6)
    styl = [cv2.resize(s, (W * 2, H * 2)) for s in _flicker(frames)]
    sm = Smoother()
    outs = []
    for f, s in zip(frames, styl, strict=True):
        motion = sm.prepare(f)  # maps built for the input's size, rebuilt for the larger output
        outs.append(sm.blend(motion, s))
    assert outs[-1].shape == styl[-1].shape
    assert sm.last_reliable > 0.5
    assert sm.resets == 0


def test_flow_blend_is_the_weighted_mean_of_warped_past_and_new_frame_within_one_level() -> None:
    frames = _panning(2)
    styl = _flicker(frames)
    sm = Smoother()
    sm(frames[0], styl[0])
    motion = sm.prepare(frames[1])
    assert motion.kind == "flow" and motion.maps is not None and motion.w_past is not None
    warped = cv2.remap(styl[0], *motion.maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    w = motion.w_past.astype(np.float32) / 255
    assert 0.3 < w.max() <= sm.alpha + 1 / 255
    expected = w * warped + (1 - w) * styl[1]
    out = sm.blend(motion, styl[1])
    assert np.abs(out.astype(np.float32) - expected).max() <= 1.0
