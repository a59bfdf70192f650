"""VGG networks with torchvision's module names, so its checkpoints load unchanged.

Parameter names match `torchvision.models.vgg*` (`features.N` numbered as torchvision numbers
them, with or without BatchNorm, and `classifier.0`, `classifier.3`), which lets a torchvision
state dict without its last layer (`classifier.6`) load with `strict=True`. A new depth is a
subclass naming the widths of the convolutions in each of the five blocks.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from taskkit.backbone import Backbone, is_small_input

Blocks = tuple[tuple[int, ...], ...]


def make_features(in_channels: int, blocks: Blocks, batch_norm: bool,
                  small: bool) -> tuple[nn.Sequential, list[int]]:
    """Torchvision's `features` and the index just past the max-pool ending each block.

    In small mode the last block's max-pool is an `nn.Identity`, which keeps the numbering.
    """
    layers: list[nn.Module] = []
    ends = []
    for index, widths in enumerate(blocks):
        for width in widths:
            layers.append(nn.Conv2d(in_channels, width, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            in_channels = width
        last = index == len(blocks) - 1
        layers.append(nn.Identity() if small and last else nn.MaxPool2d(2, stride=2))
        ends.append(len(layers))
    return nn.Sequential(*layers), ends


def linear(in_features: int, out_features: int) -> nn.Linear:
    """A Linear layer with Kaiming-normal weights (fan-in, for ReLU) and zero bias.

    Torchvision draws these from N(0, 0.01), about the Kaiming scale for the 25,088 inputs of
    the first ImageNet layer but a sixth of it for the 512-unit small-input classifier, where
    it fades the signal: plain VGG-11 then learnt digits to 21% in 5 epochs, against 67%.
    """
    layer = nn.Linear(in_features, out_features)
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)
    return layer


def make_classifier(in_features: int, hidden: int, dropout: float) -> nn.Sequential:
    """Torchvision's `classifier` less its last Linear: two hidden ReLU layers with dropout."""
    return nn.Sequential(
        linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
        linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
    )


def dense_stage(avgpool: nn.Module, classifier: nn.Module, width: int) -> nn.Sequential:
    """Pool, flatten, run the hidden layers and give the features back as a `[B, width, 1, 1]` map."""
    return nn.Sequential(OrderedDict(
        avgpool=avgpool, flatten=nn.Flatten(), classifier=classifier,
        unflatten=nn.Unflatten(1, (width, 1, 1)),
    ))


def init_features(features: nn.Sequential) -> None:
    """Torchvision's init of the features: Kaiming-normal (fan-out) convolutions, unit BatchNorm."""
    for m in features:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class VGG(Backbone):
    """VGG (Simonyan & Zisserman, 2014): five blocks of 3x3 convolutions, a max-pool after each.

    Two stacked 3x3 convolutions see as far as one 5x5 (three as one 7x7) with fewer weights
    and more non-linearities, so depth alone, from one kernel size, carries the accuracy.
    Subclasses set `blocks` (the convolution widths of each block) and `batch_norm`.

    Stages: block1 (the stem) to block5, each ending with its max-pool, then fc (average pool
    to 7x7 and the two 4096-unit hidden layers), which gives a `[B, 4096, 1, 1]` map; a
    `linear` head completes the network.

    Small-input rule: images under 64 pixels (`small_input=None`), or any size with
    `small_input=True`, keep block5 at the resolution of block4 (its max-pool is left out),
    since five halvings would take a 28x28 digit to nothing; the classifier then pools to
    1x1 and its hidden layers shrink to 512 units, as in the usual CIFAR VGG, which cuts
    119M weights that a few pixels cannot use (VGG-11 keeps 9.7M, nearly all in its
    convolutions). The convolutions keep their shapes, so torchvision's `features` weights
    load in both modes.
    """

    blocks: Blocks
    batch_norm = False
    min_img_size = 16

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 dropout: float = 0.5):
        super().__init__()
        small = is_small_input(img_size, small_input)
        self.small_input = small
        hidden, pooled = (512, 1) if small else (4096, 7)
        width = self.blocks[-1][-1]
        self.features, ends = make_features(in_channels, self.blocks, self.batch_norm, small)
        self.avgpool = nn.AdaptiveAvgPool2d(pooled)
        self.classifier = make_classifier(width * pooled * pooled, hidden, dropout)
        self._stages = [self.features[start:end] for start, end in zip([0, *ends[:-1]], ends)]
        self._stages.append(dense_stage(self.avgpool, self.classifier, hidden))
        self.stage_names = [*(f"block{i}" for i in range(1, len(self.blocks) + 1)), "fc"]
        self.out_channels = [widths[-1] for widths in self.blocks] + [hidden]
        strides = [2 ** i for i in range(1, len(self.blocks) + 1)]
        if small:
            strides[-1] = strides[-2]
        self.reductions = [*strides, max(img_size, strides[-1])]
        init_features(self.features)

    def stages(self) -> list[nn.Module]:
        """Sequentials over slices of `features` and the classifier, held in a plain list so that
        they stay out of the module tree and torchvision's names are the only ones."""
        return list(self._stages)


VGG11_BLOCKS: Blocks = ((64,), (128,), (256, 256), (512, 512), (512, 512))
VGG13_BLOCKS: Blocks = ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512))
VGG16_BLOCKS: Blocks = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class VGG11(VGG):
    """VGG-11 (Simonyan & Zisserman, 2014): 3x3 convolutions only, 8 in five blocks, 129M weights.

    Configuration A, the shallowest in the paper. See `VGG` for the stages and the small-input
    rule.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "vgg11"

    blocks = VGG11_BLOCKS


class VGG13(VGG):
    """VGG-13 (Simonyan & Zisserman, 2014): 3x3 convolutions only, two in each block, 129M weights.

    Configuration B. See `VGG` for the stages and the small-input rule.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "vgg13"

    blocks = VGG13_BLOCKS


class VGG16(VGG):
    """VGG-16 (Simonyan & Zisserman, 2014): 3x3 convolutions only, 13 in five blocks, 134M weights.

    Configuration D: three convolutions in each of the last three blocks. See `VGG` for the
    stages and the small-input rule.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "vgg16"

    blocks = VGG16_BLOCKS


class VGG11BN(VGG):
    """VGG-11-BN (2014): VGG-11 with BatchNorm after each of its 8 convolutions, 129M weights.

    BatchNorm lets it train faster and from higher learning rates. Configuration A,
    torchvision's `vgg11_bn` layout. See `VGG` for the stages and the small-input rule.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "vgg11_bn"

    blocks = VGG11_BLOCKS
    batch_norm = True


class VGG13BN(VGG):
    """VGG-13-BN (2014): VGG-13 with BatchNorm after each of its 10 convolutions, 129M weights.

    BatchNorm lets it train faster and from higher learning rates. Configuration B,
    torchvision's `vgg13_bn` layout. See `VGG` for the stages and the small-input rule.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "vgg13_bn"

    blocks = VGG13_BLOCKS
    batch_norm = True


class VGG16BN(VGG):
    """VGG-16-BN (2014): VGG-16 with BatchNorm after each of its 13 convolutions, 134M weights.

    BatchNorm lets it train faster and from higher learning rates. Configuration D,
    torchvision's `vgg16_bn` layout. See `VGG` for the stages and the small-input rule.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "vgg16_bn"

    blocks = VGG16_BLOCKS
    batch_norm = True
