"""Shared test fixtures: tiny contract-v1 ONNX models built with onnx.helper, synthetic frames and clips.

Nothing here needs ../shared or a download.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from rtstyle.train.loop import TrainConfig


def make_contract_model(
    path: Path,
    styles: Sequence[str] = ("test",),
    tier: str = "full",
    arch: str = "test-conv",
    precision: str = "fp32",
    working_size: int = 256,
    meta_override: dict[str, str] | None = None,
) -> Path:
    """Write a small model that keeps contract v1: a 3x3 colour-mixing conv plus a per-style bias.

    Style ``i`` adds ``40 * (i + 1)`` to the red channel (so tests can tell styles and blends apart).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from rtstyle.contract import StyleEntry, build_metadata

    n = len(styles)
    rng = np.random.default_rng(0)
    w = np.zeros((3, 3, 3, 3), np.float32)
    for c in range(3):
        w[c, c] = 1.0 / 9.0  # box blur per channel
    w += rng.normal(0, 0.01, w.shape).astype(np.float32)
    bias_table = np.zeros((n, 3), np.float32)
    for i in range(n):
        bias_table[i, 2] = 40.0 * (i + 1)  # BGR: index 2 is red
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(bias_table, "bias_table"),
        numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "bshape"),
        numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(255.0, np.float32), "hi"),
    ]
    nodes = [
        helper.make_node("Cast", ["frame"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["f"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w"], ["conv"], pads=[1, 1, 1, 1]),
    ]
    inputs = [helper.make_tensor_value_info("frame", TensorProto.UINT8, [1, "H", "W", 3])]
    if n > 1:
        inputs.append(helper.make_tensor_value_info("style", TensorProto.FLOAT, [n]))
        nodes += [
            helper.make_node("Unsqueeze", ["style", "zero"], ["style2d"]),
            helper.make_node("MatMul", ["style2d", "bias_table"], ["b"]),
        ]
        inits.append(numpy_helper.from_array(np.array([0], np.int64), "zero"))
    else:
        nodes.append(helper.make_node("Identity", ["bias_table"], ["b"]))
    nodes += [
        helper.make_node("Reshape", ["b", "bshape"], ["b4"]),
        helper.make_node("Add", ["conv", "b4"], ["biased"]),
        helper.make_node("Clip", ["biased", "lo", "hi"], ["clipped"]),
        helper.make_node("Round", ["clipped"], ["rounded"]),
        helper.make_node("Transpose", ["rounded"], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Cast", ["nhwc"], ["stylized"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes,
        "test_contract",
        inputs,
        [helper.make_tensor_value_info("stylized", TensorProto.UINT8, [1, "H", "W", 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = build_metadata(
        [StyleEntry(s, s.replace("-", " ").title(), "CC0") for s in styles],
        arch=arch,
        tier=tier,
        recipe={"source": "tests/conftest.py", "steps": 0},
        precision=precision,
        working_size=working_size,
    )
    meta.update(meta_override or {})
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture()
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user model directory (RTSTYLE_MODELS) holding two test styles and a two-style file."""
    d = tmp_path / "user_models"
    make_contract_model(d / "alpha.onnx", styles=("alpha",))
    make_contract_model(d / "beta.onnx", styles=("beta",), tier="fast", arch="test-fast")
    make_contract_model(d / "duo.onnx", styles=("red", "blue"))
    monkeypatch.setenv("RTSTYLE_MODELS", str(d))
    return d


@pytest.fixture()
def test_model(tmp_path: Path) -> Path:
    return make_contract_model(tmp_path / "m" / "solo.onnx", styles=("solo",))


# The tiny training run of the tests, shared by its library form (tiny_train_config) and its command line
# (tiny_train_args): the tiny net on 32 px crops, batch 2, fp32 on the CPU, checkpoints only at the end.
_TINY_RUN: dict[str, Any] = dict(
    name="t",
    arch="tiny",
    batch=2,
    size=32,
    style_size=40,
    device="cpu",
    precision="fp32",
    checkpoint_every=0,
    preview_every=0,
)


def _tiny_dirs(tmp_path: Path) -> dict[str, Path]:
    return {"out_dir": tmp_path / "run", "export_dir": tmp_path / "models"}


def same_weights(a: Any, b: Any, atol: float = 1e-6) -> bool:
    """Two parameter tensors equal within ``atol``, convolution kernels (rank 4) within the float16 rounding the
    exporter stores them at (``rtstyle.export.store_kernels_half``)."""
    import torch

    if a.dim() == 4:
        return torch.allclose(a, b, rtol=1e-3, atol=max(atol, 1e-5))
    return torch.allclose(a, b, atol=atol)


def perturbed_net(arch: str, num_styles: int = 1, seed: int = 0, scale: float = 0.1) -> Any:
    """``build_net(arch, num_styles)`` with every parameter moved by N(0, ``scale``) from its initial value (seeded):
    a net whose channels and norms differ from each other, as a trained one's do."""
    import torch

    from rtstyle.nets import build_net

    torch.manual_seed(seed)
    net = build_net(arch, num_styles)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * scale)
    return net


def tiny_train_config(
    tmp_path: Path, data: str | Path | Sequence[str | Path], styles: Sequence[str | Path], **kw: Any
) -> TrainConfig:
    """A training run small enough for a test: the tiny net on 32 px crops, batch 2, three steps, the random
    test-only VGG, fp32 on the CPU, nothing exported, checkpoints only at the end; ``data``: a photo folder or a
    list of them; ``kw`` overrides any field."""
    from rtstyle.train.loop import TrainConfig
    from rtstyle.train.losses import RANDOM_FOR_TESTS

    base: dict[str, Any] = dict(
        _TINY_RUN,
        style_images=[str(p) for p in styles],
        data=[str(data)] if isinstance(data, (str, Path)) else [str(d) for d in data],
        steps=3,
        vgg_weights=RANDOM_FOR_TESTS,
        progress=False,
        export=False,
        **{k: str(v) for k, v in _tiny_dirs(tmp_path).items()},
    )
    base.update(kw)
    return TrainConfig(**base)


def tiny_train_args(tmp_path: Path, data: str | Path, style: str | Path, **options: Any) -> list[str]:
    """The ``rtstyle train`` arguments of :func:`tiny_train_config`'s run (steps left to the caller); ``options``
    override or add ``--option value`` pairs (underscores become dashes; ``None`` drops an option, ``True`` gives a
    bare flag)."""
    from rtstyle.train.losses import RANDOM_FOR_TESTS

    base: dict[str, Any] = dict(
        style_image=style, data=data, **_TINY_RUN, vgg_weights=RANDOM_FOR_TESTS, **_tiny_dirs(tmp_path)
    )
    base.update(options)
    args = ["train"]
    for key, value in base.items():
        if value is None or value is False:
            continue
        args.append("--" + key.replace("_", "-"))
        if value is not True:
            args.append(str(value))
    return args


def synthetic_frame(h: int = 72, w: int = 128, t: int = 0) -> np.ndarray:
    """A deterministic BGR frame: gradient background with a square moving right by 2 px per ``t``."""
    y, x = np.mgrid[0:h, 0:w]
    frame = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), np.full_like(x, 96)], -1)
    frame = frame.astype(np.uint8)
    s = max(4, min(h, w) // 4)
    x0 = (5 + 2 * t) % max(w - s, 1)
    frame[h // 3 : h // 3 + s, x0 : x0 + s] = (30, 200, 240)
    return frame


@pytest.fixture()
def frame() -> np.ndarray:
    return synthetic_frame()
