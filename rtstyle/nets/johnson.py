"""The Johnson et al. (2016) transformation network as the field refined it.

Reflection padding, instance norm (conditional for several styles), residual blocks, and nearest-neighbour
upsampling followed by a convolution (no transposed convolution, so no checkerboard).
"""

from __future__ import annotations

import torch
from torch import nn

from rtstyle.nets.layers import ConvNorm, IOLayers, ResidualBlock, run_stages
from rtstyle.nets.registry import Arch, register_arch


class JohnsonNet(nn.Module):
    """Input: RGB in [0, 1], ``[B, 3, H, W]`` with H, W multiples of ``pad_multiple``. Output: RGB, ~[0, 1]."""

    pad_multiple = 4
    min_size = 16

    def __init__(self, num_styles: int = 1, channels: tuple[int, int, int] = (32, 64, 128), blocks: int = 5) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.num_styles = num_styles
        self.down = nn.ModuleList(
            [
                ConvNorm(3, c1, 9, num_styles=num_styles),
                ConvNorm(c1, c2, 3, stride=2, num_styles=num_styles),
                ConvNorm(c2, c3, 3, stride=2, num_styles=num_styles),
            ]
        )
        self.res = nn.ModuleList([ResidualBlock(c3, num_styles) for _ in range(blocks)])
        self.up = nn.ModuleList(
            [
                ConvNorm(c3, c2, 3, upsample=2, num_styles=num_styles),
                ConvNorm(c2, c1, 3, upsample=2, num_styles=num_styles),
            ]
        )
        self.out = ConvNorm(c1, 3, 9, relu=False, norm=False)

    def io_layers(self) -> IOLayers:
        """The first conv sees the frame through reflection padding; the last conv's output is the output."""
        return IOLayers(self.down[0].conv, self.out.conv)

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        if style is None:
            style = x.new_ones(x.shape[0], self.num_styles) / self.num_styles
        return self.out(run_stages(x, style, self.down, self.res, self.up), style)


def _johnson(num_styles: int) -> nn.Module:
    return JohnsonNet(num_styles)


def _tiny(num_styles: int) -> nn.Module:
    return JohnsonNet(num_styles, channels=(8, 12, 16), blocks=1)


register_arch(Arch("johnson", "full", _johnson, "Johnson et al. 2016, 32/64/128 channels, 5 residual blocks"))
register_arch(Arch("tiny", "full", _tiny, "a very small Johnson-shaped net for tests (8/12/16 channels, 1 block)"))
register_arch(Arch("tiny-fast", "fast", _tiny, "the tiny test net labelled as the fast tier (tests only)"))
