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
