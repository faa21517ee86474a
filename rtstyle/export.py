"""Export a trained network to an ONNX file that keeps model contract v1, and check it against PyTorch.

Exporter: ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript), opset 18. It traces the padding
arithmetic symbolically, so one graph takes any frame size (1x1 included); the legacy TorchScript exporter
is deprecated and bakes traced sizes into the pad amounts.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from rtstyle import contract
from rtstyle.contract import StyleEntry
from rtstyle.errors import ContractError, InputError
from rtstyle.files import publish_mode
from rtstyle.nets import build_net, get_arch
from rtstyle.nets.fast import add_margin
from rtstyle.nets.layers import fold_frame_format

OPSET = 18
PARITY_SIZES = ((64, 64), (67, 45), (101, 157), (1, 1), (3, 5), (17, 31))


class ContractModule(nn.Module):
    """Wraps a network so its signature is contract v1: uint8 BGR ``[1, H, W, 3]`` in and out.

    Adds the net's margin of mirrored edges where it has one (its ``export_margin``: top and left, bottom and
    right; :func:`rtstyle.nets.fast.add_margin`),
    replicate-pads to a multiple of the net's ``pad_multiple`` (and at least its ``min_size``, so tiny frames
    work), runs the net, crops back, clamps, rounds and returns uint8 BGR. Where the net names the
    convolutions that touch the image (``io_layers()``), a copy of it gets the BGR order and the 0..255 scale
    folded into their weights (:func:`rtstyle.nets.layers.fold_frame_format`), so the graph does no colour
    flip, division or multiplication per pixel, and the last bias carries +0.5 so that the cast to uint8
    (truncation) rounds without a ``Round`` pass (half up where ``round`` goes to even: the two differ only on
    exact halves); otherwise the frame is converted to RGB in [0, 1] around it. The net passed in is never
    modified.

    Where the net ends in a pointwise convolution and a depth-to-space (``IOLayers.features``: the fast tier's
    ``out`` ``"sep"`` designs) and ``nhwc_head`` is on, the wrapper does that last step itself, in the output's
    layout: the features go to channels-last, one matrix product gives each pixel its r x r block of BGR values
    (columns ordered row, column, colour), and after the cast to uint8 a transpose of whole r x 3 rows puts the
    blocks in place, so no depth-to-space and no NCHW -> NHWC transpose run at full resolution in float (the
    same values; ``head_weight``/``head_bias`` in the graph, read back by :func:`import_onnx`).
    """

    def __init__(self, net: nn.Module, half: bool = False, nhwc_head: bool = True) -> None:
        super().__init__()
        self.multiple = int(getattr(net, "pad_multiple", 4))
        self.min_size = int(getattr(net, "min_size", 16))
        self.num_styles = int(getattr(net, "num_styles", 1))
        self.half = half
        io = net.io_layers() if hasattr(net, "io_layers") else None
        self.folded = io is not None
        if io is not None:
            net = copy.deepcopy(net)
            io = net.io_layers()
            fold_frame_format(io.first, io.last, io.shuffle, offset=0.5 if io.last.bias is not None else 0.0)
        self.rounded = io is not None and io.last.bias is not None  # the +0.5 is in the weights
        self.net = net
        self.features = None
        # the net's margin (top and left, bottom and right), added and cropped here (not by the net)
        margin = int(getattr(net, "margin", 0))
        self.lead, self.trail = (int(v) for v in getattr(net, "export_margin", (margin, margin)))
        if nhwc_head and io is not None and io.features is not None and self.rounded and io.shuffle > 1:
            if tuple(io.last.kernel_size) != (1, 1):
                raise ValueError("IOLayers.features needs a pointwise last convolution")
            self.features, self.shuffle = io.features, io.shuffle
            w, b = _head_from_conv(io.last.weight.detach().float(), io.last.bias.detach().float(), io.shuffle)
            self.register_buffer("head_weight", w)
            self.register_buffer("head_bias", b)

    def forward(self, frame: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        h, w = frame.shape[1], frame.shape[2]
        m, g = self.multiple, self.lead
        framed = bool(g or self.trail)
        x = frame.permute(0, 3, 1, 2).float()
        if not self.folded:
            x = x.flip(1) / 255.0
        if framed:
            x = add_margin(x, g, self.trail)
        xh, xw = x.shape[2], x.shape[3]
        th = torch.sym_max(((xh + m - 1) // m) * m, self.min_size)
        tw = torch.sym_max(((xw + m - 1) // m) * m, self.min_size)
        x = F.pad(x, (0, tw - xw, 0, th - xh), mode="replicate")
        if style is None:
            weights = torch.ones(1, self.num_styles) / self.num_styles
        else:
            weights = style.reshape(1, -1)
        if self.half:
            x, weights = x.half(), weights.half()
        if self.features is not None:
            f = self.features(x, weights).float().permute(0, 2, 3, 1)  # [1, h', w', C]
            r, fh, fw = self.shuffle, f.shape[1], f.shape[2]
            z = (f @ self.head_weight + self.head_bias).clamp(0.0, 255.0).to(torch.uint8)
            z = z.reshape(fh, fw, r, 3 * r).permute(0, 2, 1, 3).reshape(1, fh * r, fw * r, 3)
            return z[:, g : g + h, g : g + w]
        y = (self.net(x, weights, framed=True) if framed else self.net(x, weights))[:, :, g : g + h, g : g + w].float()
        if not self.folded:
            y = y.flip(1) * 255.0
        y = y.clamp(0.0, 255.0)
        return (y if self.rounded else y.round()).to(torch.uint8).permute(0, 2, 3, 1)


def _head_order(shuffle: int) -> torch.Tensor:
    """For each column of the NHWC head (row dy, column dx, colour c), the depth-to-space channel it is."""
    r = shuffle
    return torch.tensor([c * r * r + dy * r + dx for dy in range(r) for dx in range(r) for c in range(3)])


def _head_from_conv(weight: torch.Tensor, bias: torch.Tensor, shuffle: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A pointwise conv ``[3r^2, C, 1, 1]`` before a depth-to-space by r as the NHWC head's ``[C, 3r^2]`` matrix."""
    order = _head_order(shuffle)
    return weight[:, :, 0, 0][order].t().contiguous(), bias[order].contiguous()


