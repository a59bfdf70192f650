"""Residual networks with torchvision's module names, so its checkpoints load unchanged.

Parameter names match `torchvision.models.resnet*` (`conv1`, `bn1`, `layer1`..`layer4`, and in
each block `conv1`, `bn1`, `conv2`, `bn2`, `downsample.0`, `downsample.1`), which lets a
torchvision state dict without its `fc.*` entries load with `strict=True`. A new depth is a
subclass naming its block and the number of blocks per layer.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from taskkit.backbone import Backbone, is_small_input, kaiming_init


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut: out = relu(F(x) + x), as in ResNet-18 and -34."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(in_channels, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a shortcut, as in ResNet-50 and deeper.

    The stride sits on the 3x3 convolution (torchvision's "ResNet v1.5"), which is slightly
    more accurate than striding the first 1x1 and is what torchvision's weights expect.
    """

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = conv1x1(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def make_layer(block: type[nn.Module], in_channels: int, width: int, blocks: int,
               stride: int) -> nn.Sequential:
    """One stage: `blocks` blocks, the first changing stride and width through a projection."""
    out_channels = width * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride),
                                   nn.BatchNorm2d(out_channels))
    layers = [block(in_channels, width, stride, downsample)]
    layers += [block(out_channels, width) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet(Backbone):
    """A residual network: a stem and four stages of residual blocks (He et al., 2016).

    Subclasses set `block` and `layers` (blocks per stage). Small-input rule: `small_input=None`
    means automatic, small when `img_size < 64`. Small images get a CIFAR-style stem (3x3
    convolution, stride 1, no max-pool): the ImageNet stem divides the size by 4 at once, which
    would leave a 32x32 image 1x1 by layer4 and discard most of its detail before the first
    residual block. From 64 pixels up the network is torchvision's ImageNet ResNet.
    """

    block: type[nn.Module]
    layers: tuple[int, int, int, int]
    min_img_size = 8

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None):
        super().__init__()
        small = is_small_input(img_size, small_input)
        self.small_input = small
        self._build_stem(in_channels, small)
        widths, channels = (64, 128, 256, 512), 64
        for index, (width, blocks) in enumerate(zip(widths, self.layers), start=1):
            layer = make_layer(self.block, channels, width, blocks, stride=1 if index == 1 else 2)
            setattr(self, f"layer{index}", layer)
            channels = width * self.block.expansion
        self.stage_names = ["stem", "layer1", "layer2", "layer3", "layer4"]
        self.out_channels = [64, *(w * self.block.expansion for w in widths)]
        stem_reduction = 1 if small else 4
        self.reductions = [stem_reduction, stem_reduction, *(stem_reduction * 2 ** i for i in (1, 2, 3))]
        kaiming_init(self)

    def _build_stem(self, in_channels: int, small: bool) -> None:
        """Register conv1/bn1/relu/maxpool at the top level, under torchvision's names.

        The stem stage is a Sequential over those same modules, kept out of the module tree
        (set through `__dict__`) so that its parameters are not listed a second time under
        `stem.*`, which would break loading torchvision state dicts strictly.
        """
        if small:
            self.conv1 = conv3x3(in_channels, 64)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.__dict__["stem"] = nn.Sequential(OrderedDict(
            conv1=self.conv1, bn1=self.bn1, relu=self.relu, maxpool=self.maxpool,
        ))

    def stages(self) -> list[nn.Module]:
        return [self.stem, self.layer1, self.layer2, self.layer3, self.layer4]


class ResNet18(ResNet):
    """ResNet-18: four stages of two basic blocks, 11.2M weights, for images 8 pixels and up.

    Takes torchvision's resnet18 weights as they are (less `fc`); for images under 64 pixels
    it switches to a CIFAR-style stem unless `small_input=False` (see `ResNet`).
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "resnet18"

    block = BasicBlock
    layers = (2, 2, 2, 2)
    min_img_size = 8


class ResNet34(ResNet):
    """ResNet-34 (He et al., 2016): basic blocks 3-4-6-3, 21.3M weights, the deepest plain-block ResNet.

    Twice ResNet-18's depth at the same widths: the paper's evidence that shortcuts let a
    deeper stack of 3x3 convolutions train better rather than worse. Takes torchvision's
    resnet34 weights (less `fc`); the small-input rule is `ResNet`'s.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "resnet34"

    block = BasicBlock
    layers = (3, 4, 6, 3)
    min_img_size = 8


class ResNet50(ResNet):
    """ResNet-50 (He et al., 2016): bottleneck blocks 3-4-6-3, 23.5M weights, 2048-channel output.

    Bottlenecks (1x1 reduce, 3x3, 1x1 expand) make a 50-layer network cost about as much as
    ResNet-34 while reaching much higher accuracy; the stride sits on the 3x3 convolution as in
    torchvision's v1.5. Takes torchvision's resnet50 weights (less `fc`); the small-input rule
    is `ResNet`'s.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "resnet50"

    block = Bottleneck
    layers = (3, 4, 6, 3)
    min_img_size = 8
