from __future__ import annotations

import json

import onnx
import pytest
from conftest import make_contract_model

from rtstyle.contract import (
    KEY_STYLES,
    StyleEntry,
    TensorSpec,
    build_metadata,
    parse_metadata,
    style_weights,
    validate,
)
from rtstyle.errors import ContractError


def _specs(path):
    m = onnx.load(str(path))
    conv = {1: "float32", 2: "uint8", 10: "float16"}

    def spec(v):
        dims = tuple(d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim)
        return TensorSpec(v.name, conv[v.type.tensor_type.elem_type], dims)

    return (
        [spec(v) for v in m.graph.input],
        [spec(v) for v in m.graph.output],
        {p.key: p.value for p in m.metadata_props},
    )


def test_valid_single_and_multi(tmp_path):
    info = validate(*_specs(make_contract_model(tmp_path / "a.onnx")))
    assert info.style_names == ["test"] and not info.has_style_input
    info = validate(*_specs(make_contract_model(tmp_path / "b.onnx", styles=("x", "y"))))
    assert info.num_styles == 2 and info.has_style_input


def test_metadata_errors():
    good = build_metadata([StyleEntry("a", "A")], "johnson", "full", {"steps": 1}, "fp32", 256)
    with pytest.raises(ContractError, match="lacks"):
        parse_metadata({})
    with pytest.raises(ContractError, match="version"):
        parse_metadata({**good, "rtstyle.contract": "9"})
    with pytest.raises(ContractError, match="tier"):
        parse_metadata({**good, "rtstyle.tier": "medium"})
    with pytest.raises(ContractError, match="repeats"):
        parse_metadata({**good, KEY_STYLES: json.dumps([{"name": "a"}, {"name": "a"}])})


def test_signature_errors(tmp_path):
    ins, outs, meta = _specs(make_contract_model(tmp_path / "a.onnx"))
    with pytest.raises(ContractError, match="uint8"):
        validate([TensorSpec("frame", "float32", (1, "H", "W", 3))], outs, meta)
    with pytest.raises(ContractError, match="any height"):
        validate([TensorSpec("frame", "uint8", (1, 224, 224, 3))], outs, meta)
    with pytest.raises(ContractError, match="exactly one output"):
        validate(ins, [TensorSpec("out", "uint8", (1, "H", "W", 3))], meta)
    two = build_metadata([StyleEntry("a", "A"), StyleEntry("b", "B")], "j", "full", {}, "fp32", 256)
    with pytest.raises(ContractError, match="no 'style' input"):
        validate(ins, outs, two)


def test_style_weights():
    info = parse_metadata(build_metadata([StyleEntry("a", "A"), StyleEntry("b", "B")], "j", "full", {}, "fp32", 1))
    assert style_weights(info, "b") == [0.0, 1.0]
    assert style_weights(info, {"a": 1, "b": 3}) == [0.25, 0.75]
    with pytest.raises(ContractError, match="holds: a, b"):
        style_weights(info, "c")