def _conv_from_head(weight: np.ndarray, bias: np.ndarray, shuffle: int) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`_head_from_conv`."""
    inverse = torch.argsort(_head_order(shuffle)).numpy()
    return weight.T[inverse][:, :, None, None], bias[inverse]


def _rename_output_dims(model: Any) -> None:
    """The exporter names output dims by their symbolic formula; the contract reads H and W."""
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[1].dim_param, dims[2].dim_param = "H", "W"


def export_onnx(
    net: nn.Module,
    path: str | Path,
    styles: Sequence[StyleEntry],
    arch: str,
    tier: str,
    recipe: Mapping[str, Any],
    working_size: int,
    fp16: bool = False,
    check: bool = True,
    half_kernels: bool = True,
) -> Path:
    """Write ``net`` as a contract-v1 ONNX file (atomically) and, with ``check``, verify parity with PyTorch.

    With ``half_kernels`` (the default) an fp32 file stores its convolution kernels in float16, each behind a
    ``Cast`` to float that onnxruntime folds when it loads the file: the file is half the size, the arithmetic
    stays fp32, and the output is within the parity tolerance of the fp32 weights (:func:`store_kernels_half`).
    """
    path = Path(path)
    net = net.eval().cpu()
    num_styles = len(styles)
    if num_styles != int(getattr(net, "num_styles", 1)):
        raise ContractError(f"network holds {getattr(net, 'num_styles', 1)} styles but {num_styles} were named")
    module = ContractModule(net.half() if fp16 else net.float(), half=fp16).eval()
    example = (torch.randint(0, 256, (1, 64, 80, 3), dtype=torch.uint8),)
    dims = {1: torch.export.Dim("H", min=1, max=16384), 2: torch.export.Dim("W", min=1, max=16384)}
    dynamic: dict[str, Any] = {"frame": dims}
    input_names = [contract.INPUT_FRAME]
    if num_styles > 1:
        example = (*example, torch.full((num_styles,), 1.0 / num_styles))
        dynamic["style"] = None
        input_names.append(contract.INPUT_STYLE)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".onnx.part", dir=path.parent)
    try:  # straight after the temporary file exists: an interrupt anywhere from here on removes it
        os.close(fd)
        tmp = Path(tmp_name)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                example,
                dynamo=True,
                input_names=input_names,
                output_names=[contract.OUTPUT_FRAME],
                dynamic_shapes=dynamic,
                opset_version=OPSET,
                optimize=True,
                verbose=False,
            )
        model = program.model_proto
        _rename_output_dims(model)
        if half_kernels and not fp16:
            store_kernels_half(model)
        meta = contract.build_metadata(styles, arch, tier, recipe, "fp16" if fp16 else "fp32", working_size)
        del model.metadata_props[:]
        for key, value in meta.items():
            model.metadata_props.add(key=key, value=value)
        model.producer_name = "rtstyle"
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
        if check:
            check_parity(module, tmp, num_styles, fp16=fp16)
        publish_mode(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    if fp16:
        net.float()
    return path


HALF_SUFFIX = "__fp16"


def store_kernels_half(model: Any) -> int:
    """Store the graph's convolution kernels (the weight input of each Conv) as float16 behind a ``Cast``.

    The ``Cast`` keeps each kernel's name, so the graph reads the same values in fp32 (rounded once to fp16:
    ~5e-4 relative, well inside the export's parity tolerance) and onnxruntime's constant folding turns them
    back into fp32 initializers at load, so inference costs the same. Biases and the instance-norm rows stay
    fp32 (small, and the last bias carries the +0.5 rounding offset at the 0..255 scale, where fp16 steps by
    up to 1/8). A kernel with a value beyond the float16 range is left fp32. Returns the number stored half.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    graph_inputs = {i.name for i in graph.input}
    kernels = {n.input[1] for n in graph.node if n.op_type in ("Conv", "ConvTranspose") and len(n.input) > 1}
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or init.name not in kernels or init.name in graph_inputs:
            continue
        values = numpy_helper.to_array(init)
        if not np.isfinite(values).all() or np.abs(values).max(initial=0.0) >= 65504.0:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(values.astype(np.float16), name + HALF_SUFFIX))
        casts.append(helper.make_node("Cast", [name + HALF_SUFFIX], [name], to=TensorProto.FLOAT, name=name + "_cast"))
    for i, node in enumerate(casts):
        graph.node.insert(i, node)
    return len(casts)


