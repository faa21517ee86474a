"""tools/zoo_report.py: bars, the docs table, and a whole report on a tiny generated zoo."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    spec = importlib.util.spec_from_file_location("zoo_report", ROOT / "tools" / "zoo_report.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_bars_follow_the_issue():
    zr = _tool()
    assert zr.bar_for("mosaic").style == pytest.approx(0.2277) and zr.bar_for("mosaic").content == pytest.approx(3.256)
    assert zr.bar_for("udnie").style == pytest.approx(0.1397)
    assert (zr.bar_for("kandinsky").style, zr.bar_for("kandinsky").content) == (0.25, 1.3)


def test_table_replaces_only_its_block(tmp_path):
    zr = _tool()
    readme = tmp_path / "README.md"
    readme.write_text("# Styles\n\nintro\n")
    zr.write_table(readme, "| a |")
    zr.write_table(readme, "| b |")
    text = readme.read_text()
    assert text.startswith("# Styles\n\nintro\n") and "| b |" in text and "| a |" not in text
    assert text.count(zr.MARK_START) == 1


def test_report_on_a_tiny_zoo_writes_sheets_table_and_json(tmp_path):
    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx
    from rtstyle.nets import build_net

    zr = _tool()
    assets = tmp_path / "assets"
    rng = np.random.default_rng(0)
    zoo = zr._zoo_styles()
    for file in zoo.values():
        (assets / "styles").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(assets / "styles" / file), rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
    held = [ln.split("#")[0].strip() for ln in zr.HOLDOUT.read_text().splitlines()]
    held = [h for h in held if h]
    scene = [h for h in held if "/" not in h][:3]
    faces = [h for h in held if "/" in h][:2]
    for rel in scene:
        (assets / "photos").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(assets / "photos" / rel), rng.integers(0, 255, (36, 44, 3), dtype=np.uint8))
    for rel in faces:
        (assets / "photos_more" / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(assets / "photos_more" / rel), rng.integers(0, 255, (36, 36, 3), dtype=np.uint8))
    cv2.imwrite(str(assets / "photos" / "not_held_out.jpg"), rng.integers(0, 255, (36, 44, 3), dtype=np.uint8))
    names = ["mosaic", "udnie"]
    model = export_onnx(
        build_net("tiny", 2), tmp_path / "zoo.onnx", [StyleEntry(n, n) for n in names], "tiny", "full", {}, 32
    )
    docs = tmp_path / "docs"
    out = tmp_path / "rows.json"
    rc = zr.main(
        [
            str(model),
            "--assets",
            str(assets),
            "--vgg-weights",
            "random-for-tests",
            "--write-docs",
            "--docs",
            str(docs),
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["name"] for r in rows] == names
    assert all(r["photos"] == 3 and r["faces_photos"] == 2 for r in rows)
    assert (docs / "mosaic.jpg").is_file() and (docs / "zoo.jpg").is_file()
    table = (docs / "README.md").read_text()
    assert "| mosaic |" in table and "Bars met:" in table
    assert zr.main([str(model), "--assets", str(assets), "--vgg-weights", "random-for-tests", "--styles", "candy"]) == 2
