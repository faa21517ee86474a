"""Model contract v1: the one description of what every rtstyle ONNX file looks like.

The runtime relies on this alone; the exporter fills it. Nothing here imports torch or onnx.

Inputs
  ``frame``  uint8 ``[1, H, W, 3]`` BGR, any H, W >= 1 (the graph pads and crops itself).
  ``style``  optional float32 ``[S]`` mixing weights over the S styles a multi-style file holds
             (one-hot selects a style; other weights blend). Present only when S > 1.
Output
  ``stylized`` uint8 ``[1, H, W, 3]`` BGR, the input's size. (ONNX forbids an output that shares the
             input's name, so the output frame is called ``stylized``.)
Metadata (``metadata_props``)
  ``rtstyle.contract`` = ``1``; ``rtstyle.styles`` = JSON list of ``{name, display_name, license}``;
  ``rtstyle.arch``; ``rtstyle.tier`` (``full``/``fast``); ``rtstyle.recipe`` (JSON object);
  ``rtstyle.precision`` (``fp32``/``fp16``); ``rtstyle.working_size`` (long side it was trained for).
Weights
  How the graph stores its constants is the exporter's business: rtstyle's fp32 files keep their
  convolution kernels in float16 behind a ``Cast`` (half the bytes; onnxruntime folds it at load), and the
  arithmetic is what ``rtstyle.precision`` says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rtstyle.errors import ContractError
from rtstyle.text import MAX_NAME, clean_text

CONTRACT_VERSION = "1"
INPUT_FRAME = "frame"
INPUT_STYLE = "style"
OUTPUT_FRAME = "stylized"
TIERS = ("full", "fast")
PRECISIONS = ("fp32", "fp16")

KEY_CONTRACT = "rtstyle.contract"
KEY_STYLES = "rtstyle.styles"
KEY_ARCH = "rtstyle.arch"
KEY_TIER = "rtstyle.tier"
KEY_RECIPE = "rtstyle.recipe"
KEY_PRECISION = "rtstyle.precision"
KEY_WORKING_SIZE = "rtstyle.working_size"
REQUIRED_KEYS = (KEY_CONTRACT, KEY_STYLES, KEY_ARCH, KEY_TIER, KEY_RECIPE, KEY_PRECISION, KEY_WORKING_SIZE)
MAX_STYLES = 256  # styles read from one model file (more: the file is refused)
MAX_META_CHARS = 1_000_000  # the styles list and the recipe, each


@dataclass(frozen=True)
class StyleEntry:
    """One style held by a model file."""

    name: str
    display_name: str
    license: str = "unknown"

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "display_name": self.display_name, "license": self.license}


@dataclass(frozen=True)
class TensorSpec:
    """What the contract needs to know of a graph input or output."""

    name: str
    dtype: str  # numpy-style name: "uint8", "float32", "float16"
    shape: tuple[int | str | None, ...]


@dataclass(frozen=True)
class ModelInfo:
    """A validated contract-v1 model description."""

    styles: tuple[StyleEntry, ...]
    arch: str
    tier: str
    precision: str
    working_size: int
    recipe: dict[str, Any] = field(default_factory=dict)
    has_style_input: bool = False

    @property
    def num_styles(self) -> int:
        return len(self.styles)

    @property
    def style_names(self) -> list[str]:
        return [s.name for s in self.styles]


def build_metadata(
    styles: Sequence[StyleEntry],
    arch: str,
    tier: str,
    recipe: Mapping[str, Any],
    precision: str,
    working_size: int,
) -> dict[str, str]:
    """The ``metadata_props`` an exporter writes; validated before it is returned."""
    meta = {
        KEY_CONTRACT: CONTRACT_VERSION,
        KEY_STYLES: json.dumps([s.to_json() for s in styles]),
        KEY_ARCH: arch,
        KEY_TIER: tier,
        KEY_RECIPE: json.dumps(dict(recipe), sort_keys=True),
        KEY_PRECISION: precision,
        KEY_WORKING_SIZE: str(int(working_size)),
    }
    parse_metadata(meta)
    return meta


def parse_metadata(meta: Mapping[str, str]) -> ModelInfo:
    """Check the ``rtstyle.*`` metadata and return it typed (``has_style_input`` left False)."""
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ContractError(f"not an rtstyle model: metadata lacks {', '.join(missing)}")
    if meta[KEY_CONTRACT] != CONTRACT_VERSION:
        raise ContractError(
            f"model contract version {clean_text(meta[KEY_CONTRACT], MAX_NAME)!r} is not supported (this rtstyle reads {CONTRACT_VERSION})"
        )
    # Everything a model says about itself is untrusted text: control characters stripped, lengths capped.
    if len(meta[KEY_STYLES]) > MAX_META_CHARS or len(meta[KEY_RECIPE]) > MAX_META_CHARS:
        raise ContractError(f"metadata larger than {MAX_META_CHARS // 1000} kB: not read")
    try:
        raw_styles = json.loads(meta[KEY_STYLES])
        if not isinstance(raw_styles, list):
            raise TypeError("not a list")
        if len(raw_styles) > MAX_STYLES:
            raise ContractError(f"{KEY_STYLES} lists {len(raw_styles)} styles; at most {MAX_STYLES} are read")
        styles = tuple(
            StyleEntry(
                clean_text(s["name"], MAX_NAME),
                clean_text(s.get("display_name") or s["name"]),
                clean_text(s.get("license", "unknown")),
            )
            for s in raw_styles
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise ContractError(
            f"{KEY_STYLES} is not a JSON list of {{name, display_name, license}}: {clean_text(exc)}"
        ) from None
    if any(not s.name for s in styles):
        raise ContractError(f"{KEY_STYLES} has a style without a name")
    if not styles:
        raise ContractError(f"{KEY_STYLES} lists no style")
    names = [s.name for s in styles]
    if len(set(names)) != len(names):
        raise ContractError(f"{KEY_STYLES} repeats a style name: {names}")
    if meta[KEY_TIER] not in TIERS:
        raise ContractError(f"{KEY_TIER} must be one of {TIERS}, not {clean_text(meta[KEY_TIER], MAX_NAME)!r}")
    if meta[KEY_PRECISION] not in PRECISIONS:
        raise ContractError(
            f"{KEY_PRECISION} must be one of {PRECISIONS}, not {clean_text(meta[KEY_PRECISION], MAX_NAME)!r}"
        )
    try:
        working_size = int(meta[KEY_WORKING_SIZE])
        if working_size <= 0:
            raise ValueError
    except ValueError:
        raise ContractError(
            f"{KEY_WORKING_SIZE} must be a positive integer, not {clean_text(meta[KEY_WORKING_SIZE], MAX_NAME)!r}"
        ) from None
    try:
        recipe = json.loads(meta[KEY_RECIPE])
        if not isinstance(recipe, dict):
            raise ValueError
    except ValueError:
        raise ContractError(f"{KEY_RECIPE} must be a JSON object") from None
    arch = clean_text(meta[KEY_ARCH], MAX_NAME)
    if not arch:
        raise ContractError(f"{KEY_ARCH} is empty")
    return ModelInfo(styles, arch, meta[KEY_TIER], meta[KEY_PRECISION], working_size, recipe)


def _dim_ok(dim: int | str | None, expected: int | None) -> bool:
    """A fixed expected size must match; ``None`` means any (symbolic dims always pass)."""
    if expected is None or dim is None or isinstance(dim, str):
        return True
    return int(dim) == expected


def validate(inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], meta: Mapping[str, str]) -> ModelInfo:
    """Validate a model's signature and metadata against contract v1.

    ``inputs``/``outputs`` come from ``onnxruntime`` (``session.get_inputs()``) or from ``onnx``;
    ``engine.describe_session`` and ``export`` turn theirs into :class:`TensorSpec`.
    """
    info = parse_metadata(meta)
    by_name = {t.name: t for t in inputs}
    extra = sorted(set(by_name) - {INPUT_FRAME, INPUT_STYLE})
    if INPUT_FRAME not in by_name:
        raise ContractError(f"model has no input named {INPUT_FRAME!r} (inputs: {sorted(by_name)})")
    if extra:
        raise ContractError(f"model has inputs the contract does not know: {extra}")
    frame = by_name[INPUT_FRAME]
    if frame.dtype != "uint8":
        raise ContractError(f"input {INPUT_FRAME!r} must be uint8, not {frame.dtype}")
    if len(frame.shape) != 4 or not _dim_ok(frame.shape[0], 1) or not _dim_ok(frame.shape[3], 3):
        raise ContractError(f"input {INPUT_FRAME!r} must be [1, H, W, 3], not {list(frame.shape)}")
    for dim in frame.shape[1:3]:
        if isinstance(dim, int):
            raise ContractError(f"input {INPUT_FRAME!r} must accept any height and width, not {list(frame.shape)}")
    has_style = INPUT_STYLE in by_name
    if has_style:
        style = by_name[INPUT_STYLE]
        if style.dtype != "float32" or len(style.shape) != 1 or not _dim_ok(style.shape[0], info.num_styles):
            raise ContractError(
                f"input {INPUT_STYLE!r} must be float32 [{info.num_styles}], not {style.dtype} {list(style.shape)}"
            )
    elif info.num_styles > 1:
        raise ContractError(f"model lists {info.num_styles} styles but has no {INPUT_STYLE!r} input")
    outs = {t.name: t for t in outputs}
    if OUTPUT_FRAME not in outs or len(outs) != 1:
        raise ContractError(f"model must have exactly one output {OUTPUT_FRAME!r} (outputs: {sorted(outs)})")
    out = outs[OUTPUT_FRAME]
    if out.dtype != "uint8" or len(out.shape) != 4 or not _dim_ok(out.shape[3], 3):
        raise ContractError(f"output {OUTPUT_FRAME!r} must be uint8 [1, H, W, 3], not {out.dtype} {list(out.shape)}")
    return ModelInfo(
        info.styles, info.arch, info.tier, info.precision, info.working_size, info.recipe, has_style_input=has_style
    )


def style_weights(info: ModelInfo, selection: str | Mapping[str, float] | None) -> list[float]:
    """Turn a style name or a ``{name: weight}`` blend into the contract's normalised weight vector."""
    names = info.style_names
    if selection is None:
        selection = names[0]
    if isinstance(selection, str):
        selection = {selection: 1.0}
    unknown = [n for n in selection if n not in names]
    if unknown:
        raise ContractError(f"model has no style {unknown[0]!r} (it holds: {', '.join(names)})")
    total = sum(float(w) for w in selection.values())
    if total <= 0:
        raise ContractError("style blend weights must add up to more than zero")
    return [float(selection.get(n, 0.0)) / total for n in names]
