"""tools/studies/quant_study.py: int8 files that really are quantized, still run the contract, and calibrate off the holdout."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_contract_model, synthetic_frame

pytest.importorskip("onnxruntime.quantization")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def qs():
    spec = importlib.util.spec_from_file_location("quant_study", ROOT / "tools" / "studies" / "quant_study.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def photos(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(4):
        cv2.imwrite(str(d / f"p{i}.png"), synthetic_frame(60, 80, 3 * i))
    cv2.imwrite(str(d / "held.png"), np.full((60, 80, 3), 255, np.uint8))  # only the held-out photo is white
    holdout = tmp_path / "holdout.txt"
    holdout.write_text("held.png\n")
    return d, holdout


def test_calibration_skips_the_holdout(qs, tmp_path: Path) -> None:
    d, holdout = photos(tmp_path)
    frames = qs.calibration_frames(d, holdout, 10, (32, 24))
    assert len(frames) == 4 and all(f.shape == (24, 32, 3) and f.dtype == np.uint8 for f in frames)
    assert not any((f == 255).all() for f in frames)
    assert len(qs.calibration_frames(d, None, 10, (32, 24))) == 5


def test_quantized_files_are_int8_and_keep_the_contract(qs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import onnx

    from rtstyle.runtime.session import StyleSession

    d, holdout = photos(tmp_path)
    model = make_contract_model(tmp_path / "m.onnx", styles=("solo",))
    keep = tmp_path / "q"
    rc = qs.main(
        [
            str(model),
            "--photos",
            str(d),
            "--holdout",
            str(holdout),
            "--sizes",
            "80x60",
            "--runs",
            "2",
            "--keep",
            str(keep),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    for row in ("float", "int8 qdq", "int8 qoperator", "profile 80x60 float"):
        assert row in out
    ops = {
        fmt: {n.op_type for n in onnx.load(str(keep / f"m-int8-{fmt}.onnx")).graph.node} for fmt in ("qdq", "qoperator")
    }
    assert "QLinearConv" in ops["qoperator"] and "Conv" not in ops["qoperator"]
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops["qdq"]
    frame = synthetic_frame(60, 80, 1)
    ref = StyleSession(model).run(frame).astype(int)
    for fmt in ("qdq", "qoperator"):
        q = StyleSession(keep / f"m-int8-{fmt}.onnx").run(frame).astype(int)  # metadata copied: the contract holds
        assert q.shape == ref.shape and np.abs(q - ref).mean() < 3.0


def test_bad_input_is_one_line(qs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert qs.main([str(tmp_path / "nope.onnx"), "--photos", str(tmp_path)]) == 2
    assert "model not found" in capsys.readouterr().err
    model = make_contract_model(tmp_path / "m.onnx", styles=("solo",))
    assert qs.main([str(model), "--photos", str(tmp_path), "--sizes", "wide"]) == 2
    assert "is not WIDTHxHEIGHT" in capsys.readouterr().err
    assert qs.main([str(model), "--photos", str(tmp_path / "none")]) == 2
    assert "not found" in capsys.readouterr().err
