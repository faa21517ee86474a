"""Network definitions: every stylization architecture is a named, parameterised entry in ``ARCHS``.

The name is stored in every checkpoint and in the ONNX metadata (``rtstyle.arch``), so a new tier is a
new name here, not a fork of the trainer. All networks take RGB in [0, 1] as ``[B, 3, H, W]`` (H and W
multiples of the net's ``pad_multiple``, at least ``min_size``) plus a ``[B, S]`` style weight matrix,
and return RGB in about [0, 1].
"""

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


def _johnson(num_styles: int) -> nn.Module:
    from rtstyle.nets.johnson import JohnsonNet

    return JohnsonNet(num_styles)


def _tiny(num_styles: int) -> nn.Module:
    from rtstyle.nets.johnson import JohnsonNet

    return JohnsonNet(num_styles, channels=(8, 12, 16), blocks=1)


ARCHS: dict[str, Arch] = {
    "johnson": Arch("johnson", "full", _johnson, "Johnson et al. 2016, 32/64/128 channels, 5 residual blocks"),
    "tiny": Arch("tiny", "full", _tiny, "a very small Johnson-shaped net for tests (8/12/16 channels, 1 block)"),
    "tiny-fast": Arch("tiny-fast", "fast", _tiny, "the tiny test net labelled as the fast tier (tests only)"),
}


def register_arch(arch: Arch) -> None:
    ARCHS[arch.name] = arch


def _load_optional() -> None:
    try:  # the CPU fast tier lives in its own module
        import rtstyle.nets.fast  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "rtstyle.nets.fast":
            raise


def get_arch(name: str) -> Arch:
    _load_optional()
    if name not in ARCHS:
        raise RtstyleError(f"unknown architecture {name!r} (known: {', '.join(sorted(ARCHS))})")
    return ARCHS[name]


def build_net(arch: str, num_styles: int = 1) -> nn.Module:
    """Build a fresh network of the named architecture for ``num_styles`` styles."""
    net = get_arch(arch).build(num_styles)
    net.arch_name = arch  # type: ignore[attr-defined]
    return net
