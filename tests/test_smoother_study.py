"""tools/studies/smoother_tuning.py: configurations parse, the oracle and the smoother both cut a synthetic flicker."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
from clips import flicker, panning

STUDIES = Path(__file__).resolve().parents[1] / "tools" / "studies"
H, W, SHIFT = 96, 160, 2


@pytest.fixture(scope="module")
def st():
    sys.path.insert(0, str(STUDIES))
    try:
        yield importlib.import_module("smoother_tuning")
    finally:
        sys.path.remove(str(STUDIES))


def _clip(n: int = 10) -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames = panning(n, H, W, SHIFT)
    return frames, flicker(frames)


def test_parse_config(st) -> None:
    assert st.parse_config("default:") == ("default", {})
    name, kw = st.parse_config("x:alpha=0.7,alpha_moving=None,preset=medium,forward_backward=false")
    assert name == "x" and kw == {"alpha": 0.7, "alpha_moving": None, "preset": "medium", "forward_backward": False}
    with pytest.raises(SystemExit):
        st.parse_config("x:alpha")


@pytest.mark.parametrize("name", ["oracle", "default"])
def test_smoothing_cuts_the_flicker_under_both_graders(st, name: str) -> None:
    frames, raw = _clip()
    flows = {g: st.consistency_flows(frames, method=g) for g in ("farneback", "dis")}
    out, reliable = st.smooth(name, {}, frames, raw, flows["farneback"])
    assert len(out) == len(raw) and np.array_equal(out[0], raw[0])
    for g in flows:
        row = st.flicker_figures(frames, raw, out, flows[g], st.warp_error(frames, raw, flows[g]), 1.0)
        assert row["warp_ratio"] < 0.5, (name, g, row)
    assert name == "oracle" or reliable > 0.8
