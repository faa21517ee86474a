"""tools/warp_error.py and tools/smoothing_report.py: the temporal-consistency figures."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import flicker, panning

TOOLS = Path(__file__).resolve().parents[1] / "tools"
H, W, SHIFT = 96, 160, 2


@pytest.fixture(scope="module")
def we():
    sys.path.insert(0, str(TOOLS))
    try:
        yield importlib.import_module("warp_error")
    finally:
        sys.path.remove(str(TOOLS))


@pytest.fixture(scope="module")
def report(we):
    sys.path.insert(0, str(TOOLS))
    try:
        yield importlib.import_module("smoothing_report")
    finally:
        sys.path.remove(str(TOOLS))


def _panning(n: int, seed: int = 0) -> list[np.ndarray]:
    return panning(n, H, W, SHIFT, seed)


def _write(path: Path, frames: list[np.ndarray]) -> Path:
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (W, H))  # lossless: no codec noise
    assert vw.isOpened()
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def test_consistent_sequence_scores_near_zero_and_flicker_scores_high(we) -> None:
    frames = _panning(6)
    consistent = we.warp_error(frames, frames)
    flickering = we.warp_error(frames, flicker(frames))
    assert consistent < 1e-4
    assert flickering > 3e-3
    assert flickering > 50 * consistent


def test_warp_error_follows_motion(we) -> None:
    """A stylization that moves with the content is consistent; the same frame repeated (a frozen output) is not."""
    frames = _panning(6)
    frozen = [frames[0]] * len(frames)
    assert we.warp_error(frames, frozen) > 10 * we.warp_error(frames, frames) + 1e-4


def test_per_frame_errors_and_reused_flows(we) -> None:
    frames = _panning(5)
    styl = flicker(frames)
    errs = we.warp_errors(frames, styl)
    assert errs.shape == (4,)
    flows = we.consistency_flows(frames)
    assert len(flows) == 4 and flows[0].back.shape == (H, W, 2) and flows[0].valid.dtype == bool
    assert we.warp_error(frames, styl, flows) == pytest.approx(float(errs.mean()))
    # the flow finds the pan (content moves left by SHIFT: frame_t(x) = frame_{t-1}(x + SHIFT))
    v = flows[1].valid
    assert np.median(flows[1].back[..., 0][v]) == pytest.approx(SHIFT, abs=0.3)
    # new content enters at the right border: that strip is marked occluded
    assert v[:, -1].mean() < 0.5 and v[:, W // 2].mean() > 0.9


def test_the_metric_uses_farneback_not_dis(we, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = cv2.calcOpticalFlowFarneback

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    def no_dis(*a, **k):
        raise AssertionError("the metric must not use DIS (the smoother's flow)")

    monkeypatch.setattr(cv2, "calcOpticalFlowFarneback", spy)
    monkeypatch.setattr(cv2, "DISOpticalFlow_create", no_dis)
    frames = _panning(3)
    we.warp_error(frames, frames)
    assert len(calls) == 4  # forward + backward for each of the 2 pairs
    assert we.FLOW_METHOD == "farneback"


def test_a_second_grader_dis_finds_the_same_motion(we) -> None:
    """method="dis" (the studies' second grader): DIS refined to full size, the same occlusion test."""
    frames = _panning(4)
    flows = we.consistency_flows(frames, method="dis")
    v = flows[1].valid
    assert np.median(flows[1].back[..., 0][v]) == pytest.approx(SHIFT, abs=0.3)
    assert v[:, -1].mean() < 0.5 and v[:, W // 2].mean() > 0.9
    assert we.warp_error(frames, frames, flows) < 1e-4
    assert we.warp_error(frames, flicker(frames), flows) > 3e-3


def test_ghosting(we) -> None:
    frames = _panning(4)
    assert we.ghosting(frames, frames) == 0.0
    brighter = [np.clip(f.astype(np.int16) + 51, 0, 255).astype(np.uint8) for f in frames]
    g = we.ghosting(brighter, frames)
    expected = float(
        np.mean([np.mean(((b.astype(np.float32) - f) / 255) ** 2) for b, f in zip(brighter, frames, strict=True)])
    )
    assert g == pytest.approx(expected, rel=1e-4)
    assert 0.02 < g <= 0.04  # (51/255)^2 = 0.04 where not clipped
    # moving-pixel ghosting: a static scene has no moving pixels
    static = [frames[0]] * 3
    assert np.isnan(we.ghosting_moving(static, static, static))
    with pytest.raises(ValueError):
        we.warp_error(frames[:1], frames[:1])


def test_moving_ghost_ratio_is_normalised_by_local_flicker(we) -> None:
    """Flicker that is strong only where things move must not read as trails when it is merely removed."""
    frames = _panning(8)
    rng = np.random.default_rng(9)
    raw, steady = [], []
    for f in frames:
        noise = rng.normal(0, 30, f.shape).astype(np.float32) * (np.arange(W) > W // 2)[None, :, None]
        raw.append(np.clip(f + noise, 0, 255).astype(np.uint8))  # flicker on the right half only
        steady.append(f)
    # "smoothed" = the ideal flicker-free output: the change from raw is exactly the flicker
    r = we.ghost_moving_ratio(frames, steady, raw)
    assert 0.3 < r < 0.7  # ~0.5 by construction (ghost = sigma^2, raw warp error = 2 sigma^2 where it flickers)
    assert we.raw_warp_error_moving(frames, raw) > 10 * we.raw_warp_error_moving(frames, steady)
    # a frozen output (the worst trail) is far above the ceiling
    frozen = [raw[0]] * len(raw)
    assert we.ghost_moving_ratio(frames, frozen, raw) > 1.0


def test_strip(we, tmp_path: Path) -> None:
    frames = _panning(6)
    strip = we.make_strip(
        {"input": frames, "raw": flicker(frames), "smoothed": frames}, start=2, count=3, tile_width=80
    )
    th = round(H * 80 / W)
    assert strip.dtype == np.uint8 and strip.ndim == 3
    assert strip.shape[0] == 3 * th + 2 * 2
    assert strip.shape[1] >= 3 * 80
    we.write_png(tmp_path / "s.png", strip)
    assert cv2.imread(str(tmp_path / "s.png")).shape == strip.shape


def test_cli(we, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = _panning(8)
    styl = flicker(frames)
    inp = _write(tmp_path / "in.avi", frames)
    raw = _write(tmp_path / "raw.avi", styl)
    steady = _write(tmp_path / "steady.avi", frames)
    rc = we.main(
        [str(inp), str(steady), "--raw", str(raw), "--json", "--max-frames", "6", "--strip", str(tmp_path / "x.png")]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["frames"] == 6 and res["flow"] == "farneback"
    assert res["warp_error"] < 1e-4 < res["raw_warp_error"]
    assert res["warp_ratio"] < 0.05
    assert res["ghosting"] > 0 and res["ghost_ratio"] > 0
    assert (tmp_path / "x.png").is_file()
    assert we.main([str(tmp_path / "missing.mp4"), str(steady)]) == 2
    assert "error" in capsys.readouterr().err


def test_smoothing_report_rows(report) -> None:
    frames = _panning(12)
    rng = np.random.default_rng(5)

    def stylize(f: np.ndarray) -> np.ndarray:  # a flickering fake model
        noise = cv2.resize(rng.normal(0, 18, (H // 8, W // 8, 3)).astype(np.float32), (W, H))
        return np.clip(f.astype(np.float32) + noise, 0, 255).astype(np.uint8)

    rows, outputs = report.report_clip(frames, stylize, ("flow", "ema", "off"))
    by = {r["mode"]: r for r in rows}
    assert set(by) == {"off (raw)", "flow", "ema", "off"}
    assert set(outputs) == {"raw", "flow", "ema", "off"}
    assert by["flow"]["warp_ratio"] < 0.5
    assert by["flow"]["ghost_ratio"] < report.GHOST_CEILING
    assert by["flow"]["pass"] is True
    assert by["off"]["warp_ratio"] == pytest.approx(1.0) and by["off"]["ghosting"] == 0.0
    assert by["off"]["pass"] is False  # no smoothing does not meet the target
    # EMA drags the panning texture along: its moving-pixel ghosting is far above flow's
    assert by["ema"]["ghost_moving_ratio"] > 2 * by["flow"]["ghost_moving_ratio"]


def test_smoothing_report_cli_with_synthetic_model(report, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = _write(tmp_path / "clip.avi", _panning(8))
    rc = report.main(
        ["synthetic:flicker", str(clip), "--max-frames", "6", "--json", "--strip-dir", str(tmp_path / "s")]
    )
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["mode"] for r in rows] == ["off (raw)", "flow", "ema"]
    assert all(r["clip"] == "clip" for r in rows)
    assert (tmp_path / "s" / "clip_strip.png").is_file()
