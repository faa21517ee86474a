"""The CPU fast tier: small stylization networks that keep up with a webcam on two CPU cores.

Where the Johnson net spends ~35 GMAC at 640x360 (full-resolution 9x9 convolutions, 128-channel 3x3 residual
blocks at 1/4 resolution), these nets spend well under 1 GMAC. The shipped design, ``fast``:

- a 4x4 stride-4 patch convolution straight to 1/4 resolution, then a strided 3x3 convolution to 1/8 (32/64
  channels),
- depthwise-separable residual blocks (depthwise 3x3 + pointwise 1x1) at 1/8 resolution,
- sub-pixel upsampling (pointwise into 4x the channels, depth-to-space) back to 1/4: no transposed conv, no
  checkerboard,
- a 3x3 convolution at 1/4 resolution into 48 channels and a depth-to-space by 4, so no convolution runs at full
  resolution; zero padding throughout (cheaper than reflection in onnxruntime's blocked layout).

``fast-hq`` reaches 1/4 through two strided 3x3 convolutions, upsamples with nearest neighbour and ends with a
depth-to-space by 2 from 1/2 resolution, with reflection padding like the full tier. ``fast-guided`` runs
``fast-hq`` at half the input size and brings it back to full resolution with a fast guided filter guided by the
full-resolution frame (Wu et al. 2018), written in torch ops so it exports into the ONNX graph and the runtime stays
model-agnostic.

Every normalisation is a conditional instance norm, so multi-style files (the contract's ``style`` input) work as
in the full tier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rtstyle.nets.layers import CondInstanceNorm, IOLayers, run_stages
from rtstyle.nets.registry import Arch, register_arch


class FusedCondNorm(CondInstanceNorm):
    """``CondInstanceNorm`` (same parameters, same results) that, for a batch of one, hands the style's scale and
    shift to instance norm itself: the export (always batch 1) gets one InstanceNormalization node instead of
    InstanceNormalization + Mul + Add. Statistics stay in float32."""

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != 1:
            return super().forward(x, style)
        gamma = (style.to(self.weight.dtype) @ self.weight)[0]
        beta = (style.to(self.bias.dtype) @ self.bias)[0]
        return F.instance_norm(x.float(), weight=gamma.float(), bias=beta.float(), eps=self.eps).to(x.dtype)


def _pad(x: torch.Tensor, pad: int, mode: str) -> torch.Tensor:
    if pad == 0 or mode == "zeros":
        return x
    return F.pad(x, (pad,) * 4, mode=mode)


class Conv(nn.Module):
    """Padded convolution (reflect or zeros), optional nearest upsampling before it, CondInstanceNorm and ReLU after."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int = 3,
        stride: int = 1,
        num_styles: int = 1,
        upsample: int = 1,
        norm: bool = True,
        relu: bool = True,
        pad: str = "reflect",
    ) -> None:
        super().__init__()
        self.upsample, self.pad_mode, self.relu = upsample, pad, relu
        self.padding = 0 if kernel == stride else kernel // 2  # a patch conv (kernel == stride) needs none
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=self.padding if pad == "zeros" else 0)
        self.norm = FusedCondNorm(cout, num_styles) if norm else None

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        x = self.conv(_pad(x, self.padding, self.pad_mode))
        if self.norm is not None:
            x = self.norm(x, style)
        return F.relu(x) if self.relu else x


