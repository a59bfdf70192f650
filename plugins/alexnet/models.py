"""AlexNet with torchvision's module names, so its checkpoints load unchanged.

Parameter names match `torchvision.models.alexnet` (`features.0` .. `features.10`,
`classifier.1` and `classifier.4`), which lets a torchvision state dict without its last layer
(`classifier.6`) load with `strict=True`. The backbone ends with the two hidden fully connected
layers, so a `linear` head supplies exactly the layer it leaves out.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from taskkit.backbone import Backbone, is_small_input

#: Stage name and the slice of `features` it covers; the last stage is the pooled classifier.
FEATURE_STAGES = {"stem": (0, 3), "conv2": (3, 6), "conv3": (6, 8), "conv4": (8, 10), "conv5": (10, 13)}


def make_features(in_channels: int, small: bool) -> nn.Sequential:
    """Five convolutions and three max-pools, laid out as torchvision's `features`."""
    stride, padding = (1, 5) if small else (4, 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, 11, stride=stride, padding=padding), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
    )


def make_classifier(in_features: int, hidden: int, dropout: float) -> nn.Sequential:
    """Torchvision's `classifier` less its last Linear: dropout, two hidden ReLU layers."""
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(in_features, hidden), nn.ReLU(inplace=True),
        nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
    )


def dense_stage(avgpool: nn.Module, classifier: nn.Module, width: int) -> nn.Sequential:
    """Pool, flatten, run the hidden layers and give the features back as a `[B, width, 1, 1]` map."""
    return nn.Sequential(OrderedDict(
        avgpool=avgpool, flatten=nn.Flatten(), classifier=classifier,
        unflatten=nn.Unflatten(1, (width, 1, 1)),
    ))


class AlexNet(Backbone):
    """AlexNet (Krizhevsky et al., 2012): 11x11 stride-4 stem, five convolutions, two 4096-unit layers.

    The network that started the deep-learning era on ImageNet: an 11x11 stride-4 first
    convolution and overlapping max-pools shrink a 224 image to 6x6 quickly, and most of its
    61M weights sit in two 4096-unit fully connected layers regularised by dropout. This is
    torchvision's single-stream variant (64-192-384-256-256 channels, no local response
    normalisation), whose weights load as they are, less `classifier.6`.

    Stages: stem (conv1 and its max-pool), conv2 (with its max-pool), conv3, conv4, conv5
    (with the last max-pool) and fc (average pool to 6x6, then the two hidden layers), which
    gives a `[B, 4096, 1, 1]` map; a `linear` head completes the network.

    Small-input rule: images under 64 pixels (`small_input=None`), or any size with
    `small_input=True`, get a stride-1 first convolution (same 11x11 kernel, padding 5), so a
    28x28 digit reaches conv2 at 13x13 and conv5 at 2x2 where the ImageNet stem would shrink
    it to nothing; the classifier then pools to 1x1 and its hidden layers shrink to 512 units,
    since torchvision's 6x6 pooling and 4096-unit layers would put 54M weights on a few
    pixels, to overfit and slow training. The convolutions keep their shapes, so
    torchvision's `features` weights load in both modes.
    """

    #: torchvision's model whose published ImageNet weights fit (`tk finetune` without --weights).
    published_weights = "alexnet"

    min_img_size = 15

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 dropout: float = 0.5):
        super().__init__()
        small = is_small_input(img_size, small_input)
        self.small_input = small
        hidden, pooled = (512, 1) if small else (4096, 6)
        self.features = make_features(in_channels, small)
        self.avgpool = nn.AdaptiveAvgPool2d(pooled)
        self.classifier = make_classifier(256 * pooled * pooled, hidden, dropout)
        self._stages = [self.features[start:end] for start, end in FEATURE_STAGES.values()]
        self._stages.append(dense_stage(self.avgpool, self.classifier, hidden))
        self.stage_names = [*FEATURE_STAGES, "fc"]
        self.out_channels = [64, 192, 384, 256, 256, hidden]
        strides = [2, 4, 4, 4, 8] if small else [8, 16, 16, 16, 32]
        self.reductions = [*strides, max(img_size, strides[-1])]
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal weights (fan-in, for ReLU) and zero biases, where torchvision keeps
        PyTorch's defaults: their smaller scale fades the signal over seven ReLU layers with no
        normalisation, and from them AlexNet learnt digits to 75% in 5 epochs, against 97%."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def stages(self) -> list[nn.Module]:
        """Sequentials over slices of `features` and the classifier, held in a plain list so that
        they stay out of the module tree and torchvision's names are the only ones."""
        return list(self._stages)
