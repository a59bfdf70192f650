"""Segmentation decoders: heads that turn a backbone's feature maps into per-pixel logits.

Each is built with every usable stage's channels and reductions (stem first, as the backbone
lists them) and called as `decoder(maps, size)`, returning `[B, classes, H, W]` at exactly the
input's `size`. They differ in how they bring coarse maps back up, which is the point of
having all four:

- `fcn`: score the last map with a 1x1 convolution and upsample it; FCN-16s/8s add scores of
  earlier, finer maps on the way up (skip fusion).
- `unet`: upsample step by step, concatenating every stage's map (skip connections) and
  convolving after each step; `upsample` picks interpolation or transposed convolution.
- `segnet`: max-unpooling with the indices the encoder's max-pooling recorded, which puts
  each value back exactly where it came from, then convolutions mirroring the encoder.
- `psp`: pyramid pooling of the last map at 1, 2, 3 and 6 bins, concatenated with it, so each
  pixel sees its whole image and its quarters as well as its neighbourhood.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from taskkit.errors import ComponentOptionError
from taskkit.plugins.decoders.blocks import Upsample, conv_bn_relu, double_conv, factor, stage_lists


def _used(maps: Sequence[Tensor], count: int) -> list[Tensor]:
    return list(maps[:count])


class FCN(nn.Module):
    """FCN-8s (Long et al., 2015): 1x1 class scores on the last map, fused with two finer maps' scores.

    Scores of the deepest map are upsampled to the next map's size and added to that map's
    own scores, twice, then upsampled to the input. The skip scores start at zero, so training
    begins as FCN-32s and learns what the finer maps add. With `upsample transposed` each step
    is a learnt transposed convolution initialised to bilinear interpolation, as in the paper.
    """

    modality = "segmentation"
    skips = 2

    def __init__(self, in_channels: int | Sequence[int], num_outputs: int, reductions: Sequence[int] | None = None,
                 dropout: float = 0.0, upsample: str = "bilinear"):
        super().__init__()
        channels, reductions = stage_lists("fcn", in_channels, reductions)
        self.in_channels, self.num_outputs = channels, num_outputs
        self.fused = min(self.skips, len(channels) - 1) + 1  # maps scored, deepest first
        scored = list(reversed(range(len(channels))))[: self.fused]
        self.dropout = nn.Dropout2d(dropout)
        self.score = nn.ModuleList(nn.Conv2d(channels[i], num_outputs, 1) for i in scored)
        for layer in list(self.score)[1:]:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.steps = nn.ModuleList(
            Upsample(upsample, num_outputs, factor(reductions[fine], reductions[coarse]), bilinear_init=True)
            for coarse, fine in zip(scored, scored[1:]))
        self.final = Upsample(upsample, num_outputs, reductions[scored[-1]], bilinear_init=True)

    def forward(self, maps: Sequence[Tensor], size: tuple[int, int]) -> Tensor:
        maps = _used(maps, len(self.in_channels))
        scores = self.score[0](self.dropout(maps[-1]))
        for step, score, skip in zip(self.steps, list(self.score)[1:], reversed(maps[:-1])):
            scores = step(scores, tuple(skip.shape[-2:])) + score(skip)
        return self.final(scores, size)


class FCN16s(FCN):
    """FCN-16s (Long et al., 2015): the last map's class scores fused with one finer map's, then upsampled."""

    skips = 1


class FCN32s(FCN):
    """FCN-32s (Long et al., 2015): 1x1 class scores on the last map, upsampled straight to the input."""

    skips = 0


class UNet(nn.Module):
    """U-Net (Ronneberger et al., 2015): upsample stage by stage, concatenating every encoder map.

    Each step brings the decoder's map to the next finer stage's size, concatenates that
    stage's map (the skip connection that restores detail pooling lost) and applies two 3x3
    convolutions; a last step reaches the input size. `upsample` is nearest, bilinear or
    bicubic interpolation, or `transposed` (the paper's learnt 2x2 up-convolution). Decoder
    widths follow the skip's channels, capped at `max_width` so a wide backbone stays cheap.
    """

    modality = "segmentation"

    def __init__(self, in_channels: int | Sequence[int], num_outputs: int, reductions: Sequence[int] | None = None,
                 dropout: float = 0.0, upsample: str = "bilinear", max_width: int = 256):
        super().__init__()
        channels, reductions = stage_lists("unet", in_channels, reductions)
        self.in_channels, self.num_outputs = channels, num_outputs
        widths = [min(c, max_width) for c in channels]
        self.steps, self.blocks = nn.ModuleList(), nn.ModuleList()
        current = channels[-1]
        for i in reversed(range(len(channels) - 1)):
            self.steps.append(Upsample(upsample, current, factor(reductions[i], reductions[i + 1])))
            self.blocks.append(double_conv(current + channels[i], widths[i]))
            current = widths[i]
        last = max(16, widths[0] // 2)
        self.final_step = Upsample(upsample, current, reductions[0])
        self.final_block = double_conv(current, last)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(last, num_outputs, 1)

    def forward(self, maps: Sequence[Tensor], size: tuple[int, int]) -> Tensor:
        maps = _used(maps, len(self.in_channels))
        x = maps[-1]
        for step, block, skip in zip(self.steps, self.blocks, reversed(maps[:-1])):
            x = block(torch.cat([step(x, tuple(skip.shape[-2:])), skip], dim=1))
        x = self.final_block(self.final_step(x, size))
        return self.classifier(self.dropout(x))


class PSP(nn.Module):
    """PSPNet's pyramid pooling module (Zhao et al., 2017) on the last map, then upsampling.

    The last map is average-pooled to 1x1, 2x2, 3x3 and 6x6 bins; each is reduced by a 1x1
    convolution, upsampled back and concatenated with the map, so every pixel's features
    carry the whole image's context and its regions'. A 3x3 convolution fuses them and a 1x1
    one classifies. The pooled branches have no BatchNorm: a 1x1 bin over a batch of one
    would give it a single value. PSPNet runs on a dilated backbone at stride 8; on a plain
    one the last map is coarser, so a small-input backbone suits small images better.
    """

    modality = "segmentation"

    def __init__(self, in_channels: int | Sequence[int], num_outputs: int, reductions: Sequence[int] | None = None,
                 dropout: float = 0.1, upsample: str = "bilinear", bins: Sequence[int] = (1, 2, 3, 6)):
        super().__init__()
        channels, reductions = stage_lists("psp", in_channels, reductions)
        if not bins or any(int(b) < 1 for b in bins):
            raise ComponentOptionError(f"psp: bins must be positive integers, got {bins!r}")
        self.in_channels, self.num_outputs, self.bins = channels, num_outputs, tuple(int(b) for b in bins)
        width = channels[-1]
        branch = max(width // len(self.bins), 1)
        self.pyramid = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(width, branch, 1), nn.ReLU(inplace=True))
            for b in self.bins)
        fused = min(width, 512)
        self.fuse = conv_bn_relu(width + branch * len(self.bins), fused)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(fused, num_outputs, 1)
        self.final = Upsample(upsample, num_outputs, reductions[-1])

    def forward(self, maps: Sequence[Tensor], size: tuple[int, int]) -> Tensor:
        x = _used(maps, len(self.in_channels))[-1]
        here = tuple(x.shape[-2:])
        pooled = [F.interpolate(level(x), size=here, mode="bilinear", align_corners=False) for level in self.pyramid]
        scores = self.classifier(self.dropout(self.fuse(torch.cat([x, *pooled], dim=1))))
        return self.final(scores, size)


class SegNet(nn.Module):
    """SegNet's decoder (Badrinarayanan et al., 2017): max-unpooling with the encoder's indices.

    Each encoder block ended with a 2x2 max-pooling that recorded which pixel of each window
    won. The decoder undoes the blocks deepest first: `MaxUnpool2d` puts every value back at
    its recorded position (zeros elsewhere, so boundaries stay where the encoder saw them,
    with no weights spent on upsampling), then convolutions mirror the encoder block's
    (`depths`, the encoder's convolutions per block) and densify the sparse map. The last
    convolution gives the class scores. It needs a backbone whose maps carry pooling indices:
    `segnet_vgg16` or `segnet_small`.
    """

    modality = "segmentation"
    needs_pool_indices = True

    def __init__(self, in_channels: int | Sequence[int], num_outputs: int, reductions: Sequence[int] | None = None,
                 dropout: float = 0.0, depths: Sequence[int] | None = None):
        super().__init__()
        channels, _ = stage_lists("segnet", in_channels, reductions)
        depths = [2] * len(channels) if depths is None else [int(d) for d in depths][: len(channels)]
        if len(depths) != len(channels) or min(depths) < 1:
            raise ComponentOptionError(f"segnet: depths must give a positive count per stage, got {depths!r}")
        self.in_channels, self.num_outputs = channels, num_outputs
        self.unpool = nn.ModuleList(nn.MaxUnpool2d(2, stride=2) for _ in channels)
        self.blocks = nn.ModuleList()
        for i in reversed(range(len(channels))):
            layers = [conv_bn_relu(channels[i], channels[i]) for _ in range(depths[i] - 1)]
            if i > 0:
                layers.append(conv_bn_relu(channels[i], channels[i - 1]))
            else:
                layers += [nn.Dropout2d(dropout), nn.Conv2d(channels[0], num_outputs, 3, padding=1)]
            self.blocks.append(nn.Sequential(*layers))

    def forward(self, maps: Sequence[Tensor], size: tuple[int, int]) -> Tensor:
        indices, sizes = getattr(maps, "indices", None), getattr(maps, "sizes", None)
        if indices is None:
            raise ComponentOptionError("segnet needs a backbone that records its max-pooling indices "
                                       "(segnet_vgg16 or segnet_small)")
        count = len(self.in_channels)
        x = maps[count - 1]
        for block, i in zip(self.blocks, reversed(range(count))):
            x = block(self.unpool[i](x, indices[i], output_size=[int(v) for v in sizes[i]]))
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x
