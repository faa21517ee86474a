"""Perceptual losses (Johnson et al. 2016) on an ImageNet VGG-16, plus total variation and stability terms."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rtstyle.errors import RtstyleError

# torchvision vgg16().features indices of the ReLU outputs we read.
LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
STYLE_LOSSES = ("absolute", "relative")
TORCHVISION_FILE = "vgg16-397923af.pth"
RANDOM_FOR_TESTS = "random-for-tests"  # the explicit, test-only way to get an untrained loss network
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def _features_module() -> nn.Sequential:
    from torchvision.models import vgg16

    return vgg16().features[:23]


def load_vgg(weights: str | Path | None = None, download: bool = False) -> VGGFeatures:
    """The loss network: ImageNet VGG-16 conv layers up to relu4_3, frozen.

    ``weights``: a state dict of ``vgg16().features[:23]`` (torchvision key names, with or without the
    ``features.`` prefix, any float dtype). Without it: torchvision's weight cache, or a download when
    ``download`` is set. ``"random-for-tests"`` gives untrained weights, for tests only.
    """
    features = _features_module()
    if weights == RANDOM_FOR_TESTS:
        torch.manual_seed(0)
        features = _features_module()
        return VGGFeatures(features, source=RANDOM_FOR_TESTS)
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise RtstyleError(f"VGG-16 weights not found: {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise RtstyleError(f"cannot read VGG-16 weights {path}: {str(exc).splitlines()[0]}") from None
        source = str(path)
    else:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
        if cached.is_file():
            state = torch.load(cached, map_location="cpu", weights_only=True)
            source = str(cached)
        elif download:
            from torchvision.models import VGG16_Weights

            state = VGG16_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
            source = "torchvision download (IMAGENET1K_V1)"
        else:
            raise RtstyleError(
                "VGG-16 ImageNet weights are needed for the loss: pass --vgg-weights PATH (a state dict of "
                f"torchvision vgg16().features[:23]), put {TORCHVISION_FILE} in {cached.parent}, or add --download-vgg"
            )
    state = {k.removeprefix("features."): v.float() for k, v in state.items() if not k.startswith("classifier")}
    missing, unexpected = features.load_state_dict(state, strict=False)
    if missing:
        raise RtstyleError(f"VGG-16 weights lack {len(missing)} tensors of features[:23] (e.g. {missing[0]})")
    return VGGFeatures(features, source=source)


class VGGFeatures(nn.Module):
    """Frozen VGG-16 features; input RGB in [0, 1], normalised inside."""

    def __init__(self, features: nn.Sequential, source: str) -> None:
        super().__init__()
        self.features = features.eval().requires_grad_(False)
        self.source = source
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.last = max(LAYERS.values())

    def forward(self, x: torch.Tensor, layers: tuple[str, ...] = tuple(LAYERS)) -> dict[str, torch.Tensor]:
        want = {LAYERS[n]: n for n in layers}
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in want:
                out[want[i]] = x
            if len(out) == len(want):
                break
        return out


def gram(f: torch.Tensor) -> torch.Tensor:
    """G = F Fᵀ / (C·H·W), in float32."""
    b, c, h, w = f.shape
    f = f.float().reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def gram_energy(vgg: VGGFeatures, image: torch.Tensor) -> float:
    """The scale of the absolute style loss for one painting (``[1, 3, h, w]`` RGB in [0, 1]): the sum over the
    style layers of the mean square of its Gram entries. A soft or dark painting has small Gram entries, so its
    Gram errors are small whatever the match, and it needs a larger style weight for the same pull."""
    with torch.no_grad():
        feats = vgg(image, STYLE_LAYERS)
    return float(sum((gram(f)[0] ** 2).mean() for f in feats.values()))


def total_variation(y: torch.Tensor) -> torch.Tensor:
    return (y[:, :, 1:, :] - y[:, :, :-1, :]).abs().mean() + (y[:, :, :, 1:] - y[:, :, :, :-1]).abs().mean()


def tile_pattern(y: torch.Tensor, period: int = 8) -> torch.Tensor:
    """The mean square of the pattern that ``y`` ``[B, C, H, W]`` repeats on every ``period`` x ``period`` tile
    (locked to its top-left corner), per image and channel, after the local mean over one period: the energy of
    the blockiness that strides and depth-to-space print (``rtstyle.evaluate.grid_pattern`` measures its amplitude
    on the channel mean). A photo's tiles average out to almost nothing, so as a loss it removes the pattern and
    little else. The image is cropped to whole tiles; it needs at least two in each direction."""
    h, w = (y.shape[-2] // period) * period, (y.shape[-1] // period) * period
    if h < 2 * period or w < 2 * period:
        raise ValueError(f"an image under {2 * period} px has too few {period}-px tiles")
    r = period // 2
    local = F.avg_pool2d(F.pad(y, (r, r, r, r), mode="reflect"), 2 * r + 1, stride=1)
    hp = (y - local)[..., :h, :w]
    tile = hp.reshape(*y.shape[:2], h // period, period, w // period, period).mean(dim=(2, 4))
    return ((tile - tile.mean(dim=(2, 3), keepdim=True)) ** 2).mean()


def _steps(y: torch.Tensor, period: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The squared steps between neighbouring pixels ``[B, C]``, averaged over the steps that cross a boundary
    of the ``period``-px blocks (locked to the top-left corner) and over those inside a block."""
    dx, dy = (y[..., :, 1:] - y[..., :, :-1]) ** 2, (y[..., 1:, :] - y[..., :-1, :]) ** 2
    ax = (torch.arange(dx.shape[-1], device=y.device) + 1) % period == 0
    ay = (torch.arange(dy.shape[-2], device=y.device) + 1) % period == 0
    across = torch.cat([dx[..., ax].flatten(2), dy[..., ay, :].flatten(2)], 2).mean(2)
    within = torch.cat([dx[..., ~ax].flatten(2), dy[..., ~ay, :].flatten(2)], 2).mean(2)
    return across, within


