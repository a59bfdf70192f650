"""ShuffleNet v1 and v2: cheap units whose channel shuffle lets groups exchange information.

Grouped and split convolutions save computation but cut a network into independent strands;
shuffling the channels between units lets every group see every other. v2 keeps torchvision's
module names (`conv1`, `maxpool`, `stage2`..`stage4`, `conv5`, and in each unit `branch1`,
`branch2`), so torchvision's `shufflenet_v2_x*` state dicts without `fc.*` load strictly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor, nn

from taskkit.backbone import Backbone, is_small_input, kaiming_init
from taskkit.errors import ComponentOptionError

V1_CHANNELS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
               4: (272, 544, 1088), 8: (384, 768, 1536)}
"""ShuffleNet v1 (1x) output channels of stages 2-4 for each number of groups (the paper's Table 1)."""

V2_CHANNELS = {0.5: (24, 48, 96, 192, 1024), 1.0: (24, 116, 232, 464, 1024),
               1.5: (24, 176, 352, 704, 1024), 2.0: (24, 244, 488, 976, 2048)}
"""ShuffleNet v2 channels of conv1, stages 2-4 and conv5 for each width (torchvision's tables)."""

REPEATS = (4, 8, 4)
"""Units in stages 2, 3 and 4, the same in both versions."""


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of `groups` equal groups: [a1 a2 b1 b2] becomes [a1 b1 a2 b2]."""
    batch, channels, height, width = x.shape
    x = x.view(batch, groups, channels // groups, height, width).transpose(1, 2)
    return x.reshape(batch, channels, height, width)


def conv_bn(in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
            groups: int = 1, relu: bool = True) -> list[nn.Module]:
    """A bias-free convolution and BatchNorm, then ReLU unless `relu` is false."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2,
                        groups=groups, bias=False),
              nn.BatchNorm2d(out_channels)]
    return [*layers, nn.ReLU(inplace=True)] if relu else layers


class ShuffleV1Unit(nn.Module):
    """ShuffleNet v1's unit: group 1x1, shuffle, 3x3 depthwise, group 1x1, then add or concat.

    With stride 1 the branch is added to the input; with stride 2 it is concatenated with a
    3x3 average-pooled copy of the input, which widens the network at almost no cost. The
    bottleneck has a quarter of the output channels, and its depthwise convolution and second
    1x1 have no ReLU before the join, as in the paper. The very first unit's first 1x1 is not
    grouped (`group_first=False`): its 24 input channels are too few to split.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int,
                 group_first: bool = True):
        super().__init__()
        self.stride, self.groups = stride, groups
        mid = out_channels // 4
        branch_out = out_channels - in_channels if stride == 2 else out_channels
        self.compress = nn.Sequential(*conv_bn(in_channels, mid, groups=groups if group_first else 1))
        self.depthwise = nn.Sequential(*conv_bn(mid, mid, 3, stride, groups=mid, relu=False))
        self.expand = nn.Sequential(*conv_bn(mid, branch_out, groups=groups, relu=False))
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = channel_shuffle(self.compress(x), self.groups)
        out = self.expand(self.depthwise(out))
        if self.stride == 1:
            return self.relu(out + x)
        return self.relu(torch.cat((self.shortcut(x), out), dim=1))


class ShuffleV2Unit(nn.Module):
    """ShuffleNet v2's unit: split the channels, transform one half, concatenate, shuffle.

    Following the paper's guidelines for fast networks (equal input and output widths, no
    grouped 1x1 convolutions, few branches, no element-wise additions), a stride-1 unit passes
    half its channels through untouched and a stride-2 unit gives both halves a depthwise
    branch, doubling the width. Layout and names are torchvision's InvertedResidual.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        half = out_channels // 2
        if stride == 1 and in_channels != 2 * half:
            raise ValueError(f"a stride-1 unit keeps its width: got {in_channels} -> {out_channels}")
        self.stride = stride
        self.branch1 = nn.Sequential()
        if stride > 1:
            self.branch1 = nn.Sequential(
                *conv_bn(in_channels, in_channels, 3, stride, groups=in_channels, relu=False),
                *conv_bn(in_channels, half),
            )
        self.branch2 = nn.Sequential(
            *conv_bn(in_channels if stride > 1 else half, half),
            *conv_bn(half, half, 3, stride, groups=half, relu=False),
            *conv_bn(half, half),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            kept, x = x.chunk(2, dim=1)
        else:
            kept = self.branch1(x)
        return channel_shuffle(torch.cat((kept, self.branch2(x)), dim=1), 2)


class ShuffleNet(Backbone):
    """Shared stem of both ShuffleNets: 3x3 convolution to 24 channels, then a 3x3 max-pool.

    Small-input rule: below 64 pixels (or with `small_input=True`) the stem convolution has
    stride 1 and the max-pool is left out, so the stem keeps the full resolution and a 28x28
    digit reaches stage 4 at 4x4 instead of 1x1; the weights are the same either way.
    """

    min_img_size = 8

    def _build_stem(self, in_channels: int, small: bool) -> None:
        """Register `conv1` and `maxpool` under torchvision's names and a `stem` view over them.

        The view is kept out of the module tree (set through `__dict__`) so that its parameters
        are not listed a second time under `stem.*`.
        """
        self.conv1 = nn.Sequential(*conv_bn(in_channels, 24, 3, stride=1 if small else 2))
        self.maxpool = nn.Identity() if small else nn.MaxPool2d(3, stride=2, padding=1)
        self.__dict__["stem"] = nn.Sequential(OrderedDict(conv1=self.conv1, maxpool=self.maxpool))

    def _build_stages(self, unit: type[nn.Module], channels: tuple[int, ...],
                      options: Callable[[int, int], dict]) -> None:
        """Add `stage2`..`stage4`: a stride-2 unit, then stride-1 units of the same width.

        `options(stage, index)` gives the extra keyword arguments of each unit.
        """
        in_channels = 24
        for index, (out, repeats) in enumerate(zip(channels, REPEATS), start=2):
            units = [unit(in_channels, out, 2, **options(index, 0))]
            units += [unit(out, out, 1, **options(index, i)) for i in range(1, repeats)]
            setattr(self, f"stage{index}", nn.Sequential(*units))
            in_channels = out


class ShuffleNetV1(ShuffleNet):
    """ShuffleNet v1 (Zhang et al., 2017): group 1x1 convolutions with channel shuffle, 1.9M weights.

    Pointwise convolutions dominate the cost of thin networks, so ShuffleNet groups them and
    shuffles the channels between the two grouped layers of each unit so that information
    still crosses groups. `groups` (1, 2, 3, 4 or 8) picks the paper's 1x channel table; the
    default 3 gives stages of 240, 480 and 960 channels and, with a 1000-class linear head,
    1,865,728 weights. Stages: stem (conv1, max-pool), stage2, stage3, stage4.

    Small-input rule: below 64 pixels (or with `small_input=True`) conv1 has stride 1 and there
    is no max-pool, so a 28x28 digit ends at 4x4 instead of 1x1 (see `ShuffleNet`).
    """

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 groups: int = 3):
        super().__init__()
        if groups not in V1_CHANNELS:
            raise ComponentOptionError(
                f"shufflenet_v1: groups must be one of {', '.join(map(str, V1_CHANNELS))}, got {groups!r}")
        self.small_input = small = is_small_input(img_size, small_input)
        self._build_stem(in_channels, small)
        self._build_stages(ShuffleV1Unit, V1_CHANNELS[groups],
                           options=lambda stage, i: {"groups": groups, "group_first": (stage, i) != (2, 0)})
        self.stage_names = ["stem", "stage2", "stage3", "stage4"]
        self.out_channels = [24, *V1_CHANNELS[groups]]
        first = 1 if small else 4
        self.reductions = [first, first * 2, first * 4, first * 8]
        kaiming_init(self)

    def stages(self) -> list[nn.Module]:
        return [self.stem, self.stage2, self.stage3, self.stage4]


