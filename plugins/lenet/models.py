"""LeNet-5: two convolution-and-pooling stages, then fully connected layers of 120 and 84 units.

The structure follows the paper; the activation and pooling are options because the original
(scaled tanh, trainable subsampling) and the modern reading (ReLU, max-pooling) are both
worth comparing. Every convolution input is fully connected (the paper's sparse C3 table is
not reproduced), which gives the usual 61,706 parameters with a 10-class linear head.
"""

from __future__ import annotations

from torch import nn

from taskkit.backbone import Backbone
from taskkit.errors import ComponentOptionError

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
POOLINGS = {"max": (nn.MaxPool2d, nn.AdaptiveMaxPool2d), "avg": (nn.AvgPool2d, nn.AdaptiveAvgPool2d)}


def _choice(option: str, value: str, choices: dict) -> str:
    if value not in choices:
        raise ComponentOptionError(
            f"lenet: {option} must be one of {', '.join(choices)}, got {value!r}"
        )
    return value


class LeNet(Backbone):
    """LeNet-5 (LeCun et al., 1998): conv 6, pool, conv 16, pool, fully connected 120 and 84.

    The 120- and 84-unit layers belong to the backbone, not the head, because they are part of
    LeNet-5 itself: freezing or reusing "LeNet" means these layers too, and a linear head on
    the 84 features completes the classic network. Images under 32 pixels (28x28 MNIST) get
    2 pixels of padding on the first convolution, so 28x28 and 32x32 inputs both reach 16x5x5
    as in the paper; larger images are pooled adaptively to 5x5 before the fully connected part.
    Reductions are the nominal strides (2, then 4); the unpadded convolutions trim a few border
    pixels more.
    """

    min_img_size = 28

    def __init__(self, in_channels: int = 3, img_size: int = 32, activation: str = "relu",
                 pooling: str = "max"):
        super().__init__()
        act = ACTIVATIONS[_choice("activation", activation, ACTIVATIONS)]
        pool, adaptive_pool = POOLINGS[_choice("pooling", pooling, POOLINGS)]
        padding = 2 if img_size < 32 else 0
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 6, 5, padding=padding), act(), pool(2))
        self.conv2 = nn.Sequential(nn.Conv2d(6, 16, 5), act(), pool(2))
        self.fc = nn.Sequential(
            adaptive_pool(5), nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), act(),
            nn.Linear(120, 84), act(),
            nn.Unflatten(1, (84, 1, 1)),
        )
        self.stage_names = ["stem", "conv2", "fc"]
        self.out_channels = [6, 16, 84]
        self.reductions = [2, 4, img_size]

    def stages(self) -> list[nn.Module]:
        return [self.stem, self.conv2, self.fc]
