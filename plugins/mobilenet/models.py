"""MobileNet v1 and v2: networks built from depthwise separable convolutions.

A 3x3 depthwise convolution filters each channel on its own and a 1x1 pointwise convolution
mixes channels, costing about 8-9 times fewer multiply-adds than one full 3x3 convolution for
nearly the same accuracy. Both versions keep their layers in one `features` sequence, as
torchvision does for v2 (`features.0` ... `features.18`, each inverted residual with its
`.conv`), so torchvision's `mobilenet_v2` state dict without `classifier.*` loads strictly.
Stages are views over runs of `features` that share one output resolution, kept out of the
module tree so that parameters are listed once, under their torchvision names.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from taskkit.backbone import Backbone, is_small_input
from taskkit.errors import ComponentOptionError

V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
"""MobileNet v1's thirteen separable blocks as (output channels, stride), after a 32-channel stem."""

V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
"""MobileNet v2's inverted residual groups as (expansion, output channels, repeats, first stride)."""


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of `divisor`, losing at most 10% of it.

    TensorFlow's rule, kept by torchvision: width multipliers then give the channel counts the
    published checkpoints were trained with, and at the usual multipliers (0.25 to 1.0) v1's
    channels are exactly the paper's alpha * M.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBNReLU(nn.Sequential):
    """Convolution, BatchNorm and ReLU6 as children 0, 1, 2 (torchvision's Conv2dNormActivation).

    ReLU6 caps activations at 6, which keeps them representable in low-precision arithmetic,
    the setting MobileNets were designed for.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2,
                      groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )


class DepthwiseSeparable(nn.Sequential):
    """MobileNet v1's block: 3x3 depthwise then 1x1 pointwise, each with BatchNorm and ReLU6."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(OrderedDict(
            depthwise=ConvBNReLU(in_channels, in_channels, 3, stride, groups=in_channels),
            pointwise=ConvBNReLU(in_channels, out_channels, 1),
        ))


class InvertedResidual(nn.Module):
    """MobileNet v2's block: 1x1 expansion, 3x3 depthwise, 1x1 linear projection, and a shortcut.

    The block is thin at its ends and wide in the middle, the reverse of a ResNet bottleneck:
    the shortcut joins the thin tensors, which saves memory, and the projection has no ReLU
    because a ReLU on a thin tensor destroys information that cannot be recovered. The shortcut
    exists only where stride is 1 and the channel count is unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = [ConvBNReLU(in_channels, hidden, 1)] if expand_ratio != 1 else []
        layers += [
            ConvBNReLU(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def _check_width(name: str, width: float) -> None:
    if not width > 0:
        raise ComponentOptionError(f"{name}: width must be a positive multiplier such as 0.5 or 1.0, "
                                   f"got {width!r}")


class MobileNet(Backbone):
    """Shared stage grouping and initialisation of the MobileNets; subclasses build `features`.

    Each stage runs from one stride-2 layer up to the next, so a stage's maps share one
    resolution; the reductions are 2, 4, 8, 16, 32 (1 to 16 in small mode).
    """

    min_img_size = 16

    def _group_stages(self, strides: list[int], widths: list[int], small: bool) -> None:
        """Cut `features` before each stride-2 layer after the first; record names and shapes."""
        starts = [0] + [i for i, stride in enumerate(strides) if stride == 2 and i > 0]
        ends = [*starts[1:], len(self.features)]
        self.__dict__["_stages"] = [self.features[a:b] for a, b in zip(starts, ends)]
        self.stage_names = ["stem", *(f"stage{i}" for i in range(1, len(starts)))]
        self.out_channels = [widths[end - 1] for end in ends]
        first = 1 if small else 2
        self.reductions = [first * 2 ** i for i in range(len(starts))]

    def _init_weights(self) -> None:
        """Kaiming-normal convolutions (fan-out) and unit BatchNorm, as torchvision's MobileNets."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def stages(self) -> list[nn.Module]:
        return list(self._stages)


class MobileNetV1(MobileNet):
    """MobileNet v1 (Howard et al., 2017): 13 depthwise separable blocks to 1024 channels, 4.2M weights.

    Every 3x3 convolution after the stem is depthwise, followed by a 1x1 pointwise one, and
    the network downsamples with stride-2 depthwise convolutions instead of pooling. `width`
    is the paper's multiplier alpha, scaling every layer's channels (rounded to multiples of
    8) for a smaller, faster network. With a 1000-class linear head it has the paper's 4.2M
    weights (4,231,976). Stages: stem (`features.0-1`, 64 channels), then one stage per
    resolution ending at 128, 256, 512 and 1024 channels.

    Small-input rule: below 64 pixels (or with `small_input=True`) the stem convolution uses
    stride 1, so a 28x28 digit keeps its resolution in the stem and reaches 2x2 rather than 1x1
    at the last stage; the weights are the same either way.
    """

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 width: float = 1.0):
        super().__init__()
        _check_width("mobilenet_v1", width)
        self.small_input = small = is_small_input(img_size, small_input)
        channels = make_divisible(32 * width)
        layers: list[nn.Module] = [ConvBNReLU(in_channels, channels, 3, 1 if small else 2)]
        strides, widths = [2], [channels]
        for out, stride in V1_BLOCKS:
            out = make_divisible(out * width)
            layers.append(DepthwiseSeparable(channels, out, stride))
            strides.append(stride)
            widths.append(out)
            channels = out
        self.features = nn.Sequential(*layers)
        self._group_stages(strides, widths, small)
        self._init_weights()


class MobileNetV2(MobileNet):
    """MobileNet v2 (Sandler et al., 2018): inverted residuals with linear bottlenecks, 3.5M weights.

    Seventeen inverted residual blocks (1x1 expansion by 6, 3x3 depthwise, 1x1 linear
    projection) between a 32-channel stem and a 1x1 convolution to 1280 channels, laid out
    and named as torchvision's `mobilenet_v2`, whose weights load as they are without
    `classifier.*`. That classifier (dropout 0.2, Linear) is the head's job: a `linear` head
    with `dropout=0.2` completes torchvision's network, 3,504,872 weights at 1000 classes.
    `width` is torchvision's `width_mult` (channels rounded to multiples of 8; the last layer
    never narrows below 1280). Stages: stem (`features.0-1`), `features.2-3`, `4-6`, `7-13`,
    and `14-18` ending at 1280 channels.

    Small-input rule: below 64 pixels (or with `small_input=True`) the stem convolution uses
    stride 1, so a 28x28 digit ends at 2x2 rather than 1x1; the weights are unchanged.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "mobilenet_v2"

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 width: float = 1.0):
        super().__init__()
        _check_width("mobilenet_v2", width)
        self.small_input = small = is_small_input(img_size, small_input)
        channels = make_divisible(32 * width)
        layers: list[nn.Module] = [ConvBNReLU(in_channels, channels, 3, 1 if small else 2)]
        strides, widths = [2], [channels]
        for expand_ratio, out, repeats, first_stride in V2_BLOCKS:
            out = make_divisible(out * width)
            for index in range(repeats):
                stride = first_stride if index == 0 else 1
                layers.append(InvertedResidual(channels, out, stride, expand_ratio))
                strides.append(stride)
                widths.append(out)
                channels = out
        last = make_divisible(1280 * max(1.0, width))
        layers.append(ConvBNReLU(channels, last, 1))
        strides.append(1)
        widths.append(last)
        self.features = nn.Sequential(*layers)
        self._group_stages(strides, widths, small)
        self._init_weights()