class ShuffleNetV2(ShuffleNet):
    """ShuffleNet v2 (Ma et al., 2018): channel split and shuffle, no grouped 1x1s, 2.3M weights.

    Designed by measured speed rather than FLOPs: units split their channels in two, transform
    one half with plain 1x1 and depthwise 3x3 convolutions, and concatenate and shuffle. Laid
    out and named as torchvision's `shufflenet_v2_x1_0` (its weights load without `fc.*`);
    `width` (0.5, 1.0, 1.5 or 2.0) picks torchvision's channel table, 2,278,604 weights at
    1.0 with a 1000-class linear head. Stages: stem (conv1, max-pool), stage2, stage3, stage4,
    and conv5, the 1x1 convolution to 1024 (2048 at width 2.0) channels. Initialised with
    PyTorch's defaults, as torchvision's.

    Small-input rule: below 64 pixels (or with `small_input=True`) conv1 has stride 1 and there
    is no max-pool, so a 28x28 digit ends at 4x4 instead of 1x1 (see `ShuffleNet`).
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "shufflenet_v2_x1_0"

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 width: float = 1.0):
        super().__init__()
        if width not in V2_CHANNELS:
            raise ComponentOptionError(
                f"shufflenet_v2: width must be one of {', '.join(map(str, V2_CHANNELS))}, got {width!r}")
        self.small_input = small = is_small_input(img_size, small_input)
        channels = V2_CHANNELS[width]
        self.published_weights = f"shufflenet_v2_x{width:.1f}".replace(".", "_")
        self._build_stem(in_channels, small)
        self._build_stages(ShuffleV2Unit, channels[1:4], options=lambda stage, i: {})
        self.conv5 = nn.Sequential(*conv_bn(channels[3], channels[4]))
        self.stage_names = ["stem", "stage2", "stage3", "stage4", "conv5"]
        self.out_channels = list(channels)
        first = 1 if small else 4
        self.reductions = [first, first * 2, first * 4, first * 8, first * 8]

    def stages(self) -> list[nn.Module]:
        return [self.stem, self.stage2, self.stage3, self.stage4, self.conv5]
