"""Training precision: fp32, or bf16 autocast where the hardware does bf16 natively.

bf16 autocast runs the convolutions (the network's and the VGG loss network's) in bfloat16; the Gram matrices,
instance-norm statistics and loss sums stay in float32 (see ``losses.gram`` and ``CondInstanceNorm``).
"""

from __future__ import annotations

import contextlib

import torch

from rtstyle.errors import RtstyleError

PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware (emulated bf16 on the CPU is slower than fp32)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(cpu, probe, None)
        if fn is not None and fn():
            return True
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` becomes ``bf16`` where the device does bf16 natively, else ``fp32``."""
    if precision not in PRECISIONS:
        raise RtstyleError(f"unknown precision {precision!r} (auto, fp32 or bf16)")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def describe_precision(precision: str, device: torch.device) -> str:
    """One line for the start of a run: the precision it trains at on ``device``, and why."""
    used = resolve_precision(precision, device)
    if precision != "auto":
        return f"{used} (as asked)" if used == "fp32" else f"{used} autocast (as asked)"
    if used == "bf16":
        return f"bf16 autocast (auto: this {device.type.upper()} does bf16 natively)"
    return f"fp32 (auto: this {device.type.upper()} has no native bf16: emulated bf16 runs slower)"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for a resolved precision (a no-op for fp32)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