class SepConv(nn.Module):
    """Depthwise-separable convolution: depthwise 3x3 (no norm) then pointwise 1x1, CondInstanceNorm, ReLU.

    ``stride`` 2 halves the resolution in the depthwise conv (a separable downsampling layer).
    ``upsample`` 2 doubles the resolution: ``"nearest"`` upsamples before the depthwise conv (work at the new
    resolution); ``"shuffle"`` runs both convs at the old resolution into 4x the channels and rearranges them
    depth-to-space (sub-pixel convolution: a quarter of the work, no checkerboard since nothing overlaps).
    ``dilation`` 2 spreads the depthwise taps two pixels apart: the same work, twice the reach.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        num_styles: int = 1,
        upsample: int = 1,
        relu: bool = True,
        pad: str = "reflect",
        up_mode: str = "nearest",
        stride: int = 1,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        self.upsample, self.pad_mode, self.relu, self.up_mode = upsample, pad, relu, up_mode
        self.dilation = dilation
        shuffle = upsample > 1 and up_mode == "shuffle"
        self.dw = nn.Conv2d(
            cin, cin, 3, stride, groups=cin, padding=dilation if pad == "zeros" else 0, dilation=dilation
        )
        self.pw: nn.Module
        if upsample > 1 and up_mode == "transpose":
            # the sub-pixel layer's pointwise conv + depth-to-space as one transposed convolution of kernel =
            # stride (nothing overlaps, no checkerboard). Its bias is one per channel, which the norm after it
            # removes, so it has none; the shuffle's per-position bias is all it lacks.
            self.pw = nn.ConvTranspose2d(cin, cout, upsample, upsample, bias=False)
        else:
            self.pw = nn.Conv2d(cin, cout * upsample * upsample if shuffle else cout, 1)
        self.norm = FusedCondNorm(cout, num_styles)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        shuffle = self.upsample > 1 and self.up_mode == "shuffle"
        if self.upsample > 1 and self.up_mode == "nearest":
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        x = self.pw(self.dw(_pad(x, self.dilation, self.pad_mode)))
        if shuffle:
            x = F.pixel_shuffle(x, self.upsample)
        x = self.norm(x, style)
        return F.relu(x) if self.relu else x


class SepResidual(nn.Module):
    """Two depthwise-separable layers with an identity shortcut (no ReLU after the sum, as in the full tier);
    ``dilation`` for both depthwise convolutions."""

    def __init__(self, channels: int, num_styles: int = 1, pad: str = "reflect", dilation: int = 1) -> None:
        super().__init__()
        self.a = SepConv(channels, channels, num_styles, pad=pad, dilation=dilation)
        self.b = SepConv(channels, channels, num_styles, relu=False, pad=pad, dilation=dilation)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x, style), style)


class _ReflectDW(nn.Module):
    """Reflection-padded depthwise 3x3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))


def add_margin(x: torch.Tensor, margin: int, trail: int | None = None) -> torch.Tensor:
    """``x`` with ``margin`` pixels of its edges mirrored around it (reflection: repeated edges would meet the
    frame in a seam the net paints as an edge); ``trail``: another width at the bottom and right (default
    ``margin``). A side too short to mirror is first lengthened by repeating its last row or column, so any size
    works; the frame sits at ``[margin : margin + H, margin : margin + W]``."""
    trail = margin if trail is None else trail
    h, w, most = x.shape[2], x.shape[3], max(margin, trail)
    x = F.pad(x, (0, torch.sym_max(w, most + 1) - w, 0, torch.sym_max(h, most + 1) - h), mode="replicate")
    return F.pad(x, (margin, trail, margin, trail), mode="reflect")