def check_parity(
    module: ContractModule,
    onnx_path: str | Path,
    num_styles: int,
    fp16: bool = False,
    frames: Sequence[np.ndarray] = (),
) -> float:
    """Run onnxruntime (CPU) against PyTorch on real-looking frames at odd and tiny sizes.

    Returns the worst mean absolute difference in 8-bit levels; raises ContractError beyond tolerance
    (mean <= 1.0 and 99th percentile <= 4 levels for fp32; 3.0 and 16 for fp16).
    """
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    mean_tol, p99_tol = (3.0, 16.0) if fp16 else (1.0, 4.0)
    rng = np.random.default_rng(0)
    tests = list(frames) or [_test_frame(h, w, rng) for h, w in PARITY_SIZES]
    worst = 0.0
    for i, frame in enumerate(tests):
        feeds: dict[str, np.ndarray] = {contract.INPUT_FRAME: frame[None]}
        style_t = None
        if num_styles > 1:
            weights = np.zeros(num_styles, np.float32)
            weights[i % num_styles] = 1.0
            if i == len(tests) - 1:
                weights[:] = 1.0 / num_styles  # a blend
            feeds[contract.INPUT_STYLE] = weights
            style_t = torch.from_numpy(weights)
        got = session.run(None, feeds)[0]
        with torch.no_grad():
            ref = module(torch.from_numpy(frame[None]), style_t).numpy()
        if got.shape != ref.shape or got.dtype != np.uint8:
            raise ContractError(f"export parity: output {got.dtype}{got.shape}, expected uint8{ref.shape}")
        diff = np.abs(got.astype(np.int16) - ref.astype(np.int16))
        mean, p99 = float(diff.mean()), float(np.percentile(diff, 99))
        worst = max(worst, mean)
        if mean > mean_tol or p99 > p99_tol:
            raise ContractError(
                f"export parity failed at {frame.shape[0]}x{frame.shape[1]}: mean diff {mean:.2f}, "
                f"99th percentile {p99:.0f} levels (tolerance {mean_tol}, {p99_tol})"
            )
    return worst


