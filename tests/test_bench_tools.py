"""tools/loop_clip.py and tools/preset_table.py: the clip the end-to-end benchmarks run on, and the PSNR they report."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from clips import make_clip

from rtstyle.io.probe import probe

TOOLS = Path(__file__).resolve().parents[1] / "tools"


@pytest.fixture(scope="module")
def tools():
    sys.path.insert(0, str(TOOLS))
    try:
        yield importlib.import_module("loop_clip"), importlib.import_module("preset_table")
    finally:
        sys.path.remove(str(TOOLS))


def test_loop_clip_repeats_every_stream_in_order(tools, tmp_path):
    loop_clip, _ = tools
    src = make_clip(tmp_path / "in.mp4", frames=10, audio="aac", rotate=90)
    out = loop_clip.loop_clip(src, 25, tmp_path / "looped.mp4")
    m, m0 = probe(out), probe(src)
    assert m.frame_count == 30 and m.rotation == m0.rotation and m.has_audio
    assert m.duration == pytest.approx(3 * m0.duration, rel=0.1)
    with av.open(str(out)) as c:
        pts = [f.pts for f in c.decode(video=0)]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    first = [f.to_ndarray(format="bgr24") for f in av.open(str(src)).decode(video=0)]
    again = [f.to_ndarray(format="bgr24") for f in av.open(str(out)).decode(video=0)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again[10:20], strict=True))  # copied, not re-encoded


def test_psnr(tools):
    _, pt = tools
    a = [np.full((4, 4, 3), 100, np.uint8)]
    assert pt.psnr(a, [np.full((4, 4, 3), 110, np.uint8)]) == pytest.approx(20 * np.log10(255 / 10))
    assert pt.psnr(a, a) == float("inf")
    with pytest.raises(SystemExit):
        pt.psnr(a, a + a)


def test_live_budget_times_each_part_of_a_live_frame(tmp_path, test_model, capsys):
    """tools/studies/live_budget.py: decoding, the smoother's two halves and the network, each a positive time,
    their sum the total; a clip too short to measure is one line."""
    sys.path.insert(0, str(TOOLS / "studies"))
    try:
        live_budget = importlib.import_module("live_budget")
    finally:
        sys.path.remove(str(TOOLS / "studies"))
    clip = make_clip(tmp_path / "in.mp4", frames=12)
    row = live_budget.budget(clip, test_model, frames=12)
    parts = [row[k] for k in ("decode_cpu_ms", "prepare_ms", "blend_ms", "network_ms")]
    assert row["size"] == "96x64" and row["frames"] == 12 and all(p >= 0 for p in parts)
    assert row["network_ms"] > 0 and row["total_ms"] == pytest.approx(sum(parts), abs=0.05)
    assert live_budget.main([str(clip), str(test_model), "--frames", "12"]) == 0
    assert "ms of CPU" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="need more than"):
        live_budget.budget(make_clip(tmp_path / "short.mp4", frames=3), test_model)
