"""Building blocks shared by every architecture: padded convolutions and conditional instance norm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class CondInstanceNorm(nn.Module):
    """Instance norm with per-style scale and shift (Dumoulin et al. 2017); one style is plain affine IN.

    ``style`` is a ``[B, S]`` weight matrix (one-hot selects a style, other weights blend). Statistics are
    computed in float32 even when the network runs in half precision (fp16 instance norm overflows).
    """

    def __init__(self, channels: int, num_styles: int = 1, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_styles, channels))
        self.bias = nn.Parameter(torch.zeros(num_styles, channels))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        y = F.instance_norm(x.float(), eps=self.eps).to(x.dtype)
        gamma = (style.to(self.weight.dtype) @ self.weight).to(x.dtype)[:, :, None, None]
        beta = (style.to(self.bias.dtype) @ self.bias).to(x.dtype)[:, :, None, None]
        return y * gamma + beta


class ConvNorm(nn.Module):
    """Reflection-padded convolution, optional nearest upsampling before it, norm and ReLU after it."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int = 1,
        num_styles: int = 1,
        upsample: int = 1,
        relu: bool = True,
        norm: bool = True,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.pad = kernel // 2
        self.conv = nn.Conv2d(cin, cout, kernel, stride, groups=groups)
        self.norm = CondInstanceNorm(cout, num_styles) if norm else None
        self.relu = relu

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, mode="reflect")
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x, style)
        return F.relu(x) if self.relu else x


class ResidualBlock(nn.Module):
    """Two 3x3 conv + norm layers with an identity shortcut (no ReLU after the sum, as in the refined Johnson net)."""

    def __init__(self, channels: int, num_styles: int = 1) -> None:
        super().__init__()
        self.a = ConvNorm(channels, channels, 3, num_styles=num_styles)
        self.b = ConvNorm(channels, channels, 3, num_styles=num_styles, relu=False)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x, style), style)


def run_stages(x: torch.Tensor, style: torch.Tensor, *stages: nn.ModuleList) -> torch.Tensor:
    """Apply every ``layer(x, style)`` of each stage in order (encoder, residual body, decoder)."""
    for stage in stages:
        for layer in stage:
            x = layer(x, style)
    return x


@dataclass(frozen=True)
class IOLayers:
    """The convolutions that touch the image, for :func:`fold_frame_format`.

    ``first`` must see the RGB input only through padding (reflect, replicate or zeros: no per-value
    operation), and ``last``'s output must be the network's output up to a depth-to-space of factor
    ``shuffle`` (1: none) and cropping: nothing non-linear, no skip connection from the input.
    ``features``, where given, runs the network up to ``last`` (``last``'s input from the network's input and
    style weights): the contract wrapper then applies a pointwise ``last`` and the depth-to-space itself.
    """

    first: nn.Conv2d
    last: nn.Conv2d
    shuffle: int = 1
    features: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None


@torch.no_grad()
def fold_frame_format(
    first: nn.Conv2d, last: nn.Conv2d, shuffle: int = 1, scale: float = 255.0, offset: float = 0.0
) -> None:
    """Make a network that works in RGB [0, 1] work in BGR [0, ``scale``] instead, in place.

    The colour swap and the scaling go into the weights of the first and the last convolution, so the
    exported graph needs no per-pixel flip, division or multiplication at full resolution. Exact up to
    float rounding: ``conv(W, x / s) = conv(W / s, x)`` and the channel order is a permutation. ``offset`` is
    added to every output value through the last bias (0.5 lets a truncating cast round: one full-resolution
    pass less).
    """
    first.weight.copy_(first.weight.flip(1) / scale)
    r2 = shuffle * shuffle
    if last.out_channels != 3 * r2:
        raise ValueError(f"the last convolution has {last.out_channels} channels, not 3 x {r2}")
    order = torch.arange(3 * r2).reshape(3, r2).flip(0).reshape(-1)  # colour c's block moves to 2 - c
    last.weight.copy_(last.weight[order] * scale)
    if last.bias is not None:
        last.bias.copy_(last.bias[order] * scale + offset)
    elif offset:
        raise ValueError("the last convolution has no bias to carry the offset")