def block_seams(y: torch.Tensor, period: int = 4) -> torch.Tensor:
    """How much more the image steps across the boundaries of its ``period``-px blocks than inside them: the
    mean over images and channels of (across - inside), of the squared steps between neighbouring pixels,
    where positive. A photo steps alike everywhere (~0); a network that writes each block from one feature
    vector (a patch stem, depth-to-space) draws its blocks' edges. Only the steps across are pushed: the
    inside is the reference, not a target."""
    if y.shape[-1] < 2 * period or y.shape[-2] < 2 * period:
        raise ValueError(f"an image under {2 * period} px has no {period}-px block boundary inside it")
    across, within = _steps(y, period)
    return F.relu(across - within.detach()).mean()


def seam_ratio(y: torch.Tensor, period: int = 4) -> float:
    """``block_seams``' figure as a ratio on the channel mean: the mean squared step across the ``period``-px
    block boundaries over the one inside the blocks (1 for a photo; more where the blocks show)."""
    across, within = _steps(y.float().mean(-3, keepdim=True), period)
    return float(across.sum() / within.sum().clamp_min(1e-12))


class PerceptualLoss(nn.Module):
    """Content (at ``content_layer``), Gram style over the four style layers, and total variation.

    ``style_images``: one ``[1, 3, h, w]`` RGB tensor in [0, 1] per style; their Grams are precomputed.
    ``style_weight``: one weight for every style, or one per style (each painting has its own balance).
    ``style_loss``: ``absolute`` sums the mean squared Gram errors of the four layers (Johnson et al.; a layer with
    small Gram entries, relu4_3, weighs little); ``relative`` divides each layer's error by the painting's Gram
    norm and averages the layers, which is ``rtstyle eval``'s style distance of the crop (every layer counts alike).
    ``layer_weights``: one factor per style layer (relu1_2, relu2_2, relu3_3, relu4_3) on its term of either loss:
    the absolute loss with relu4_3 raised pulls the coarse structure the eval weighs most and keeps the fine layers'
    pull (for the fast tier the relative loss measured the better trade-off: docs/styles/README.md, session 33).
    """

    def __init__(
        self,
        vgg: VGGFeatures,
        style_images: list[torch.Tensor],
        content_layer: str = "relu2_2",
        content_weight: float = 1e5,
        style_weight: float | list[float] = 1e10,
        tv_weight: float = 0.0,
        style_loss: str = "absolute",
        layer_weights: tuple[float, ...] | list[float] = (1.0, 1.0, 1.0, 1.0),
    ) -> None:
        super().__init__()
        if len(layer_weights) != len(STYLE_LAYERS) or min(layer_weights) < 0:
            raise RtstyleError(f"{len(layer_weights)} style layer weights: one per style layer, none negative")
        if style_loss not in STYLE_LOSSES:
            raise RtstyleError(f"unknown style loss {style_loss!r} (choose from {', '.join(STYLE_LOSSES)})")
        if content_layer not in LAYERS:
            raise RtstyleError(f"unknown content layer {content_layer!r} (choose from {', '.join(LAYERS)})")
        self.vgg = vgg
        self.content_layer = content_layer
        self.cw, self.tw = content_weight, tv_weight
        weights = [float(style_weight)] * len(style_images) if isinstance(style_weight, (int, float)) else style_weight
        if len(weights) != len(style_images):
            raise RtstyleError(f"{len(weights)} style weights for {len(style_images)} style images")
        self.register_buffer("style_w", torch.tensor(weights, dtype=torch.float32))  # [S]
        with torch.no_grad():
            grams = [{n: gram(f)[0] for n, f in vgg(img, STYLE_LAYERS).items()} for img in style_images]
        for n in STYLE_LAYERS:  # [S, C, C] per layer
            self.register_buffer(f"gram_{n}", torch.stack([g[n] for g in grams]))
            # [S]: what a layer's mean squared error is divided by (1: absolute; the painting's mean square: relative)
            scale = (
                torch.stack([(g[n] ** 2).mean() for g in grams]) * len(STYLE_LAYERS)
                if style_loss == "relative"
                else torch.ones(len(grams))
            )
            self.register_buffer(f"style_norm_{n}", scale)
        self.layer_w = dict(zip(STYLE_LAYERS, (float(w) for w in layer_weights), strict=True))

    def target_grams(self, layer: str) -> torch.Tensor:
        return getattr(self, f"gram_{layer}")

    def forward(
        self, y: torch.Tensor, x: torch.Tensor, style_idx: torch.Tensor, style_scale: float = 1.0
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        layers = tuple(dict.fromkeys((*STYLE_LAYERS, self.content_layer)))
        fy = self.vgg(y, layers)
        with torch.no_grad():
            fx = self.vgg(x, (self.content_layer,))[self.content_layer]
        content = F.mse_loss(fy[self.content_layer].float(), fx.float())
        per_sample = sum(
            self.layer_w[n]
            * ((gram(fy[n]) - self.target_grams(n)[style_idx]) ** 2).mean(dim=(1, 2))
            / getattr(self, f"style_norm_{n}")[style_idx]
            for n in STYLE_LAYERS
            if self.layer_w[n]
        )  # [B]: each sample against its own style's Grams, weighted by that style's weight
        style = style_scale * (self.style_w[style_idx] * per_sample).mean()
        tv = total_variation(y.float())
        terms = {"content": self.cw * content, "style": style, "tv": self.tw * tv}
        return terms["content"] + terms["style"] + terms["tv"], terms
