"""Xception: Inception's cross-channel / spatial factorisation taken to the limit, with residuals.

Written from the paper (Chollet, 2017, figure 5): torchvision has no Xception, so names here
are our own. Every separable convolution is a depthwise 3x3 (one filter per channel) then a
pointwise 1x1, without bias and followed by BatchNorm, and every residual block but the
middle flow's has a strided 1x1 projection shortcut.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from taskkit.backbone import Backbone, is_small_input
from taskkit.errors import ComponentOptionError


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 convolution then pointwise 1x1 convolution, both without bias."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    """Separable convolutions (ReLU, SeparableConv, BN each) with a shortcut added at the end.

    `widths` lists each separable convolution's output channels. A strided block ends in a
    3x3 max-pool and its shortcut is a strided 1x1 convolution with BatchNorm, as is the
    shortcut of a block that changes width; otherwise the shortcut is the identity. The
    first block of the network starts without ReLU, straight after the stem's own.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], stride: int = 1, start_with_relu: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for index, width in enumerate(widths):
            if index or start_with_relu:
                layers.append(nn.ReLU(inplace=index > 0))
            layers += [SeparableConv2d(channels, width), nn.BatchNorm2d(width)]
            channels = width
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride=stride, padding=1))
        self.layers = nn.Sequential(*layers)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x) + self.shortcut(x)


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def separable_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [SeparableConv2d(in_channels, out_channels), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


class Xception(Backbone):
    """Xception (Chollet, 2017): 36 depthwise-separable convolutions in residual blocks, entry/middle/exit flows.

    Xception reads the Inception block as a step towards fully separating cross-channel and
    spatial correlations, and goes all the way: each convolution is a depthwise 3x3 then a
    pointwise 1x1, and residual shortcuts around every block make the 36-convolution stack
    train well. With as many weights as Inception v3 (22.9M with a 1000-class head) it is
    more accurate on ImageNet, through using them better rather than through size.

    Stages: stem (conv 32 stride 2, conv 64), entry1..entry3 (the entry flow's three strided
    blocks to 128, 256 and 728 channels), middle (`middle_blocks` residual blocks of three
    728-channel separable convolutions; the paper's 8 by default, fewer for a lighter
    model) and exit (a strided block to 1024, then separable convolutions to 1536 and 2048).
    The stem convolutions are padded (the paper's Keras model leaves them unpadded, 299 to
    147), which changes no weight and makes a 224 image give maps of exactly 112, 56, 28,
    14, 14 and 7 pixels.

    Small-input rule: images under 64 pixels (`small_input=None`), or any size with
    `small_input=True`, get a stride-1 first convolution and a stride-1 first entry block
    (the shortcut stays a 1x1 projection, without the max-pool), dividing the size by 8
    instead of 32: a 28x28 digit reaches the middle flow at 7x7 and the exit at 4x4.
    """

    min_img_size = 1

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 middle_blocks: int = 8):
        super().__init__()
        if isinstance(middle_blocks, bool) or not isinstance(middle_blocks, int) or middle_blocks < 0:
            raise ComponentOptionError(f"xception: middle_blocks must be an integer >= 0, got {middle_blocks!r}")
        small = is_small_input(img_size, small_input)
        self.small_input, self.middle_blocks = small, middle_blocks
        stride = 1 if small else 2
        self.stem = nn.Sequential(*conv_bn_relu(in_channels, 32, stride), *conv_bn_relu(32, 64))
        self.entry1 = XceptionBlock(64, (128, 128), stride, start_with_relu=False)
        self.entry2 = XceptionBlock(128, (256, 256), 2)
        self.entry3 = XceptionBlock(256, (728, 728), 2)
        self.middle = nn.Sequential(*(XceptionBlock(728, (728, 728, 728)) for _ in range(middle_blocks)))
        self.exit = nn.Sequential(XceptionBlock(728, (728, 1024), 2),
                                  *separable_bn_relu(1024, 1536), *separable_bn_relu(1536, 2048))
        self.stage_names = ["stem", "entry1", "entry2", "entry3", "middle", "exit"]
        self.out_channels = [64, 128, 256, 728, 728, 2048]
        self.reductions = [1, 1, 2, 4, 4, 8] if small else [2, 4, 8, 16, 16, 32]
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal convolutions and unit BatchNorm.

        Dense convolutions use fan-out, as in our ResNet. A depthwise filter's true fan-in and
        fan-out are both its 9 taps, which PyTorch's fan-out would count times the channels,
        so depthwise convolutions use fan-in.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                mode = "fan_in" if module.groups > 1 else "fan_out"
                nn.init.kaiming_normal_(module.weight, mode=mode, nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def stages(self) -> list[nn.Module]:
        return [self.stem, self.entry1, self.entry2, self.entry3, self.middle, self.exit]