def _test_frame(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A photo-like frame: smooth gradients, edges and some texture (pure noise is unlike real input)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([x / max(w, 1), y / max(h, 1), 0.5 + 0.5 * np.sin((x + y) / 7.0)], -1) * 200
    base[h // 3 : 2 * h // 3 + 1, w // 4 : w // 2 + 1] = (30, 220, 90)
    noise = rng.normal(0, 8, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint written by ``rtstyle train``; one clear error if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise InputError(f"cannot read checkpoint {path}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if not isinstance(ckpt, dict) or "net" not in ckpt or "arch" not in ckpt:
        raise InputError(f"{path} is not an rtstyle training checkpoint")
    return ckpt


def net_from_checkpoint(ckpt: Mapping[str, Any]) -> nn.Module:
    net = build_net(ckpt["arch"], int(ckpt["num_styles"]))
    net.load_state_dict(ckpt["net"])
    return net.eval()


def checkpoint_recipe(ckpt: Mapping[str, Any]) -> dict[str, Any]:
    """The ``rtstyle.recipe`` metadata of a model exported from this checkpoint: the training recipe (with its
    phases) plus what the run did: steps done, time, device, final losses, data size, loss network."""
    recipe = dict(ckpt.get("recipe", {}))
    if ckpt.get("phases"):
        recipe["phases"] = ckpt["phases"]
    recipe.update(
        {
            "steps_done": ckpt.get("step"),
            "train_seconds": round(float(ckpt.get("elapsed", 0.0)), 1),
            "device": ckpt.get("device_name") or ckpt.get("config", {}).get("device", "unknown"),
            "final_losses": {k: round(float(v), 4) for k, v in ckpt.get("last_losses", {}).items()},
        }
    )
    if "data_images" in ckpt:
        recipe["data_images"] = ckpt["data_images"]
    if ckpt.get("vgg"):
        recipe["vgg"] = Path(str(ckpt["vgg"])).name
    return recipe


def export_checkpoint(ckpt_path: str | Path, out: str | Path, fp16: bool = False) -> Path:
    """``rtstyle export``: checkpoint → contract ONNX (``--fp16`` writes the ``<name>.fp16.onnx`` sibling)."""
    ckpt = load_checkpoint(ckpt_path)
    net = net_from_checkpoint(ckpt)
    out = Path(out)
    if fp16 and not out.name.endswith(".fp16.onnx"):
        out = out.with_name(out.name.removesuffix(".onnx") + ".fp16.onnx")
    styles = [StyleEntry(**s) for s in ckpt["styles"]]
    recipe = checkpoint_recipe(ckpt)
    return export_onnx(
        net,
        out,
        styles,
        ckpt["arch"],
        get_arch(ckpt["arch"]).tier,
        recipe,
        int(recipe.get("size", 256)),
        fp16=fp16,
    )


def import_onnx(path: str | Path) -> tuple[dict[str, Any], nn.Module]:
    """The inverse of :func:`export_onnx`: a contract model file back to a trainable network.

    Returns ``(info, net)`` with ``info`` = ``{"arch", "styles", "tier", "recipe"}`` from the metadata. The
    convolutions are read by their names; instance-norm scales and shifts by name where the file keeps them
    (multi-style files), else traced in the graph from the convolution before each InstanceNormalization: the
    constants the exporter folded into it or after it (single-style files), or the style matrix a file shares
    between equal parameters (the exporter keeps one initializer of identical values). The BGR and 0..255
    folding of the first and last convolution is undone, and the NHWC head turned back into its convolution.
    """
    from onnx import numpy_helper

    path = Path(path)
    if not path.is_file():
        raise InputError(f"model not found: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf raises several kinds for a bad file
        raise InputError(f"cannot read {path} as ONNX: {str(exc).splitlines()[0]}") from None
    meta = {p.key: p.value for p in model.metadata_props}
    try:
        info = contract.parse_metadata(meta)
    except ContractError as exc:
        raise InputError(f"{path}: {exc}") from None
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:  # kernels stored in float16 behind a Cast (store_kernels_half)
        if node.op_type == "Cast" and node.input[0] in inits and node.input[0].endswith(HALF_SUFFIX):
            inits[node.output[0]] = inits.pop(node.input[0]).astype(np.float32)
    net = build_net(info.arch, info.num_styles)
    prefix = "net."
    state = net.state_dict()
    produced_by = {out: node for node in model.graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def constant(value: str) -> np.ndarray | None:
        """The initializer behind a value: itself, through a Reshape, Cast, Squeeze or Unsqueeze, or, for a
        style-weighted row ``Gather(MatMul(style, W))`` (multi-style), ``W`` itself."""
        for _ in range(6):
            if value in inits:
                return inits[value]
            node = produced_by.get(value)
            if node is None:
                return None
            if node.op_type == "MatMul":
                return next((inits[i] for i in node.input if i in inits), None)
            if node.op_type not in ("Gather", "Reshape", "Cast", "Squeeze", "Unsqueeze"):
                return None
            value = node.input[0]
        return None

    def after(value: str, op: str, hops: int = 3) -> Any:
        """The first ``op`` node reached from ``value`` through single-consumer nodes (a Cast, a Reshape)."""
        for _ in range(hops + 1):
            nxt = consumers.get(value, [])
            hit = next((n for n in nxt if n.op_type == op), None)
            if hit is not None or len(nxt) != 1:
                return hit
            value = nxt[0].output[0]
        return None

    def norm_params(conv_weight: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The scale and shift of the instance norm after the convolution ``conv_weight``, traced in the graph:
        the norm's own inputs (the fast tier's fused norm), or the Mul and Add after it (``CondInstanceNorm``);
        for each, a constant (one style) or the style-weighted matrix (several)."""
        conv = next((n for n in consumers.get(conv_weight, []) if n.op_type in ("Conv", "ConvTranspose")), None)
        norm = after(conv.output[0], "InstanceNormalization") if conv is not None else None
        if norm is None:
            return None
        mul = after(norm.output[0], "Mul")
        if mul is None:  # fused: the norm's scale and shift are the parameters
            pair = constant(norm.input[1]), constant(norm.input[2])
        else:
            add = after(mul.output[0], "Add")
            if add is None:
                return None
            pair = (
                next((c for i in mul.input if i != norm.output[0] and (c := constant(i)) is not None), None),
                next((c for i in add.input if (c := constant(i)) is not None), None),
            )
        return None if pair[0] is None or pair[1] is None else (pair[0], pair[1])

    io = net.io_layers() if hasattr(net, "io_layers") else None
    if "head_weight" in inits and io is not None:  # the NHWC head (ContractModule): back to the pointwise conv
        last = next(name for name, module in net.named_modules() if module is io.last)
        weight, bias = _conv_from_head(inits.pop("head_weight"), inits.pop("head_bias"), io.shuffle)
        inits[f"{prefix}{last}.weight"], inits[f"{prefix}{last}.bias"] = weight, bias
    loaded = {}
    for key, tensor in state.items():
        name = prefix + key
        if name in inits:
            value = torch.from_numpy(np.array(inits[name], dtype=np.float32))
        elif key.endswith(("norm.weight", "norm.bias")):  # folded into constants, or shared with an equal one
            owner = prefix + key.rsplit(".norm.", 1)[0]
            pair = norm_params(owner + ".conv.weight") or norm_params(owner + ".pw.weight")
            if pair is None:
                raise InputError(f"{path}: cannot find the instance-norm parameters of {key} in the graph")
            value = torch.from_numpy(np.array(pair[0 if key.endswith("weight") else 1], dtype=np.float32))
        else:
            raise InputError(f"{path}: no weights for {key} (not an rtstyle {info.arch} export?)")
        if value.numel() != tensor.numel():
            raise InputError(f"{path}: {key} has {value.numel()} values, a {info.arch} net needs {tensor.numel()}")
        loaded[key] = value.reshape(tensor.shape)
    net.load_state_dict(loaded)
    if io is not None:
        # exports since the rounding moved into the last bias (+0.5) have no Round node; older ones round
        offset = 0.0 if any(n.op_type == "Round" for n in model.graph.node) else 0.5
        _unfold_frame_format(io.first, io.last, io.shuffle, offset=offset)
    info_dict = {"arch": info.arch, "styles": list(info.styles), "tier": info.tier, "recipe": info.recipe}
    return info_dict, net.eval()


@torch.no_grad()
def _unfold_frame_format(
    first: nn.Conv2d, last: nn.Conv2d, shuffle: int = 1, scale: float = 255.0, offset: float = 0.0
) -> None:
    """Undo :func:`rtstyle.nets.layers.fold_frame_format`: BGR [0, scale] (plus ``offset``) back to RGB [0, 1]."""
    first.weight.copy_(first.weight.flip(1) * scale)
    r2 = shuffle * shuffle
    order = torch.arange(3 * r2).reshape(3, r2).flip(0).reshape(-1)  # the permutation is its own inverse
    last.weight.copy_(last.weight[order] / scale)
    if last.bias is not None:
        last.bias.copy_((last.bias[order] - offset) / scale)
