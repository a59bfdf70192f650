"""Pieces the decoders share: convolution blocks, the upsampling step, and option checks.

The upsampling step is where the decoders differ most in what a course teaches:
interpolation (nearest, bilinear, bicubic) has no weights and only spreads values between
pixels, while a transposed convolution learns how to spread them. `Upsample` offers each
behind one call, `up(x, size)`, that always lands on exactly `size`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from taskkit.errors import ComponentOptionError

UPSAMPLE_MODES = ("nearest", "bilinear", "bicubic", "transposed")


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Convolution (no bias: BatchNorm has one), BatchNorm, ReLU; `same` padding."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
    )


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 convolution blocks, the unit of U-Net's decoder."""
    return nn.Sequential(conv_bn_relu(in_channels, out_channels), conv_bn_relu(out_channels, out_channels))


class Upsample(nn.Module):
    """Bring a map up to a given size by interpolation or by a learnt transposed convolution.

    `factor` is the expected ratio of sizes (from the backbone's reductions). A transposed
    convolution with kernel and stride `factor` (U-Net's "up-convolution") needs it at build
    time; it is told the exact output size on each call, so odd input sizes still fit. With
    `factor` 1 the transposed mode is a plain 1x1 convolution, and interpolation only fixes
    a size the strides rounded.
    """

    def __init__(self, mode: str, channels: int, factor: int, bilinear_init: bool = False):
        super().__init__()
        check_upsample(mode)
        self.mode, self.factor = mode, max(1, int(factor))
        self.deconv = None
        if mode == "transposed" and bilinear_init and self.factor > 1:
            self.deconv = bilinear_deconv(channels, self.factor)
        elif mode == "transposed":
            self.deconv = nn.ConvTranspose2d(channels, channels, self.factor, stride=self.factor)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        if self.deconv is not None:
            reachable = all(0 <= want - got < self.factor for want, got in zip(size, self._natural(x)))
            x = self.deconv(x, output_size=list(size)) if reachable else self.deconv(x)
            return x if tuple(x.shape[-2:]) == tuple(size) else F.interpolate(x, size=size, mode="bilinear")
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        if self.mode == "nearest":
            return F.interpolate(x, size=size, mode="nearest")
        return F.interpolate(x, size=size, mode=self.mode, align_corners=False)

    def _natural(self, x: Tensor) -> list[int]:
        """The transposed convolution's output size without extra padding; it can add up to
        `factor - 1` pixels more, and a backbone whose convolutions trim borders (LeNet's
        unpadded ones) may need a resize after it instead."""
        conv = self.deconv
        return [(n - 1) * conv.stride[0] - 2 * conv.padding[0] + conv.kernel_size[0] for n in x.shape[-2:]]

    def extra_repr(self) -> str:
        return f"mode={self.mode}, factor={self.factor}"


def bilinear_deconv(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A transposed convolution that starts as bilinear interpolation by `factor`, FCN's choice.

    Kernel 2f - f mod 2 with stride f and padding ceil((f - 1) / 2) gives exactly f times the
    input size; each channel's kernel is the outer product of a triangle, so training begins
    from plain interpolation and learns from there (Long et al., 2015).
    """
    kernel, padding = 2 * factor - factor % 2, factor // 2
    deconv = nn.ConvTranspose2d(channels, channels, kernel, stride=factor, padding=padding, bias=False)
    center = (kernel - 1) / 2 if kernel % 2 else factor - 0.5
    steps = torch.arange(kernel, dtype=torch.float32)
    tent = 1 - (steps - center).abs() / factor
    with torch.no_grad():
        deconv.weight.zero_()
        for c in range(channels):
            deconv.weight[c, c] = tent[:, None] * tent[None, :]
    return deconv


def check_upsample(mode: str) -> None:
    if mode not in UPSAMPLE_MODES:
        raise ComponentOptionError(f"--upsample must be one of {', '.join(UPSAMPLE_MODES)}, got '{mode}'")


def stage_lists(name: str, in_channels: int | Sequence[int], reductions: Sequence[int] | None,
                needed: int = 1) -> tuple[list[int], list[int]]:
    """A decoder's channels and reductions per stage, checked; they come from the backbone.

    A single channel count (what classification tasks pass) means the decoder was given
    to a task that has only the last map to offer, which is a mistake worth naming.
    """
    if isinstance(in_channels, int):
        raise ComponentOptionError(f"{name} is a segmentation decoder: it needs every stage's channels "
                                   f"(use it with `tk segment`)")
    channels = [int(c) for c in in_channels]
    reductions = [int(r) for r in reductions] if reductions is not None else [2 ** (i + 1) for i in range(len(channels))]
    if len(channels) < needed:
        raise ComponentOptionError(f"{name} needs at least {needed} feature map(s), the backbone gives {len(channels)}")
    if len(reductions) != len(channels):
        raise ComponentOptionError(f"{name}: {len(channels)} stage channels but {len(reductions)} reductions")
    return channels, reductions


def factor(finer: int, coarser: int) -> int:
    """The upsampling ratio between two stages' reductions (at least 1)."""
    return max(1, round(coarser / max(finer, 1)))
