"""The architecture registry: every network is a named ``Arch`` (stored in checkpoints and ONNX metadata)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from rtstyle.errors import RtstyleError


@dataclass(frozen=True)
class Arch:
    name: str
    tier: str  # "full" or "fast"
    build: Callable[[int], nn.Module]  # num_styles -> module
    description: str


ARCHS: dict[str, Arch] = {}  # filled by the network modules (johnson.py, fast.py) when rtstyle.nets is imported


def register_arch(arch: Arch) -> None:
    ARCHS[arch.name] = arch


def get_arch(name: str) -> Arch:
    if name not in ARCHS:
        raise RtstyleError(f"unknown architecture {name!r} (known: {', '.join(sorted(ARCHS))})")
    return ARCHS[name]


def build_net(arch: str, num_styles: int = 1) -> nn.Module:
    """Build a fresh network of the named architecture for ``num_styles`` styles."""
    net = get_arch(arch).build(num_styles)
    net.arch_name = arch  # type: ignore[attr-defined]
    return net
