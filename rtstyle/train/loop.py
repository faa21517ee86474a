"""The training loop behind ``rtstyle train``: Adam on perceptual losses, checkpoints, resume, previews, DDP.

Single process by default; under ``torchrun`` (WORLD_SIZE > 1) it runs DistributedDataParallel with NCCL on
CUDA and gloo on the CPU. Rank 0 alone writes checkpoints, previews, the exported model and the card.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from rtstyle.catalog import resolve, user_models_dir
from rtstyle.contract import StyleEntry
from rtstyle.errors import InputError, RtstyleError
from rtstyle.export import (
    checkpoint_recipe,
    export_onnx,
    import_onnx,
    load_checkpoint,
    net_from_checkpoint,
)
from rtstyle.nets import build_net, get_arch
from rtstyle.nets.fast import grow_fast
from rtstyle.train.data import PhotoSet, load_rgb, read_holdout, to_tensor
from rtstyle.train.losses import STYLE_LOSSES, PerceptualLoss, block_seams, load_vgg, tile_pattern
from rtstyle.train.memory import keep_freed_memory
from rtstyle.train.precision import autocast, resolve_precision

# The output convolution's learning rate as a share of --lr: 1/255 takes the steps of the [0, 255] reference
# implementations (param_groups). Runs recorded before it was the default trained at 1.0 and have no
# ``output_lr_scale`` in their recipe or config: RECORDED_OUTPUT_LR_SCALE is what such a record means.
OUTPUT_LR_SCALE = 1 / 255
RECORDED_OUTPUT_LR_SCALE = 1.0
# What a run recorded before these config keys existed did: the only style loss and one turn per style.
RECORDED_BEFORE_KEYS: dict[str, Any] = {
    "style_loss": "absolute",
    "style_turns": 1,
    "style_layer_weights": [1.0, 1.0, 1.0, 1.0],
}


@dataclass
class TrainConfig:
    style_images: list[str]
    data: list[str]  # photo folders
    name: str
    display_names: list[str] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)
    style_names: list[str] = field(default_factory=list)  # per style image; default: from --name / file stem
    arch: str = "johnson"
    steps: int = 3000
    batch: int = 4
    size: int = 256
    style_size: int | list[int] = 512  # long side of the style image: one for all, or one per style image
    lr: float = 1e-3
    content_weight: float = 1e5
    style_weight: float | list[float] = 1e10  # one for all, or one per style image
    tv_weight: float = 0.0
    content_layer: str = "relu2_2"
    style_loss: str = "absolute"  # absolute (Johnson et al.) | relative (each layer against the painting's norm)
    # one factor per style layer (relu1_2, relu2_2, relu3_3, relu4_3) on its style term
    style_layer_weights: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0, 1.0])
    stability_weight: float = 0.0
    tile_weight: float = 0.0  # the 8-px tile pattern's energy (losses.tile_pattern): blockiness
    seam_weight: float = 0.0  # steps across 4-px block edges beyond those inside (losses.block_seams): blockiness
    init_from: str | None = None  # start from a trained net: a checkpoint, .onnx file or style name
    continue_run: bool = False  # with init_from: carry on its step count and phases (a campaign on a new machine)
    style_batches: str = "mixed"  # "mixed": the styles spread over each batch; "single": one style per batch
    style_turns: int | list[int] = 1  # with "single": batches per style in each cycle (one for all, or per style)
    identity_steps: int = 0  # warm start: the first steps train the net to reproduce its input (content kept)
    output_lr_scale: float = OUTPUT_LR_SCALE  # the output convolution's learning rate relative to --lr (param_groups)
    style_ramp: int = 0  # after the warm start, the style weight grows linearly from 0 to full over this many steps
    stability_noise: float = 0.02
    stability_shift: int = 4
    teacher: str | None = None
    teacher_weight: float = 1e9
    seed: int = 0
    device: str = "auto"
    holdout: str | None = None
    vgg_weights: str | None = None
    download_vgg: bool = False
    out_dir: str | None = None
    checkpoint_every: int = 200
    preview_every: int = 500
    resume: bool = False
    export: bool = True
    export_dir: str | None = None  # default: the user's model directory
    log_every: int = 10
    progress: bool = True
    card_notes: list[str] = field(default_factory=list)  # extra lines for the model card (e.g. data terms)
    precision: str = "auto"  # auto, fp32 or bf16 (autocast); see rtstyle.train.precision
    channels_last: bool | None = None  # None: where it measured faster (CUDA)
    train_only: str = "all"  # all | norm (instance-norm scales and shifts) | norm+last (plus the output conv)
    max_minutes: float | None = None  # stop when the training time (wall clock of the loop) reaches it
    stop_at: float | None = None  # a time.time() at which the loop stops too (styles add: a deadline)
    lr_decay: bool = False  # the learning rate falls linearly to 0 at the time limit (max_minutes / stop_at)
    init_row: str = "mean"  # with init_from, a style the source lacks starts from: mean | nearest (Gram distance)
    val_every: int = 0  # every N steps: the loss on a fixed validation batch; the best state is kept and exported
    val_photos: int = 4  # photos in the validation batch (fixed photos, fixed centre crops)
    keep_best_on_interrupt: bool = False  # Ctrl-C stops training and still exports the best state so far
    preview_file: str | None = None  # the painting and fixed photos stylized, rewritten atomically ...
    preview_seconds: float = 30.0  # ... every N seconds (and at the end)
    made_by: str = "rtstyle train"  # the model card's first line
    mark_minutes: list[float] = field(default_factory=list)  # at each: OUT_DIR/minute_M.pt holds the best state

    def __post_init__(self) -> None:
        if isinstance(self.data, (str, Path)):
            self.data = [str(self.data)]
        self.style_layer_weights = [float(w) for w in self.style_layer_weights]

    @classmethod
    def from_record(cls, config: dict[str, Any]) -> TrainConfig:
        """The config a checkpoint recorded (its ``config``): unknown keys dropped, and a run recorded before
        ``output_lr_scale`` existed keeps the 1.0 it trained with (not today's default)."""
        known = set(cls.__dataclass_fields__)
        kept = {k: v for k, v in config.items() if k in known}
        kept.setdefault("output_lr_scale", RECORDED_OUTPUT_LR_SCALE)
        return cls(**{**RECORDED_BEFORE_KEYS, **kept})

    def run_dir(self) -> Path:
        """Where the checkpoint and previews go: ``out_dir``, by default ``runs/NAME``."""
        return Path(self.out_dir or Path("runs") / self.name)

    def recipe(self) -> dict[str, Any]:
        keep = (
            "arch steps batch size style_size lr content_weight style_weight tv_weight content_layer style_loss "
            "style_layer_weights "
            "identity_steps style_ramp output_lr_scale style_batches style_turns train_only init_row max_minutes "
            "val_every stability_weight stability_noise stability_shift teacher_weight tile_weight seam_weight seed"
        ).split()
        r = {k: getattr(self, k) for k in keep}
        r["style_images"] = [Path(p).name for p in self.style_images]
        r["data"] = [Path(d).name for d in self.data]
        r["precision"] = self.precision
        r["holdout"] = Path(self.holdout).name if self.holdout else None
        r["teacher"] = Path(self.teacher).name if self.teacher else None
        r["init_from"] = Path(self.init_from).name if self.init_from else None
        r["optimizer"] = "Adam"
        if self.lr_decay:  # recorded only when on: the recipes of earlier runs read the same
            r["lr_decay"] = "linear to 0 at the time limit"
        return r


@dataclass
class TrainResult:
    checkpoint: Path
    onnx: Path | None
    card: Path | None
    steps: int
    seconds: float
    last_losses: dict[str, float]
    images_per_second: float
    best_step: int | None = None  # with val_every: the step whose state was exported
    best_val: float | None = None  # its validation loss
    first_val: float | None = None  # the validation loss before the first step
    interrupted: bool = False  # stopped by Ctrl-C (keep_best_on_interrupt), the best state exported
    stopped_by: str = "steps"  # steps | minutes | interrupt


@dataclass
class TrainStatus:
    """What the progress callback (``train(on_step=...)``) gets after every step."""

    step: int
    steps: int
    seconds: float  # training time so far (the loop's wall clock)
    budget_seconds: float | None  # max_minutes in seconds
    losses: dict[str, float]
    val: float | None  # the latest validation loss
    best_val: float | None
    best_step: int | None
    preview: Path | None  # the preview file, when it was just rewritten


TRAIN_ONLY = ("all", "norm", "norm+last")
INIT_ROWS = ("mean", "nearest")


def norm_parameters(net: nn.Module) -> list[nn.Parameter]:
    """The instance-norm scales and shifts (every conditional instance norm's ``weight`` and ``bias``)."""
    from rtstyle.nets.layers import CondInstanceNorm

    return [p for m in net.modules() if isinstance(m, CondInstanceNorm) for p in (m.weight, m.bias)]


def set_trainable(net: nn.Module, train_only: str) -> int:
    """Freeze what ``train_only`` does not train (``requires_grad`` off): ``all`` trains everything, ``norm`` the
    instance-norm scales and shifts, ``norm+last`` those plus the output convolution. Returns the parameters
    trained (their count of values)."""
    if train_only not in TRAIN_ONLY:
        raise RtstyleError(f"train_only must be one of {', '.join(TRAIN_ONLY)}, not {train_only!r}")
    if train_only == "all":
        keep = list(net.parameters())
    else:
        keep = norm_parameters(net)
        if train_only == "norm+last":
            keep += list(net.io_layers().last.parameters())
    ids = {id(p) for p in keep}
    for p in net.parameters():
        p.requires_grad_(id(p) in ids)
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def per_style(value: Any, n: int, option: str) -> list:
    """One value for every style, or a list with one per style image."""
    if not isinstance(value, (list, tuple)):
        return [value] * n
    if len(value) == 1:
        return list(value) * n
    if len(value) != n:
        raise RtstyleError(f"give one {option} for all styles or one per style image ({len(value)} for {n})")
    return list(value)


def param_groups(net: nn.Module, lr: float, output_lr_scale: float = 1.0) -> list[dict[str, Any]]:
    """Adam groups: the output convolution at ``lr * output_lr_scale``, everything else at ``lr``.

    Every hidden layer is followed by instance norm, so the size of its weights does not matter, but the output
    convolution writes pixels directly: Adam moves each weight by about ``lr`` per step whatever its gradient, so
    a net whose output is RGB in [0, 1] takes 255x larger steps relative to its output than one working in
    [0, 255] (as the reference implementations do) at the same ``lr``. ``1/255`` gives the reference's steps.
    Frozen parameters (``requires_grad`` off: :func:`set_trainable`) are left out; an empty group is not made.
    """
    trained = [p for p in net.parameters() if p.requires_grad]
    last = getattr(net, "io_layers", None)
    if last is None or output_lr_scale == 1.0:
        return [{"params": trained, "lr": lr, "lr_scale": 1.0}]
    ids = {id(p) for p in net.io_layers().last.parameters()}
    out_params = [p for p in trained if id(p) in ids]
    rest = [p for p in trained if id(p) not in ids]
    groups = [{"params": rest, "lr": lr, "lr_scale": 1.0}]
    if out_params:
        groups.append({"params": out_params, "lr": lr * output_lr_scale, "lr_scale": output_lr_scale})
    return [g for g in groups if g["params"]]


def style_scale(step: int, identity_steps: int, ramp: int) -> float:
    """The share of the style weight at ``step``: 0 → 1 linearly over ``ramp`` steps after the warm start."""
    if ramp <= 0:
        return 1.0
    return min(1.0, max(0, step - identity_steps + 1) / ramp)


def batch_style(num_styles: int, batch: int, step: int, seed: int, turns: list[int] | None = None) -> torch.Tensor:
    """One style for the whole batch, every style once per ``num_styles`` steps in an order drawn per cycle
    (from ``seed`` and the cycle only, so a resumed run draws the same). As Dumoulin et al. train: each step
    moves the shared weights towards one painting instead of averaging nine. ``turns``: batches per style in each
    cycle (default one each), so a style that lags gets more steps without a heavier weight."""
    slots = [i for i in range(num_styles) for _ in range(turns[i] if turns else 1)]
    cycle, k = divmod(step, len(slots))
    order = torch.randperm(len(slots), generator=torch.Generator().manual_seed(seed * 100_003 + cycle))
    return torch.full((batch,), slots[int(order[k])], dtype=torch.long)


def style_indices(num_styles: int, batch: int, gen: torch.Generator) -> torch.Tensor:
    """The style of each sample: every style equally often (a batch of ``num_styles`` holds each once), in a
    random order; a batch smaller than the zoo takes the styles after a random offset, so all get equal turns."""
    if num_styles == 1:
        return torch.zeros(batch, dtype=torch.long)
    order = torch.randperm(num_styles, generator=gen)
    start = int(torch.randint(num_styles, (1,), generator=gen))
    return order[(torch.arange(batch) + start) % num_styles]


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RtstyleError("--device cuda asked for, but torch sees no CUDA GPU")
    if device not in ("cpu", "cuda"):
        raise RtstyleError(f"unknown device {device!r} (auto, cuda or cpu)")
    return torch.device(device)


def _style_entries(cfg: TrainConfig) -> list[StyleEntry]:
    n = len(cfg.style_images)
    if cfg.style_names:
        names = list(cfg.style_names)
    elif n == 1:
        names = [cfg.name]
    else:
        names = [Path(p).stem.replace("_", "-") for p in cfg.style_images]
    if len(names) != n:
        raise RtstyleError(f"{len(names)} style names for {n} style images")
    displays = list(cfg.display_names) or [s.replace("-", " ").replace("_", " ").title() for s in names]
    licenses = list(cfg.licenses) or ["unknown"] * n
    if len(displays) != n or len(licenses) != n:
        raise RtstyleError("give one --display-name and one --license per style image (or none)")
    return [StyleEntry(a, b, c) for a, b, c in zip(names, displays, licenses, strict=True)]


def _source_net(spec: str, arch: str) -> tuple[nn.Module, list[str], dict[str, Any]]:
    """A trained network, its style names and recipe from a checkpoint (.pt), a model file (.onnx) or a style."""
    path = Path(spec)
    if path.suffix == ".pt":
        ckpt = load_checkpoint(path)
        return net_from_checkpoint(ckpt), [s["name"] for s in ckpt.get("styles", [])], checkpoint_recipe(ckpt)
    if path.suffix != ".onnx":
        path = Path(resolve(spec, tier=get_arch(arch).tier).file)
    info, net = import_onnx(path)
    return net, [s.name for s in info["styles"]], dict(info["recipe"])


RowPicker = Callable[[nn.Module, list[str], int], int]


@torch.no_grad()
def init_weights(
    net: nn.Module, spec: str, arch: str, style_names: list[str], pick: RowPicker | None = None
) -> tuple[str, dict[str, Any]]:
    """Start ``net`` from a trained network (``--init-from``): every convolution is copied; each style's
    instance-norm row comes from the source's style of the same name, else from the row ``pick(source, names,
    style_index)`` chooses, else is the mean of the source's rows. Returns a note for the model card and the
    source's recipe."""
    src, src_names, src_recipe = _source_net(spec, arch)
    src_arch = getattr(src, "arch_name", arch)
    grown = ""
    if src_arch != arch:
        try:  # a fast design that holds the source's (more blocks, wider) grows from it, same output at first
            src = grow_fast(src, build_net(arch, int(getattr(src, "num_styles", 1))))  # type: ignore[arg-type]
        except ValueError:
            raise InputError(f"--init-from {spec}: it is a {src_arch} network, this run trains {arch}") from None
        grown = f", grown from {src_arch}"
    target = net.state_dict()
    rows = [src_names.index(n) if n in src_names else None for n in style_names]
    picked = [None if r is not None or pick is None else pick(src, src_names, i) for i, r in enumerate(rows)]
    for key, value in src.state_dict().items():
        if key.endswith(("norm.weight", "norm.bias")) and value.dim() == 2:
            mean = value.mean(0)
            target[key] = torch.stack(
                [
                    value[r] if r is not None else value[q] if q is not None else mean
                    for r, q in zip(rows, picked, strict=True)
                ]
            )
        else:
            target[key] = value
    net.load_state_dict(target)
    kept = [n for n, r in zip(style_names, rows, strict=True) if r is not None]
    note = f"initialised from {Path(spec).name}{grown}" + (f" (styles kept: {', '.join(kept)})" if kept else "")
    nearest = [f"{n} from {src_names[q]}" for n, q in zip(style_names, picked, strict=True) if q is not None]
    if nearest:
        note += f" (norm rows from the nearest style by Gram distance: {', '.join(nearest)})"
    return note, src_recipe


@torch.no_grad()
def nearest_row(src: nn.Module, loss_fn: PerceptualLoss, photos: torch.Tensor, style_index: int) -> tuple[int, list]:
    """The source style whose output on ``photos`` has the Gram matrices nearest to painting ``style_index``'s
    (the style term of ``loss_fn``), and every source style's distance."""
    src = src.to(photos.device).eval()
    n = int(getattr(src, "num_styles", 1))
    sidx = torch.full((photos.shape[0],), style_index, dtype=torch.long, device=photos.device)
    dists = []
    for r in range(n):
        style = F.one_hot(torch.full((photos.shape[0],), r), n).float().to(photos.device)
        _, terms = loss_fn(src(photos, style).clamp(0, 1), photos, sidx)
        dists.append(float(terms["style"]))
    return int(np.argmin(dists)), dists


def continued_phases(recipe: dict[str, Any]) -> list[dict[str, Any]]:
    """The phases of a run continued from its exported model: its earlier phases plus its last one."""
    phases = [dict(p) for p in recipe.get("phases", [])]
    start = phases[-1]["to_step"] if phases else 0
    last = {k: recipe[k] for k in PHASE_KEYS if k in recipe}
    if recipe.get("steps_done", 0) > start:
        phases.append({"from_step": start, "to_step": int(recipe["steps_done"]), **last})
    return phases


class _Teacher:
    """Targets for distillation: a training checkpoint or an rtstyle ONNX export (read back into torch by
    :func:`import_onnx`, so it runs batched and under the run's precision), or any other contract model file
    (onnxruntime, one frame at a time)."""

    def __init__(self, spec: str, device: torch.device, num_styles: int, names: list[str] | None = None) -> None:
        path = Path(spec)
        self.torch_net: nn.Module | None = None
        self.session = None
        held_names: list[str] = []
        if path.suffix == ".pt":
            ckpt = load_checkpoint(path)
            self.torch_net = net_from_checkpoint(ckpt).to(device).requires_grad_(False)
            held_names = [e["name"] for e in ckpt.get("styles", [])]
        else:
            if not path.is_file():
                path = Path(resolve(spec, tier="full").file)
            try:
                info, net = import_onnx(path)
                self.torch_net = net.to(device).requires_grad_(False)
                held_names = [e.name for e in info["styles"]]
            except InputError:  # not an export the importer reads: run the file itself
                self._open_session(path, device)
        held = int(getattr(self.torch_net, "num_styles", num_styles))
        # The student's style weights as the teacher's: the same rows, or, where the teacher holds other or more
        # styles, each student style's row picked by name (a one-style student taught by a zoo file).
        self.rows: torch.Tensor | None = None
        names = list(names or [])
        reordered = held == num_styles and sorted(names) == sorted(held_names) and names != held_names
        if held != num_styles or reordered:
            missing = [n for n in names if n not in held_names]
            if not names or not held_names or missing:
                have = f" ({', '.join(held_names)})" if held_names else ""
                lacks = f"; it has no {', '.join(missing)}" if missing and held_names else ""
                raise RtstyleError(
                    f"the teacher holds {held} style(s){have} and the network being trained {num_styles}{lacks}"
                )
            self.rows = torch.zeros(num_styles, held, device=device)
            for i, n in enumerate(names):
                self.rows[i, held_names.index(n)] = 1.0
        self.num_styles = num_styles

    def _open_session(self, path: Path, device: torch.device) -> None:
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.type == "cuda" else None
        self.session = ort.InferenceSession(str(path), providers=providers or ["CPUExecutionProvider"])
        self.has_style = any(i.name == "style" for i in self.session.get_inputs())

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.rows is not None:
            style = style.float() @ self.rows
        if self.torch_net is not None:
            return self.torch_net(x, style).clamp(0, 1)
        out = []
        for i in range(x.shape[0]):
            frame = (x[i].permute(1, 2, 0).flip(2).clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            feeds = {"frame": frame[None]}
            if self.has_style:
                feeds["style"] = style[i].float().cpu().numpy()
            elif self.num_styles > 1:
                raise RtstyleError("a single-style teacher cannot distil a multi-style network")
            y = self.session.run(None, feeds)[0][0]  # type: ignore[union-attr]
            out.append(torch.from_numpy(np.ascontiguousarray(y[:, :, ::-1])).permute(2, 0, 1).float() / 255.0)
        return torch.stack(out).to(x.device)


PHASE_KEYS = (
    "lr",
    "content_weight",
    "content_layer",
    "style_weight",
    "tv_weight",
    "style_loss",
    "style_layer_weights",
    "style_turns",
    "stability_weight",
    "teacher_weight",
    "tile_weight",
    "seam_weight",
    "batch",
    "size",
)


def _phases_after_resume(ckpt: dict[str, Any], cfg: TrainConfig) -> list[dict[str, Any]]:
    """A resume with other loss weights or sizes starts a new phase; earlier phases are kept in the recipe."""
    phases = list(ckpt.get("phases", []))
    # a key the run recorded no value for did not exist then: it trained at its default (a new loss: off)
    defaults = {f.name: f.default for f in fields(TrainConfig) if f.name in PHASE_KEYS and f.default is not MISSING}
    old = {**defaults, **RECORDED_BEFORE_KEYS, **ckpt.get("config", {})}
    changed = {k: old[k] for k in PHASE_KEYS if k in old and old[k] != getattr(cfg, k)}
    if changed:
        start = phases[-1]["to_step"] if phases else 0
        phases.append({"from_step": start, "to_step": ckpt["step"], **{k: old[k] for k in PHASE_KEYS if k in old}})
    return phases


def recorded_output_lr_scale(out_dir: str | Path) -> float | None:
    """The output learning-rate scale the checkpoint in ``out_dir`` trained with: its recipe's, 1.0 for a run
    recorded before the key existed (the old default), None where there is no checkpoint."""
    path = Path(out_dir) / "checkpoint.pt"
    if not path.is_file():
        return None
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return float(ckpt.get("recipe", {}).get("output_lr_scale", RECORDED_OUTPUT_LR_SCALE))


def _save_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".part")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _preview(net: nn.Module, fixed: torch.Tensor, num_styles: int, path: Path) -> None:
    net.eval()
    rows = []
    with torch.no_grad():
        for s in range(num_styles):
            style = F.one_hot(torch.full((fixed.shape[0],), s), num_styles).float().to(fixed.device)
            y = net(fixed, style).clamp(0, 1)
            rows.append(torch.cat(list(y), 2))
    net.train()
    grid = torch.cat([torch.cat(list(fixed), 2), *rows], 1)
    img = (grid.permute(1, 2, 0).float().cpu().numpy() * 255).round().astype(np.uint8)[:, :, ::-1]
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


def _write_preview(
    net: nn.Module, fixed: torch.Tensor, style_imgs: list[torch.Tensor], num_styles: int, path: Path
) -> None:
    """The painting(s) beside the fixed photos stylized: a row per style under a row of the photos; written to
    a temporary file and renamed, so a viewer that keeps ``path`` open never reads half a picture."""
    size = fixed.shape[-1]
    net.eval()
    rows = [torch.cat([torch.ones_like(fixed[0]), *fixed], 2)]
    with torch.no_grad():
        for s in range(num_styles):
            style = F.one_hot(torch.full((fixed.shape[0],), s), num_styles).float().to(fixed.device)
            y = net(fixed, style).clamp(0, 1).float()
            img = style_imgs[s if s < len(style_imgs) else 0][0].float()
            h, w = img.shape[1:]
            k = size / max(h, w)
            small = F.interpolate(img[None], size=(max(1, round(h * k)), max(1, round(w * k))), mode="area")[0]
            tile = torch.ones(3, size, size, device=fixed.device)
            top, left = (size - small.shape[1]) // 2, (size - small.shape[2]) // 2
            tile[:, top : top + small.shape[1], left : left + small.shape[2]] = small.to(fixed.device)
            rows.append(torch.cat([tile, *y], 2))
    net.train()
    grid = torch.cat(rows, 1)
    img = (grid.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)[:, :, ::-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part{path.suffix or '.jpg'}")
    if not cv2.imwrite(str(tmp), img, [cv2.IMWRITE_JPEG_QUALITY, 92]):
        raise RtstyleError(f"cannot write the preview {path}")
    os.replace(tmp, path)


def train(
    cfg: TrainConfig,
    on_log: Callable[[int, dict[str, float], float], None] | None = None,
    on_step: Callable[[TrainStatus], None] | None = None,
) -> TrainResult:
    """Run (or resume) a training run; export the contract model and a model card at the end.

    ``on_step`` is called after every step with a :class:`TrainStatus` (a progress bar, a preview window); a
    ``KeyboardInterrupt`` raised there (or by Ctrl-C) stops the run, and with ``cfg.keep_best_on_interrupt`` the
    best state so far is still exported.
    """
    if cfg.train_only not in TRAIN_ONLY:
        raise RtstyleError(f"train_only must be one of {', '.join(TRAIN_ONLY)}, not {cfg.train_only!r}")
    if cfg.init_row not in INIT_ROWS:
        raise RtstyleError(f"init_row must be one of {', '.join(INIT_ROWS)}, not {cfg.init_row!r}")
    if cfg.style_loss not in STYLE_LOSSES:
        raise RtstyleError(f"--style-loss must be one of {', '.join(STYLE_LOSSES)}, not {cfg.style_loss!r}")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(cfg.device)
    if device.type == "cpu":
        keep_freed_memory()  # each step's activations without page faults (rtstyle.train.memory)
    if distributed:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    is_main = rank == 0
    arch = get_arch(cfg.arch)
    styles = _style_entries(cfg)
    for p in cfg.style_images:
        if not Path(p).is_file():
            raise InputError(f"style image not found: {p}")
    style_sizes = per_style(cfg.style_size, len(cfg.style_images), "--style-size")
    style_weights = per_style(cfg.style_weight, len(cfg.style_images), "--style-weight")
    if cfg.style_batches not in ("mixed", "single"):
        raise RtstyleError(f"--style-batches must be mixed or single, not {cfg.style_batches!r}")
    turns = [int(t) for t in per_style(cfg.style_turns, len(styles), "--style-turns")]
    if min(turns) < 1:
        raise RtstyleError("--style-turns must be 1 or more for every style")
    if max(turns) > 1 and cfg.style_batches != "single":
        raise RtstyleError("--style-turns needs --style-batches single (one style per batch)")
    style_imgs = []
    for p, side in zip(cfg.style_images, style_sizes, strict=True):
        rgb = load_rgb(p, max_side=side)
        if rgb is None:
            raise InputError(f"cannot read style image {p}")
        style_imgs.append(to_tensor(rgb).to(device))

    out_dir = cfg.run_dir()
    ckpt_path = out_dir / "checkpoint.pt"
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    vgg = load_vgg(cfg.vgg_weights, download=cfg.download_vgg).to(device)
    holdout = read_holdout(cfg.holdout)
    photos = PhotoSet(cfg.data, cfg.size, holdout, device=device if device.type == "cuda" else "cpu")
    loss_fn = PerceptualLoss(
        vgg,
        style_imgs,
        cfg.content_layer,
        cfg.content_weight,
        style_weights,
        cfg.tv_weight,
        cfg.style_loss,
        cfg.style_layer_weights,
    ).to(device)
    num_styles = len(styles)
    net = build_net(cfg.arch, num_styles)
    init_note, src_recipe = None, {}
    fixed = photos.fixed(max(4, cfg.val_photos)).to(device)  # fixed photos, fixed crops: previews, validation
    val_x = fixed[: cfg.val_photos] if cfg.val_photos < fixed.shape[0] else fixed
    if cfg.init_from and not cfg.resume:  # a resume continues from its checkpoint instead
        pick: RowPicker | None = None
        if cfg.init_row == "nearest":

            def pick(src: nn.Module, names: list[str], i: int) -> int:
                return nearest_row(src, loss_fn, val_x, i)[0]

        init_note, src_recipe = init_weights(net, cfg.init_from, cfg.arch, [s.name for s in styles], pick)
    trained_values = set_trainable(net, cfg.train_only)
    net = net.to(device)
    teacher = _Teacher(cfg.teacher, device, num_styles, [s.name for s in styles]) if cfg.teacher else None
    precision = resolve_precision(cfg.precision, device)
    # channels-last measured no faster on the CPU, bf16 or not (docs/training.md): CUDA only by default
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type == "cuda"
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        loss_fn = loss_fn.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(param_groups(net, cfg.lr, cfg.output_lr_scale))
    gen = torch.Generator().manual_seed(cfg.seed + 1000 * rank)
    step, elapsed, history, phases = 0, 0.0, [], []
    if cfg.continue_run and init_note is not None:  # the campaign goes on from its exported model
        step = int(src_recipe.get("steps_done") or 0)
        elapsed = float(src_recipe.get("train_seconds") or 0.0)
        phases = continued_phases(src_recipe)
        init_note += f", continuing its run at step {step} (optimizer state restarted)"
    if cfg.resume:
        if not ckpt_path.is_file():
            raise InputError(f"--resume: no checkpoint at {ckpt_path}")
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        if ckpt["arch"] != cfg.arch or ckpt["num_styles"] != num_styles:
            raise RtstyleError(f"--resume: {ckpt_path} is a {ckpt['arch']} net for {ckpt['num_styles']} styles")
        net.load_state_dict(ckpt["net"])
        if len(ckpt["opt"]["param_groups"]) == len(opt.param_groups):
            opt.load_state_dict(ckpt["opt"])
        # else: the run changed --output-lr-scale on resume; Adam's moments restart with the new groups
        for group in opt.param_groups:  # the optimizer state carries the old rate; --lr on resume starts a phase
            group["lr"] = cfg.lr * group.get("lr_scale", 1.0)
        gen.set_state(ckpt["gen"][rank] if rank < len(ckpt["gen"]) else ckpt["gen"][0])
        torch.set_rng_state(ckpt["torch_rng"])
        step, elapsed, history = ckpt["step"], ckpt["elapsed"], ckpt.get("history", [])
        phases = _phases_after_resume(ckpt, cfg)
        init_note = ckpt.get("init")
        if not (cfg.style_names or cfg.display_names or cfg.licenses) and ckpt.get("styles"):
            styles = [StyleEntry(**s) for s in ckpt["styles"]]  # a resume keeps the names unless given again
    model: nn.Module = net
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    fixed = fixed[:4]
    out_dir.mkdir(parents=True, exist_ok=True)
    run_info: dict[str, Any] = {}  # what this run learned about itself, for the recipe (best step, stop reason)

    def checkpoint(last: dict[str, float]) -> None:
        gens = [gen.get_state()]
        if distributed:
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, gen.get_state())
            gens = gathered
        if not is_main:
            return
        _save_atomic(
            {
                "arch": cfg.arch,
                "num_styles": num_styles,
                "styles": [s.to_json() for s in styles],
                "net": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                "opt": opt.state_dict(),
                "gen": gens,
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "elapsed": elapsed,
                "history": history,
                "last_losses": last,
                "recipe": {**cfg.recipe(), **run_info},  # the current phase; earlier ones: "phases"
                "config": dataclasses.asdict(cfg),
                "phases": phases,
                "vgg": vgg.source,
                "data_images": len(photos),
                "data_skipped": len(photos.skipped),
                "data_subsets": photos.subsets(),
                "init": init_note,
                "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            },
            ckpt_path,
        )

    progress = None
    if is_main and cfg.progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("[bold]train[/] {task.fields[name]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[losses]}"),
            TextColumn("{task.fields[ips]:.1f} img/s"),
            TimeRemainingColumn(),
            transient=False,
        )
        progress.start()
        task = progress.add_task("train", total=cfg.steps, completed=step, name=cfg.name, losses="", ips=0.0)
    last: dict[str, float] = {}
    window_t, window_n = time.perf_counter(), 0
    val_sidx = (torch.arange(val_x.shape[0]) % num_styles).to(device)
    val_style = F.one_hot(val_sidx, num_styles).float()

    def validate() -> float:
        """The loss on the fixed validation batch at full style weight (lower is better)."""
        net.eval()
        with torch.no_grad(), autocast(device, precision):
            loss_v, _ = loss_fn(net(val_x, val_style).float(), val_x, val_sidx)
        net.train()
        return float(loss_v)

    def snapshot() -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in net.state_dict().items()}

    best: dict[str, Any] | None = None
    first_val = val = None
    if cfg.val_every > 0:
        first_val = val = validate()
        best = {"val": val, "step": step, "state": snapshot()}
    budget = cfg.max_minutes * 60.0 if cfg.max_minutes is not None else None
    preview_path = Path(cfg.preview_file) if cfg.preview_file and is_main else None
    if preview_path is not None:
        _write_preview(net, fixed, style_imgs, num_styles, preview_path)
    loop_start = last_preview = time.perf_counter()
    stopped_by, interrupted = "steps", False
    # --lr_decay: the seconds from here to the time limit, over which the rate falls linearly to 0
    limits = [t for t in (budget, cfg.stop_at - time.time() if cfg.stop_at is not None else None) if t is not None]
    horizon = max(min(limits), 1e-6) if cfg.lr_decay and limits else None
    marks = sorted(cfg.mark_minutes)

    def save_mark(minute: float) -> None:
        """The best state so far (or the current one without validation) as a checkpoint that exports."""
        if not is_main:
            return
        state = best["state"] if best is not None else net.state_dict()
        info = {"best_step": best["step"], "val_loss": round(best["val"], 6)} if best is not None else {}
        _save_atomic(
            {
                "arch": cfg.arch,
                "num_styles": num_styles,
                "styles": [s.to_json() for s in styles],
                "net": {k: v.detach().cpu() for k, v in state.items()},
                "step": step,
                "elapsed": time.perf_counter() - loop_start,
                "recipe": {**cfg.recipe(), **info, "minute_mark": minute},
                "config": dataclasses.asdict(cfg),
                "last_losses": last,
                "vgg": vgg.source,
                "init": init_note,
            },
            out_dir / f"minute_{minute:g}.pt",
        )

    net.train()
    try:
        while step < cfg.steps:
            if (budget is not None and time.perf_counter() - loop_start >= budget) or (
                cfg.stop_at is not None and time.time() >= cfg.stop_at
            ):
                stopped_by = "minutes"
                break
            t0 = time.perf_counter()
            x = photos.batch(cfg.batch, gen).to(device, non_blocking=True)
            if cfg.style_batches == "single" and num_styles > 1:
                sidx = batch_style(num_styles, cfg.batch, step, cfg.seed, turns).to(device)
            else:
                sidx = style_indices(num_styles, cfg.batch, gen).to(device)
            style = F.one_hot(sidx, num_styles).float()
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, precision):
                y = model(x, style)
                warm = step < cfg.identity_steps  # warm start: learn to reproduce the photo first
                if warm:
                    loss = F.mse_loss(y.float(), x)
                    terms = {"identity": loss}
                else:
                    loss, terms = loss_fn(y.float(), x, sidx, style_scale(step, cfg.identity_steps, cfg.style_ramp))
                if cfg.stability_weight > 0 and not warm:
                    noise = torch.randn(x.shape, generator=gen).to(device) * cfg.stability_noise
                    y_noisy = model((x + noise).clamp(0, 1), style)
                    s = cfg.stability_shift
                    dy, dx = (int(v) for v in torch.randint(-s, s + 1, (2,), generator=gen))
                    y_shift = model(torch.roll(x, (dy, dx), (2, 3)), style)
                    m = s + 8
                    target = torch.roll(y, (dy, dx), (2, 3))
                    stab = F.mse_loss(y_noisy.float(), y.float()) + F.mse_loss(
                        y_shift[..., m:-m, m:-m].float(), target[..., m:-m, m:-m].float()
                    )
                    terms["stability"] = cfg.stability_weight * stab
                    loss = loss + terms["stability"]
                if cfg.tile_weight > 0 and not warm:
                    terms["tile"] = cfg.tile_weight * tile_pattern(y.float())
                    loss = loss + terms["tile"]
                if cfg.seam_weight > 0 and not warm:
                    terms["seam"] = cfg.seam_weight * block_seams(y.float())
                    loss = loss + terms["seam"]
                if teacher is not None and not warm and cfg.teacher_weight > 0:  # at 0 the teacher's pass is skipped
                    target = teacher(x, style)
                    terms["teacher"] = cfg.teacher_weight * F.mse_loss(y.float(), target.float())
                    loss = loss + terms["teacher"]
            if not math.isfinite(loss.item()):
                raise RtstyleError(f"training diverged at step {step} (loss {loss.item()}); try a lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if horizon is not None:
                left = max(0.0, 1.0 - (time.perf_counter() - loop_start) / horizon)
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * group.get("lr_scale", 1.0) * left
            opt.step()
            step += 1
            elapsed += time.perf_counter() - t0
            window_n += cfg.batch
            last = {k: float(v.detach()) for k, v in terms.items()}
            last["total"] = loss.item()
            if step % cfg.log_every == 0 or step == cfg.steps:
                ips = window_n / max(time.perf_counter() - window_t, 1e-9)
                history.append({"step": step, **{k: round(v, 4) for k, v in last.items()}, "img_s": round(ips, 2)})
                window_t, window_n = time.perf_counter(), 0
                if on_log:
                    on_log(step, last, ips)
                if progress is not None:
                    text = " ".join(f"{k} {v:.3g}" for k, v in last.items())
                    progress.update(task, completed=step, losses=text, ips=ips)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                checkpoint(last)
            if is_main and cfg.preview_every and step % cfg.preview_every == 0:
                _preview(net, fixed, num_styles, out_dir / f"preview_{step:06d}.jpg")
            validated = best is not None and (step % cfg.val_every == 0 or step == cfg.steps)
            if validated:
                val = validate()
                if val < best["val"]:  # type: ignore[index]
                    best = {"val": val, "step": step, "state": snapshot()}
            while marks and time.perf_counter() - loop_start >= marks[0] * 60.0:
                save_mark(marks.pop(0))
            wrote = None
            if preview_path is not None and time.perf_counter() - last_preview >= cfg.preview_seconds:
                _write_preview(net, fixed, style_imgs, num_styles, preview_path)
                last_preview, wrote = time.perf_counter(), preview_path
            if on_step is not None:
                on_step(
                    TrainStatus(
                        step,
                        cfg.steps,
                        time.perf_counter() - loop_start,
                        budget,
                        last,
                        val,
                        best["val"] if best else None,
                        best["step"] if best else None,
                        wrote,
                    )
                )
    except KeyboardInterrupt:
        if not cfg.keep_best_on_interrupt:
            raise
        stopped_by, interrupted = "interrupt", True  # the state of an interrupted step is not trusted: the best is
    finally:
        if progress is not None:
            progress.stop()
    if stopped_by == "minutes":  # the marks at the budget itself
        for minute in [m for m in marks if cfg.max_minutes is not None and m <= cfg.max_minutes]:
            save_mark(minute)
    if best is not None:
        if not interrupted and best["step"] != step:  # the last state, unless just measured
            val = validate()
            if val < best["val"]:
                best = {"val": val, "step": step, "state": snapshot()}
        net.load_state_dict(best["state"])
        run_info.update({"best_step": best["step"], "val_loss": round(best["val"], 6)})
    run_info.update({"stopped_by": stopped_by, "trained_values": trained_values})
    if first_val is not None:
        run_info["first_val_loss"] = round(first_val, 6)
    if preview_path is not None:
        _write_preview(net, fixed, style_imgs, num_styles, preview_path)
    checkpoint(last)
    onnx_path = card_path = None
    if is_main:
        _preview(net, fixed, num_styles, out_dir / "preview_final.jpg")
    if is_main and cfg.export:
        onnx_path, card_path = export_run(ckpt_path, cfg, styles, arch.tier, len(photos), len(photos.skipped))
    if distributed:
        dist.barrier()
    ips = sum(h["img_s"] for h in history[-10:]) / max(1, len(history[-10:])) if history else 0.0
    return TrainResult(
        ckpt_path,
        onnx_path,
        card_path,
        step,
        elapsed,
        last,
        ips,
        best_step=best["step"] if best else None,
        best_val=best["val"] if best else None,
        first_val=first_val,
        interrupted=interrupted,
        stopped_by=stopped_by,
    )


def margin_line(net: torch.nn.Module) -> list[str]:
    """The model card's line on the margin of mirrored edges the file runs each frame in (none without one)."""
    lead, trail = getattr(net, "export_margin", (0, 0))
    if not (lead or trail):
        return []
    sides = (
        f"{lead} px on every side"
        if lead == trail
        else f"{lead} px at the top and left, {trail} at the bottom and right"
    )
    return [
        f"- runs each frame inside a margin of its own edges mirrored, cropped off: {sides} "
        f"({getattr(net, 'margin', lead)} px in training)"
    ]


def export_run(
    ckpt_path: Path, cfg: TrainConfig, styles: list[StyleEntry], tier: str, n_images: int, n_skipped: int | None
) -> tuple[Path, Path]:
    """Export the checkpoint into the model directory and write its model card beside it."""
    ckpt = load_checkpoint(ckpt_path)
    recipe = checkpoint_recipe(ckpt)
    if cfg.export_dir:
        model_dir = Path(cfg.export_dir)
    else:
        model_dir = Path(user_models_dir())
    net = net_from_checkpoint(ckpt)
    onnx_path = export_onnx(net, model_dir / f"{cfg.name}.onnx", styles, cfg.arch, tier, recipe, cfg.size)
    card = model_dir / f"{cfg.name}.md"
    lines = [
        f"# {cfg.name}",
        "",
        f"Trained by `{cfg.made_by}` ({cfg.arch}, tier {tier}) on {recipe['device']}.",
        "",
        "| style | display name | licence of the style image |",
        "|---|---|---|",
        *[f"| {s.name} | {s.display_name} | {s.license} |" for s in styles],
        "",
        f"- steps: {ckpt['step']} at batch {cfg.batch}, {cfg.size} px crops; style image at {cfg.style_size} px",
        f"- training time: {ckpt['elapsed'] / 60:.1f} min",
        f"- file: {onnx_path.name}, {onnx_path.stat().st_size / 1e6:.1f} MB; convolution kernels stored in float16, "
        "computed in fp32",
        *margin_line(net),
        f"- data: {n_images} photos from {', '.join(f'`{Path(d).name}`' for d in cfg.data)}"
        + (f" ({n_skipped} unreadable skipped)" if n_skipped is not None else ""),
        *[f"  - `{k}`: {v} photos" for k, v in sorted(ckpt.get("data_subsets", {}).items())],
        *([f"- {ckpt['init']}"] if ckpt.get("init") else []),
        *(
            [f"- trained: {recipe['train_only']} ({recipe.get('trained_values', '?')} values), lr {recipe['lr']}"]
            if recipe.get("train_only", "all") != "all"
            else []
        ),
        *(
            [
                f"- exported: the best state on the fixed validation photos, step {recipe['best_step']} "
                f"(loss {recipe.get('first_val_loss')} at the start, {recipe['val_loss']} there); "
                f"stopped by {recipe.get('stopped_by', 'steps')}"
            ]
            if "best_step" in recipe
            else []
        ),
        *[f"- {note}" for note in cfg.card_notes],
        f"- final losses: {json.dumps(recipe['final_losses'])}",
        *[
            f"- phase: steps {p['from_step']}-{p['to_step']} with "
            + ", ".join(f"{k} {p[k]}" for k in PHASE_KEYS if k in p)
            + " (the recipe below is the last phase)"
            for p in recipe.get("phases", [])
        ],
        "",
        "## Recipe",
        "",
        "```json",
        json.dumps(recipe, indent=2, sort_keys=True),
        "```",
        "",
    ]
    card.write_text("\n".join(lines))
    return onnx_path, card
