"""The components; torch is imported here, not in the plugin module, to keep `tk` fast."""

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(in_channels, out_channels, stride):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class MyNet(nn.Module):
    """A three-stage convolutional backbone: a stem and two stride-2 stages."""

    def __init__(self, in_channels: int = 3, width: int = 16):
        super().__init__()
        self.stem = conv_bn_relu(in_channels, width, 1)
        self.stage1 = conv_bn_relu(width, 2 * width, 2)
        self.stage2 = conv_bn_relu(2 * width, 4 * width, 2)
        self.stage_names = ["stem", "stage1", "stage2"]
        self.out_channels = [width, 2 * width, 4 * width]
        self.reductions = [1, 2, 4]

    def stages(self):
        return [self.stem, self.stage1, self.stage2]

    def forward(self, x):
        maps = []
        for stage in self.stages():
            x = stage(x)
            maps.append(x)
        return maps


class Poly1Loss(nn.Module):
    """Poly-1 loss: cross-entropy plus epsilon * (1 - p_t) (Leng et al., 2022)."""

    def __init__(self, epsilon: float = 1.0):
        super().__init__()
        self.epsilon = epsilon

    def forward(self, logits, target):
        ce = F.cross_entropy(logits, target, reduction="none")
        p_t = torch.softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        return (ce + self.epsilon * (1 - p_t)).mean()