def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window, windows clipped at the border (exports as one ONNX AveragePool)."""
    k = 2 * radius + 1
    return F.avg_pool2d(x, k, stride=1, padding=radius, count_include_pad=False)


def fast_guided_upsample(
    low: torch.Tensor, guide: torch.Tensor, scale: int, radius: int = 1, eps: float = 1e-2
) -> torch.Tensor:
    """Fast guided filter (Wu et al. 2018): fit ``low ~ A * g + b`` locally at low resolution, where ``g`` is the
    luminance of ``guide`` pooled down by ``scale``; then apply the bilinearly upsampled ``A``, ``b`` to the
    full-resolution luminance. Edges come from the frame, colour and texture from ``low``."""
    g = guide.mean(1, keepdim=True)
    g_low = F.avg_pool2d(g, scale)
    mean_g = box_filter(g_low, radius)
    mean_p = box_filter(low, radius)
    cov = box_filter(g_low * low, radius) - mean_g * mean_p
    var = box_filter(g_low * g_low, radius) - mean_g * mean_g
    a = cov / (var + eps)
    b = mean_p - a * mean_g
    ab = F.interpolate(torch.cat([a, b], 1), scale_factor=scale, mode="bilinear", align_corners=False)
    return ab[:, :3] * g + ab[:, 3:]


class FastNet(nn.Module):
    """A small encoder/decoder: RGB in [0, 1] ``[B, 3, H, W]`` (H, W multiples of ``pad_multiple``), ``[B, S]``
    style weights; RGB in about [0, 1] out.

    ``channels`` are the widths at 1/2, 1/4 and 1/8 of the working resolution; ``blocks`` depthwise-separable
    residual blocks run at 1/8, the last ``dilated`` of them with their depthwise taps 2 apart (the reach of the
    coarse VGG layers for the same work). ``stem`` ``"conv"`` reaches 1/4 by two strided 3x3 convs (c1, c2), ``"patch"`` by
    one 4x4 stride-4 conv (c2; c1 unused); ``down`` ``"conv"`` (dense 3x3) or ``"sep"`` (depthwise-separable)
    takes 1/4 to 1/8. The decoder goes back up to 1/``out_from`` (2 or 4) with
    depthwise-separable layers (``up`` ``"nearest"`` or ``"shuffle"``), then a 3x3 conv (``out`` ``"dense"``, or
    ``"sep"``: depthwise 3x3 + pointwise) into 3 * out_from^2 channels and depth-to-space gives full-resolution RGB. ``internal_scale`` > 1 runs all this on the frame
    average-pooled by that factor and upsamples the result with the fast guided filter (``guided``) or bilinearly.
    ``bridge`` (``out_from`` 4) adds the stem's 1/4-resolution features to the decoder's before the output conv,
    scaled per channel by the style's gains (zero at first: see :func:`grow_fast`). ``margin`` (a multiple of
    ``pad_multiple``) runs the net on the frame with that many pixels of its own edges mirrored around it and crops
    them off: what zero padding makes at the borders (a net trained on small crops learns to paint a frame of
    texture there) falls in the margin (:func:`add_margin`). ``export_margin`` (lead, trail): the margin the
    exported file runs the frame in, at the top and left and at the bottom and right (default ``margin`` on every
    side); training's ``margin`` keeps the padding close enough to be cheap, the export's keeps it far enough that
    the frame's edges come out as its middle does (``tools/studies/edge_band.py``).
    """

    def __init__(
        self,
        num_styles: int = 1,
        channels: tuple[int, int, int] = (16, 32, 64),
        blocks: int = 4,
        dilated: int = 0,
        internal_scale: int = 1,
        guided: bool = True,
        pad: str = "reflect",
        stem: str = "conv",
        up: str = "nearest",
        out_from: int = 2,
        out: str = "dense",
        skip: bool = False,
        down: str = "conv",
        bridge: bool = False,
        margin: int = 0,
        export_margin: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.num_styles = num_styles
        self.internal_scale = internal_scale
        self.guided = guided
        self.out_from = out_from
        self.pad_multiple = 8 * internal_scale
        if margin % self.pad_multiple:
            raise ValueError(f"margin {margin}: a multiple of {self.pad_multiple} keeps the blocks on the frame's grid")
        self.margin = margin
        self.export_margin = tuple(export_margin) if export_margin else (margin, margin)
        if self.export_margin[0] % self.pad_multiple or min(self.export_margin) < margin:
            raise ValueError(
                f"export margin {self.export_margin}: its lead a multiple of {self.pad_multiple} (the frame stays on "
                f"the grid it trained on), neither side under the training margin {margin}"
            )
        self.min_size = 16 * internal_scale  # 2x2 at 1/8 of the working size: instance norm needs > 1 pixel
        ns = num_styles
        if stem == "patch":
            # No norm here: a flat frame gives an exactly constant map, whose zero variance makes instance norm
            # amplify rounding noise (and runtimes differ in it); the next layer's norm sees real variance.
            stems = [Conv(3, c2, 4, stride=4, num_styles=ns, norm=False, pad="zeros")]
        else:
            stems = [
                Conv(3, c1, 3, stride=2, num_styles=ns, pad=pad),
                Conv(c1, c2, 3, stride=2, num_styles=ns, pad=pad),
            ]
        if down == "sep":  # depthwise 3x3 stride 2 + pointwise: ~1/8 of the dense conv's work
            last_down: nn.Module = SepConv(c2, c3, ns, pad=pad, stride=2)
        else:
            last_down = Conv(c2, c3, 3, stride=2, num_styles=ns, pad=pad)
        self.down = nn.ModuleList([*stems, last_down])
        if not 0 <= dilated <= blocks:
            raise ValueError(f"{dilated} dilated residual blocks of {blocks}")
        self.res = nn.ModuleList(
            [SepResidual(c3, ns, pad=pad, dilation=2 if i >= blocks - dilated else 1) for i in range(blocks)]
        )
        ups = [SepConv(c3, c2, ns, upsample=2, pad=pad, up_mode=up)]
        if out_from == 2:
            ups.append(SepConv(c2, c1, ns, upsample=2, pad=pad, up_mode=up))
        self.up = nn.ModuleList(ups)
        cl, co = c1 if out_from == 2 else c2, 3 * out_from * out_from
        if out == "sep":  # depthwise 3x3 + pointwise, no norm
            self.out = nn.Sequential(
                nn.Conv2d(cl, cl, 3, padding=1, groups=cl) if pad == "zeros" else _ReflectDW(cl), nn.Conv2d(cl, co, 1)
            )
        else:
            self.out = Conv(cl, co, 3, norm=False, relu=False, pad=pad)
        self.skip = nn.Conv2d(3, 3, 1) if skip else None  # a per-pixel colour map of the frame, added at the end
        self.bridge: nn.Parameter | None = None
        if bridge:
            if out_from != 4:
                raise ValueError("a bridge joins the encoder's and the decoder's 1/4 features: it needs out_from 4")
            # per style, a gain for each of the stem's channels added to the decoder's last features; zero at first,
            # so a net grown into a bridged design computes what it did before
            self.bridge = nn.Parameter(torch.zeros(num_styles, c2))

    def io_layers(self) -> IOLayers | None:
        """The convolutions that touch the image, or None where the frame's values are used elsewhere (the
        guided filter and the colour skip read the frame itself)."""
        if self.internal_scale > 1 or self.skip is not None:
            return None
        if isinstance(self.out, nn.Sequential):
            return IOLayers(self.down[0].conv, self.out[1], self.out_from, self.features)
        return IOLayers(self.down[0].conv, self.out.conv, self.out_from)

    def features(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The input of the last, pointwise convolution (``out`` ``"sep"`` only): the network without its 1x1
        output convolution and depth-to-space, which the contract wrapper does itself, straight into the uint8
        frame's layout (``rtstyle.export.ContractModule``, which adds and crops the ``margin`` itself: ``x`` here
        is the frame with its margin)."""
        if not isinstance(self.out, nn.Sequential):
            raise ValueError("features(): the output is a dense convolution, not a pointwise one")
        return self.out[0](self._body(x, style))

    def _body(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Encoder, residual blocks and decoder; with a bridge, the stem's 1/4-resolution features (the last
        layer before 1/8) come back into the decoder's, scaled per channel by the style's gains."""
        if self.bridge is None:
            return run_stages(x, style, self.down, self.res, self.up)
        stem = run_stages(x, style, self.down[:-1])
        y = run_stages(stem, style, self.down[-1:], self.res, self.up)
        gain = style.to(self.bridge.dtype) @ self.bridge
        return y + stem * gain.to(stem.dtype)[:, :, None, None]

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None, framed: bool = False) -> torch.Tensor:
        """``framed``: ``x`` already has the ``margin`` around it (the contract wrapper adds it and crops it)."""
        if style is None:
            style = x.new_ones(x.shape[0], self.num_styles) / self.num_styles
        m = self.margin
        if m and not framed:
            h, w = x.shape[2], x.shape[3]
            return self._frame(add_margin(x, m), style)[:, :, m : m + h, m : m + w]
        return self._frame(x, style)

    def _frame(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        frame = x
        if self.internal_scale > 1:
            x = F.avg_pool2d(x, self.internal_scale)
        x0 = x
        x = self._body(x, style)
        y = self.out(x) if isinstance(self.out, nn.Sequential) else self.out(x, style)
        y = F.pixel_shuffle(y, self.out_from)
        if self.skip is not None:
            y = y + self.skip(frame if self.internal_scale == 1 else x0)
        if self.internal_scale > 1:
            if self.guided:
                y = fast_guided_upsample(y, frame, self.internal_scale)
            else:
                y = F.interpolate(y, scale_factor=self.internal_scale, mode="bilinear", align_corners=False)
        return y


# fast with a separable 1/4 -> 1/8 layer, 3 residual blocks, a transposed 2x2 conv back to 1/4 (the sub-pixel
# layer without its per-position bias: 12.6 against 14.2 ms at 1280x720, docs/performance.md) and a separable
# output conv, whose pointwise half the contract wrapper runs straight into the frame's layout
_LEAN = {
    "channels": (16, 32, 64),
    "blocks": 3,
    "stem": "patch",
    "up": "transpose",
    "out_from": 4,
    "pad": "zeros",
    "down": "sep",
    "out": "sep",
}

# Designs measured by tools/studies/arch_speed.py; the registered ones are the entries of ``FAST_ARCHS``.
DESIGNS: dict[str, dict] = {
    "fast": {"channels": (16, 32, 64), "blocks": 4, "stem": "patch", "up": "shuffle", "out_from": 4, "pad": "zeros"},
    "fast-hq": {"channels": (16, 32, 64), "blocks": 4, "stem": "conv", "up": "nearest", "out_from": 2},
    "fast-guided": {"channels": (16, 32, 64), "blocks": 4, "internal_scale": 2, "guided": True},
    "fast-lean": _LEAN,
    # fast-lean at 16 channels at 1/4 and 48 at 1/8: the one design under both of issue 11's speed targets
    "fast-slim": {**_LEAN, "channels": (16, 16, 48)},
    # fast-lean with 5 residual blocks: ~1.2x its time per 720p frame (docs/performance.md, session 17)
    "fast-deep": {**_LEAN, "blocks": 5},
    # fast-lean with 48 channels at 1/4 (the output end, where each 4x4 block of pixels is made): ~1.2x its time
    "fast-broad": {**_LEAN, "channels": (16, 48, 64)},
    # fast-broad with a bridge: the stem's 1/4 features (from the frame's own 4x4 blocks) added into the
    # decoder's, gated per style, so each output block sees where the frame's edges fall inside it
    "fast-bridge": {**_LEAN, "channels": (16, 48, 64), "bridge": True},
    # fast-broad run on the frame with a 16-px margin of its mirrored edges (cropped off): the zero-padded nets trained
    # on 192-px crops paint a ~12-px frame of texture along every edge (session 20); ~1.10x the time at 720p. The
    # exported file runs it 40 px from the top and left, 24 from the bottom and right: at 16 the zoo's files still
    # painted 4-14 levels along each edge and up to 200 in the top-left corner (candy's disc), where the frame's grid
    # starts; at 40 / 24, 1.7-4 and under 10 (session 29, tools/studies/edge_band.py); at 720p 1.07x the pixels of
    # the 16-px margin
    "fast-margin": {**_LEAN, "channels": (16, 48, 64), "margin": 16, "export_margin": (40, 24)},
    # fast-margin with 5 residual blocks at 1/8 (session 33): the shipped styles' gap to the full tier is mostly at
    # relu3_3 and relu4_3 (~40 and ~100 px of the input), structure wider than the 3 blocks reach
    "fast-margin-deep": {**_LEAN, "channels": (16, 48, 64), "blocks": 5, "margin": 16, "export_margin": (40, 24)},
    # the same with the two added blocks' depthwise taps 2 apart: twice their reach for the same work
    "fast-reach": {
        **_LEAN,
        "channels": (16, 48, 64),
        "blocks": 5,
        "dilated": 2,
        "margin": 16,
        "export_margin": (40, 24),
    },
}

FAST_ARCHS = {
    "fast": "CPU fast tier: 4x4 patch stem, 32/64 channels, 4 depthwise-separable residual blocks at 1/8, "
    "sub-pixel upsampling, output by depth-to-space from 1/4 (~0.45 GMAC at 640x360)",
    "fast-hq": "fast tier with a strided 3x3 stem via 1/2, nearest upsampling back to 1/2 and reflection padding "
    "(same compute as fast, ~2-3x its time: more work at 1/2 resolution)",
    "fast-guided": "fast-hq at half the input size, upsampled by a fast guided filter on the full-resolution frame",
    "fast-lean": "the fast zoo's design: fast with a separable 1/4 -> 1/8 layer, 3 residual blocks, a 2x2 "
    "transposed-conv upsampling and a separable output conv (~0.5x fast's time at 1280x720 on 2 threads)",
    "fast-slim": "fast-lean at 16 channels at 1/4 and 48 at 1/8 (24k parameters; lost the pilot distillation to "
    "fast-lean by 1.30x in style distance)",
    "fast-broad": "fast-lean with 48 channels at 1/4 (52k parameters, ~1.2x its time); grows from a trained "
    "fast-lean (--init-from) without changing its output",
    "fast-bridge": "fast-broad with the stem's 1/4-resolution features bridged into the decoder's, gated per "
    "style (one multiply-add at 1/4, ~1.04x fast-broad's time); grows from a trained fast-lean or fast-broad "
    "without changing its output; 500 steps from the step-16,000 fast zoo matched fast-broad's",
    "fast-margin": "fast-broad run on the frame with a margin of its mirrored edges, cropped off, so that no frame "
    "of texture is painted along the borders: 16 px in training, 40 at the top and left and 24 at the bottom and "
    "right in the exported file (~14 % more pixels at 720p); grows from a trained fast-broad",
    "fast-margin-deep": "fast-margin with 5 residual blocks at 1/8 (70k parameters); grows from a trained "
    "fast-margin without changing its output",
    "fast-reach": "fast-margin-deep with the two added blocks' depthwise convolutions dilated by 2 (twice their "
    "reach at 1/8 for the same work); grows from a trained fast-margin without changing its output",
    "fast-deep": "fast-lean with 5 residual blocks at 1/8 (64k parameters, ~1.2x its time); grows from a trained "
    "fast-lean (--init-from) without changing its output",
}


def framed_design(arch: str) -> str | None:
    """The registered design that is ``arch`` run inside a margin of the frame's mirrored edges (``fast-broad`` ->
    ``fast-margin``): it grows from a trained ``arch`` and paints no frame along the borders. None when there is
    none (or ``arch`` has its margin already)."""
    cfg = DESIGNS.get(arch)
    if cfg is None or cfg.get("margin"):
        return None
    for name, other in DESIGNS.items():
        bare = {k: v for k, v in other.items() if k not in ("margin", "export_margin")}
        if name in FAST_ARCHS and other.get("margin") and bare == cfg:
            return name
    return None


@torch.no_grad()
def grow_fast(src: FastNet, dst: FastNet) -> FastNet:
    """Copy a trained ``src`` into ``dst``, a design with the same layout and at least its widths and residual
    blocks, so that ``dst`` computes exactly what ``src`` does (net2net-style growth, Chen et al. 2016):

    - every weight, bias and per-style norm row of ``src`` fills the leading slice of its counterpart;
    - a new channel keeps ``dst``'s random weights into it, and every weight from a new channel into an old one is
      zero, so the old channels never see it (their gradients through those zero weights are not zero: it learns);
    - a new residual block starts as the identity: its second norm's scale and shift are zero.

    Returns ``dst``; raises ``ValueError`` when ``dst`` cannot hold ``src`` (or either is not a ``FastNet``)."""
    if not isinstance(src, FastNet) or not isinstance(dst, FastNet):
        raise ValueError("cannot grow into this design: only a fast design grows into another")
    have, want = src.state_dict(), dst.state_dict()
    missing = [k for k in have if k not in want]
    small = [
        k
        for k, v in have.items()
        if k in want and (v.dim() != want[k].dim() or any(a > b for a, b in zip(v.shape, want[k].shape, strict=True)))
    ]
    if missing or small or src.num_styles != dst.num_styles or src.out_from != dst.out_from:
        raise ValueError(f"cannot grow into this design: {', '.join((missing + small)[:3]) or 'another layout'}")
    olds = dict(src.named_modules())
    for name, m in dst.named_modules():
        old = olds.get(name)
        if isinstance(m, nn.ConvTranspose2d | nn.Conv2d) and old is not None:
            w, w0 = m.weight, old.weight
            if isinstance(m, nn.ConvTranspose2d):  # [in, out, k, k]
                w[w0.shape[0] :, : w0.shape[1]] = 0
            elif m.groups == 1:  # [out, in, k, k]; a depthwise conv's channels only see themselves
                w[: w0.shape[0], w0.shape[1] :] = 0
            w[tuple(slice(0, n) for n in w0.shape)] = w0
            if m.bias is not None:
                m.bias[: old.bias.shape[0]] = old.bias
        elif isinstance(m, CondInstanceNorm) and old is not None:
            m.weight[:, : old.weight.shape[1]] = old.weight
            m.bias[:, : old.bias.shape[1]] = old.bias
        elif isinstance(m, SepResidual) and old is None:
            m.b.norm.weight.zero_()
            m.b.norm.bias.zero_()
    return dst


def build_fast(name: str, num_styles: int = 1, **overrides: object) -> FastNet:
    """Build a fast-tier design by name (``DESIGNS``), with keyword overrides for experiments."""
    return FastNet(num_styles, **{**DESIGNS[name], **overrides})


def _builder(name: str):  # noqa: ANN202 - a closure for Arch.build
    return lambda num_styles: build_fast(name, num_styles)


for _name, _desc in FAST_ARCHS.items():
    register_arch(Arch(_name, "fast", _builder(_name), _desc))


def count_macs(net: nn.Module, height: int, width: int) -> int:
    """Multiply-accumulates of every convolution in one forward pass on a ``height`` x ``width`` frame
    (padded as the contract wrapper pads it); norms, pads and element-wise ops are not counted."""
    m = int(getattr(net, "pad_multiple", 4))
    h, w = -(-height // m) * m, -(-width // m) * m
    total = 0

    def hook(mod: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
        total += out[0].numel() * k

    def hook_t(mod: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += inputs[0][0].numel() * mod.kernel_size[0] * mod.kernel_size[1] * mod.out_channels // mod.groups

    handles = [mod.register_forward_hook(hook) for mod in net.modules() if isinstance(mod, nn.Conv2d)]
    handles += [mod.register_forward_hook(hook_t) for mod in net.modules() if isinstance(mod, nn.ConvTranspose2d)]
    try:
        with torch.no_grad():
            net(torch.zeros(1, 3, h, w), torch.ones(1, int(getattr(net, "num_styles", 1))))
    finally:
        for handle in handles:
            handle.remove()
    return total
