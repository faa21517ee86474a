from __future__ import annotations

import os

import onnxruntime as ort
import pytest
from conftest import make_contract_model

from rtstyle import catalog
from rtstyle.errors import StyleNotFound
from rtstyle.runtime.session import describe_session


@pytest.fixture()
def shipped(tmp_path, monkeypatch):
    d = tmp_path / "shipped"
    make_contract_model(d / "mosaic.onnx", styles=("mosaic",), tier="full")
    make_contract_model(d / "mosaic_fast.onnx", styles=("mosaic",), tier="fast", arch="test-fast")
    make_contract_model(d / "alpha.onnx", styles=("alpha",))
    make_contract_model(d / "mosaic_fast.fp16.onnx", styles=("mosaic",), tier="fast", precision="fp16")
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: d)
    catalog._NOTICED.clear()
    return d


def test_lists_user_and_multi_style(models_dir, monkeypatch):
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: None)
    styles = catalog.list_styles()
    names = [(s.name, s.tier) for s in styles]
    assert ("alpha", "full") in names and ("beta", "fast") in names
    red = next(s for s in styles if s.name == "red")
    blue = next(s for s in styles if s.name == "blue")
    assert red.file == blue.file and (red.index, blue.index) == (0, 1) and red.num_styles == 2
    assert all(s.source == "user" for s in styles)
    assert catalog.user_models_dir() == models_dir


def test_fp16_sibling_not_a_style(shipped, monkeypatch, tmp_path):
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "none"))
    styles = catalog.list_styles()
    assert not any(s.file.name.endswith(".fp16.onnx") for s in styles)
    fast = catalog.resolve("mosaic", tier="fast")
    assert fast.fp16_file is not None and fast.fp16_file.name == "mosaic_fast.fp16.onnx"


def test_both_tiers_and_default_tier(shipped, monkeypatch, tmp_path):
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "none"))
    assert catalog.resolve("mosaic", device="cpu").tier == "fast"
    assert catalog.resolve("mosaic", device="cuda").tier == "full"
    assert catalog.resolve("mosaic", tier="full").file.name == "mosaic.onnx"
    # alpha exists only in full: the default falls back to it on CPU
    assert catalog.resolve("alpha", device="cpu").tier == "full"
    with pytest.raises(StyleNotFound, match="no fast tier"):
        catalog.resolve("alpha", tier="fast")
    assert catalog.default_style().name == "mosaic"
    # the public rule behind the default (the demo uses it too)
    assert [catalog.preferred_tier(d) for d in ("cpu", "cuda", "coreml")] == ["fast", "full", "full"]


def test_user_overrides_shipped_with_notice(shipped, models_dir, capsys):
    make_contract_model(models_dir / "my_mosaic.onnx", styles=("mosaic",), tier="full")
    st = catalog.resolve("mosaic", tier="full")
    assert st.source == "user" and st.file.parent == models_dir
    err = capsys.readouterr().err
    assert "overrides" in err and "mosaic" in err
    # the shipped fast tier is still there
    assert catalog.resolve("mosaic", tier="fast").source == "shipped"


def test_unknown_style_lists_nearest(shipped, models_dir):
    with pytest.raises(StyleNotFound) as ei:
        catalog.resolve("mosiac")
    msg = str(ei.value)
    assert "did you mean" in msg and "mosaic" in msg and "\n" not in msg


def test_no_styles(monkeypatch, tmp_path):
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: None)
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "empty"))
    with pytest.raises(StyleNotFound, match="no styles"):
        catalog.default_style()


def test_broken_user_file_skipped_with_notice(models_dir, monkeypatch, capsys):
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: None)
    catalog._NOTICED.clear()
    (models_dir / "broken.onnx").write_bytes(b"\x08\x01garbage")
    names = [s.name for s in catalog.list_styles()]
    assert "alpha" in names
    assert "skipping" in capsys.readouterr().err


def test_xdg_default(monkeypatch, tmp_path):
    monkeypatch.delenv("RTSTYLE_MODELS", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert catalog.user_models_dir() == tmp_path / "xdg" / "rtstyle" / "models"


def test_shipped_dir_found():
    d = catalog.shipped_models_dir()
    assert d is not None and (d / "__init__.py").exists()


def test_fast_metadata_reader_matches_onnxruntime(tmp_path):
    for styles in (("one",), ("a", "b", "c")):
        p = make_contract_model(tmp_path / f"{len(styles)}.onnx", styles=styles, tier="fast", precision="fp16")
        fast = catalog._read_info_fast(p.read_bytes())
        sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        assert fast == describe_session(sess)[3]
    with pytest.raises(ValueError):
        catalog._read_info_fast(p.read_bytes()[:-7])


def test_read_model_info_cache_follows_mtime(tmp_path):
    p = make_contract_model(tmp_path / "m.onnx", styles=("first",))
    assert catalog.read_model_info(p).style_names == ["first"]
    st = p.stat()
    make_contract_model(p, styles=("second",))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert catalog.read_model_info(p).style_names == ["second"]


def test_the_repositorys_models_keep_the_contract(monkeypatch):
    """What models/ ships: every file runs a frame through the contract (uint8 BGR in and out, any size) and has
    its card; the catalogue holds each style once per tier, the default style in both; models/base/ (the base of
    `rtstyle styles add`) is not listed."""
    from pathlib import Path

    import numpy as np

    from rtstyle.runtime.stylizer import Stylizer

    root = Path(__file__).resolve().parent.parent / "models"
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: root)
    monkeypatch.setenv("RTSTYLE_MODELS", str(Path(__file__).parent / "no-such-folder"))
    files = sorted(root.glob("*.onnx")) + sorted((root / "base").glob("*.onnx"))
    assert files
    frame = np.random.default_rng(0).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    for f in files:
        assert f.with_suffix(".md").is_file(), f"{f.name} has no card"
        info = catalog.read_model_info(f)
        stylizer = Stylizer(f, device="cpu", warm_up=False)
        for s in info.styles:
            stylizer.set_style(s.name)
            out = stylizer(frame)
            assert out.shape == frame.shape and out.dtype == np.uint8, f.name
    listed = [(s.name, s.tier) for s in catalog.list_styles()]
    assert len(listed) == len(set(listed))
    assert {(catalog.DEFAULT_STYLE, "full"), (catalog.DEFAULT_STYLE, "fast")} <= set(listed)
    assert all(s.file.parent == root for s in catalog.list_styles())
