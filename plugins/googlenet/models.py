"""GoogLeNet (Inception v1) with torchvision's module names, so its checkpoints load unchanged.

Parameter names match `torchvision.models.googlenet` (`conv1`..`conv3`, `inception3a`..
`inception5b`, each `BasicConv2d` as `.conv` and `.bn`, the auxiliary classifiers as `aux1` and
`aux2`), which lets a torchvision state dict without its `fc.*` entries load with
`strict=True`. The backbone's stages are groups of those modules, cut so that both auxiliary
classifiers read a stage output.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from taskkit.backbone import Backbone, is_small_input

#: Inception block widths per name: 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection.
INCEPTION_WIDTHS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}

#: Stage name -> the top-level modules it runs, in order.
STAGES = OrderedDict(
    stem=("conv1", "maxpool1", "conv2", "conv3", "maxpool2"),
    inception3=("inception3a", "inception3b"),
    inception4a=("maxpool3", "inception4a"),
    inception4d=("inception4b", "inception4c", "inception4d"),
    inception4e=("inception4e",),
    inception5=("maxpool4", "inception5a", "inception5b"),
)

AUX_WEIGHT = 0.3


class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm (eps 0.001) and ReLU: torchvision's batch-normalised unit."""

    def __init__(self, in_channels: int, out_channels: int, **conv_options):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_options)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: 1x1; 1x1 then 3x3; 1x1 then "5x5"; pool then 1x1.

    Mixing receptive fields side by side lets the network choose per block how much local and
    wider context to use, and the 1x1 reductions keep the wide branches cheap. The third
    branch uses a 3x3 convolution where the paper has a 5x5: torchvision's layout (its
    pretrained weights were trained that way, see pytorch/vision#906), kept so they load.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int,
                 ch5x5red: int, ch5x5: int, pool_proj: int):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 average pool, 1x1 convolution to 128, fc 1024, dropout 0.7, fc."""

    def __init__(self, in_channels: int, num_outputs: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.fc2 = nn.Linear(1024, num_outputs)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))


def _init_weights(module: nn.Module) -> None:
    """Truncated normal (std 0.01) for convolutions and linear layers, unit BatchNorm: torchvision's init."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class GoogLeNet(Backbone):
    """GoogLeNet / Inception v1 (Szegedy et al., 2014): nine Inception blocks, two auxiliary classifiers.

    The Inception block runs 1x1, 3x3 and wider convolutions and a pooled projection side by
    side, with 1x1 reductions in front of the costly branches, so the network grows wide and
    22 layers deep at 1.5 GFLOPs and 6.6M weights with a 1000-class head. Layout and names are
    torchvision's (including its 3x3 in place of the paper's 5x5, see `Inception`), so its
    weights load as they are, less `fc`; torchvision's dropout of 0.2 before `fc` is the
    linear head's `dropout` option and its `transform_input` is not used.

    Stages: stem (conv1..maxpool2), inception3 (3a, 3b), inception4a (maxpool3, 4a),
    inception4d (4b..4d), inception4e (4e), inception5 (maxpool4, 5a, 5b), cut there so that
    the auxiliary classifiers read stage outputs: `aux1` after inception4a (512 channels) and
    `aux2` after inception4d (528 channels). With `aux_logits` (default), a model assembled
    with `BackboneWithHead` gets them with its number of outputs, and in training each adds
    0.3 times its loss to the main loss, as in the paper, to push gradient into the middle of
    the network; in evaluation they are not run. They belong to no stage, so freezing stages
    leaves them training.

    Small-input rule: images under 64 pixels (`small_input=None`), or any size with
    `small_input=True`, get a stride-1 `conv1` and no `maxpool1`/`maxpool2`, so the stem
    keeps full resolution instead of dividing it by 8; a 28x28 digit then reaches the
    Inception blocks at 28x28 (as a 224 image does) and the last stage at 7x7. Weight shapes
    are unchanged, so torchvision's weights load in both modes.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "googlenet"

    min_img_size = 2

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 aux_logits: bool = True):
        super().__init__()
        small = is_small_input(img_size, small_input)
        self.small_input, self.aux_logits = small, aux_logits
        self._build_stem(in_channels, small)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        for name, widths in INCEPTION_WIDTHS.items():
            setattr(self, name, Inception(*widths))
        self.aux1: InceptionAux | None = None
        self.aux2: InceptionAux | None = None
        self.stage_names = list(STAGES)
        self.out_channels = [192, 480, 512, 528, 832, 1024]
        stem = 1 if small else 8
        self.reductions = [stem, stem, 2 * stem, 2 * stem, 2 * stem, 4 * stem]
        self.__dict__["_stages"] = [
            nn.Sequential(OrderedDict((name, getattr(self, name)) for name in members))
            for members in STAGES.values()
        ]
        _init_weights(self)

    def _build_stem(self, in_channels: int, small: bool) -> None:
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=1 if small else 2, padding=3)
        self.maxpool1 = nn.Identity() if small else nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.Identity() if small else nn.MaxPool2d(3, stride=2, ceil_mode=True)

    def stages(self) -> list[nn.Module]:
        """Sequentials over the backbone's own modules, kept out of the module tree (set through
        `__dict__`) so parameters are not listed twice and torchvision's names stay the only ones;
        three stages share their name with their last block, which `backbone.inception4a` means."""
        return list(self.__dict__["_stages"])

    def add_auxiliary_classifiers(self, num_outputs: int) -> None:
        """Create `aux1` and `aux2` for `num_outputs` classes (nothing when `aux_logits` is off)."""
        if not self.aux_logits:
            return
        self.aux1 = InceptionAux(self.out_channels[self.stage_names.index("inception4a")], num_outputs)
        self.aux2 = InceptionAux(self.out_channels[self.stage_names.index("inception4d")], num_outputs)
        _init_weights(self.aux1)
        _init_weights(self.aux2)

    def auxiliary_logits(self, maps: list[Tensor]) -> list[tuple[float, Tensor]]:
        """`[(0.3, aux1 logits), (0.3, aux2 logits)]` from the stage maps, or `[]` without them."""
        if self.aux1 is None or self.aux2 is None:
            return []
        first = maps[self.stage_names.index("inception4a")]
        second = maps[self.stage_names.index("inception4d")]
        return [(AUX_WEIGHT, self.aux1(first)), (AUX_WEIGHT, self.aux2(second))]
