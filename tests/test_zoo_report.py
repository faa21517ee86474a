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


def test_grid_pattern_measures_a_tile_printed_on_every_8_px():
    """A smooth picture scores ~0; the same picture with a fixed 8x8 tile added scores the tile's amplitude, and a
    tile that is not locked to the 8-px grid (a random texture) averages out."""
    from rtstyle.evaluate import grid_pattern

    y, x = np.mgrid[0:384, 0:512]
    smooth = np.stack([x * 255 // 511, y * 255 // 383, np.full_like(x, 90)], -1).astype(np.float32)
    tile = np.random.default_rng(0).normal(0, 6, (8, 8)).astype(np.float32)
    tile -= tile.mean()
    printed = smooth + np.tile(tile, (48, 64))[..., None]
    noise = smooth + np.random.default_rng(1).normal(0, 6, smooth.shape[:2])[..., None].astype(np.float32)
    assert grid_pattern(smooth.astype(np.uint8)) < 0.2
    assert grid_pattern(printed) == pytest.approx(float(tile.std()), rel=0.02)
    assert grid_pattern(noise) < 0.2 * float(tile.std())
    with pytest.raises(ValueError):
        grid_pattern(np.zeros((4, 4, 3), np.uint8))


def test_table_replaces_only_its_block(tmp_path):
    zr = _tool()
    readme = tmp_path / "README.md"
    readme.write_text("# Styles\n\nintro\n")
    zr.write_table(readme, "| a |")
    zr.write_table(readme, "| b |")
    text = readme.read_text()
    assert text.startswith("# Styles\n\nintro\n") and "| b |" in text and "| a |" not in text
    assert text.count(zr.MARK_START) == 1


def _tiny_assets(zr, tmp_path: Path) -> Path:
    """Random style images for the zoo's nine files, three held-out scene photos, two held-out faces and one
    photo that is not held out."""
    assets = tmp_path / "assets"
    rng = np.random.default_rng(0)
    for file in zr._zoo_styles().values():
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
    return assets


def _tiny_zoo(path: Path, names: list[str], tier: str = "full", seed: int = 0) -> Path:
    from conftest import perturbed_net

    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx

    net = perturbed_net("tiny", len(names), seed=seed)
    return export_onnx(net, path, [StyleEntry(n, n) for n in names], "tiny", tier, {}, 32)


def test_report_on_a_tiny_zoo_writes_sheets_table_and_json(tmp_path):
    zr = _tool()
    assets = _tiny_assets(zr, tmp_path)
    names = ["mosaic", "udnie"]
    model = _tiny_zoo(tmp_path / "zoo.onnx", names)
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


def test_a_fast_tier_is_measured_against_its_full_tier(tmp_path):
    """``--against``: each bar is 1.10x the full tier's distances on the same photos; side-by-side sheets (photo,
    full, fast) in docs/styles/fast/, the fast table in its own block, the zoo's table and picture untouched."""
    zr = _tool()
    assets = _tiny_assets(zr, tmp_path)
    full = _tiny_zoo(tmp_path / "full.onnx", ["mosaic", "udnie"])
    fast = _tiny_zoo(tmp_path / "fast.onnx", ["mosaic", "udnie"], tier="fast", seed=1)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "README.md").write_text(f"# Styles\n\n{zr.MARK_START}\nzoo table\n{zr.MARK_END}\n")
    common = ["--assets", str(assets), "--vgg-weights", "random-for-tests", "--styles", "mosaic"]
    out = tmp_path / "rows.json"
    rc = zr.main([str(fast), *common, "--against", str(full), "--write-docs", "--docs", str(docs), "--json", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["name"] for r in rows] == ["mosaic"]
    zr.main([str(full), *common, "--no-faces", "--json", str(tmp_path / "full.json")])
    full_rows = {r["name"]: r for r in json.loads((tmp_path / "full.json").read_text())["rows"]}
    for r in rows:
        assert r["full_style"] == full_rows[r["name"]]["style"] and r["full_content"] == full_rows[r["name"]]["content"]
        assert r["bar_style"] == pytest.approx(1.10 * r["full_style"], abs=2e-4)
        assert r["bar_content"] == pytest.approx(1.10 * r["full_content"], abs=2e-4)
        assert r["style_ok"] == (r["style"] <= r["bar_style"]) and "full tier" in r["bar_source"]
        assert r["full_faces_style"] > 0 and r["grid"] >= 0 and r["full_grid"] >= 0
        assert r["seams"] > 0 and r["full_seams"] > 0
    sheet = cv2.imread(str(docs / "fast" / "mosaic.jpg"))
    assert sheet.shape[0] == 3 * 256  # photo, full tier, fast tier
    text = (docs / "README.md").read_text()
    assert "zoo table" in text and zr.FAST_MARKS[0] in text and "(fast/mosaic.jpg)" in text
    assert "8-px pattern: this / full" in text and "4-px block edges: this / full" in text
    assert not (docs / "zoo.jpg").exists() and (docs / "eval-fast.json").is_file()
    only_fast = _tiny_zoo(tmp_path / "other.onnx", ["mosaic", "candy"], tier="fast")
    assert zr.main([str(only_fast), *common[:-1], "candy", "--against", str(full)]) == 2  # the full tier lacks it

    # a later look reads the full tier's figures from that record instead of evaluating it again
    again = tmp_path / "again.json"
    assert zr.main([str(fast), *common, "--against-json", str(out), "--json", str(again)]) == 0
    (row,) = json.loads(again.read_text())["rows"]
    keys = ("full_style", "full_content", "full_grid", "full_seams", "style", "bar_style", "grid", "seams")
    assert {k: row[k] for k in keys} == {k: rows[0][k] for k in keys}
    assert zr.main([str(fast), *common[:-1], "udnie", "--against-json", str(out)]) == 2  # not in the record
    assert zr.main([str(fast), *common, "--limit", "2", "--against-json", str(out)]) == 2  # other photos
    assert zr.main([str(fast), *common, "--against-json", str(out), "--against", str(full)]) == 2


def test_a_zoo_of_one_file_per_style_is_measured_style_by_style(tmp_path):
    """Several files make one zoo (the fast tier ships one file per style): each style in the file that holds it,
    the same figures as that file alone; a style in two files is refused."""
    zr = _tool()
    assets = _tiny_assets(zr, tmp_path)
    full = _tiny_zoo(tmp_path / "full.onnx", ["mosaic", "udnie"])
    mosaic = _tiny_zoo(tmp_path / "mosaic-fast.onnx", ["mosaic"], tier="fast", seed=1)
    udnie = _tiny_zoo(tmp_path / "udnie-fast.onnx", ["udnie"], tier="fast", seed=2)
    common = ["--assets", str(assets), "--vgg-weights", "random-for-tests", "--no-faces"]
    docs, out = tmp_path / "docs", tmp_path / "rows.json"
    rc = zr.main([str(mosaic), str(udnie), *common, "--against", str(full), "--write-docs", "--docs", str(docs),
                  "--json", str(out)])  # fmt: skip
    assert rc == 0
    rows = {r["name"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"mosaic", "udnie"}
    for name, model in (("mosaic", mosaic), ("udnie", udnie)):
        alone = tmp_path / f"{name}.json"
        assert zr.main([str(model), *common, "--json", str(alone)]) == 0
        (row,) = json.loads(alone.read_text())["rows"]
        assert (row["style"], row["content"]) == (rows[name]["style"], rows[name]["content"])
        assert (docs / "fast" / f"{name}.jpg").is_file()
    assert "mosaic-fast.onnx, udnie-fast.onnx` against `full.onnx" in (docs / "README.md").read_text()
    assert zr.main([str(mosaic), str(full), *common]) == 2  # mosaic twice
    assert zr.main([str(mosaic), str(udnie), *common, "--write-docs", "--docs", str(docs)]) == 2  # no zoo picture
