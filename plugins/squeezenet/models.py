"""SqueezeNet 1.1 with torchvision's module names, so its checkpoints load unchanged.

Parameter names match `torchvision.models.squeezenet1_1` (`features.0` and, in each fire module
`features.N`, `squeeze`, `expand1x1` and `expand3x3`), which lets a torchvision state dict
without its `classifier.*` entries load with `strict=True`. Torchvision's classifier, a 1x1
convolution to one map per class and a global average, is the `gap` head.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from taskkit.backbone import Backbone, is_small_input

#: Stage name and the slice of `features` it covers; each stage after the stem opens with a max-pool.
FEATURE_STAGES = {"stem": (0, 3), "fire2_3": (3, 5), "fire4_5": (5, 8), "fire6_9": (8, 13)}


class Fire(nn.Module):
    """A fire module: a 1x1 squeeze to few channels, then 1x1 and 3x3 expands, concatenated.

    The squeeze layer cuts the channels that the 3x3 filters see, and half of the expand
    filters are 1x1, which is how SqueezeNet reaches AlexNet's accuracy with 50 times fewer
    weights.
    """

    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], dim=1)


def pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(3, stride=2, ceil_mode=True)


class SqueezeNet(Backbone):
    """SqueezeNet 1.1 (Iandola et al., 2016): fire modules, AlexNet accuracy at 1.2M weights; head gap.

    Fire modules (see `Fire`) keep the weights few, and down-sampling comes early (version 1.1
    pools after conv1, fire3 and fire5, with 64 3x3 filters in conv1), which makes 1.1 2.4
    times cheaper than 1.0 at the same accuracy. There are no fully connected layers: the
    classifier is a 1x1 convolution to one map per class and a global average, which here is
    the `gap` head, so backbone and `gap` head at 1000 classes have torchvision's 1,235,496
    weights. Torchvision also puts dropout (0.5) before that convolution, the `gap` head's
    `dropout` option, and a ReLU after it, which the head leaves out so that logits can be
    negative; no weight changes.

    Stages: stem (conv1 and its max-pool), fire2_3, fire4_5 and fire6_9, the last three each
    opening with a max-pool, at 1/4, 1/4, 1/8 and 1/16 of a 224 image (torchvision's 13x13).

    Small-input rule: images under 64 pixels (`small_input=None`), or any size with
    `small_input=True`, get a stride-1, padded conv1 and no stem max-pool, so the fire modules
    start at full resolution and a 28x28 digit ends at 7x7 instead of 1x1. The weights keep
    their shapes, so torchvision's weights load in both modes.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "squeezenet1_1"

    min_img_size = 4

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None):
        super().__init__()
        small = is_small_input(img_size, small_input)
        self.small_input = small
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, stride=1 if small else 2, padding=1 if small else 0),
            nn.ReLU(inplace=True),
            nn.Identity() if small else pool(),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
        )
        self._stages = [self.features[start:end] for start, end in FEATURE_STAGES.values()]
        self.stage_names = list(FEATURE_STAGES)
        self.out_channels = [64, 128, 256, 512]
        self.reductions = [1, 1, 2, 4] if small else [4, 4, 8, 16]
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-uniform convolutions and zero biases, as torchvision initialises SqueezeNet."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def stages(self) -> list[nn.Module]:
        """Sequentials over slices of `features`, held in a plain list so that they stay out of
        the module tree and torchvision's names are the only ones."""
        return list(self._stages)
