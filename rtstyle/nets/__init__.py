"""Network definitions: every stylization architecture is a named, parameterised entry in ``ARCHS``.

The name is stored in every checkpoint and in the ONNX metadata (``rtstyle.arch``), so a new tier is a
new name here, not a fork of the trainer. All networks take RGB in [0, 1] as ``[B, 3, H, W]`` (H and W
multiples of the net's ``pad_multiple``, at least ``min_size``) plus a ``[B, S]`` style weight matrix,
and return RGB in about [0, 1].
"""

from __future__ import annotations

from rtstyle.nets import fast, johnson  # noqa: F401 - each registers its architectures
from rtstyle.nets.registry import ARCHS, Arch, build_net, get_arch, register_arch

__all__ = ["ARCHS", "Arch", "build_net", "get_arch", "register_arch"]
