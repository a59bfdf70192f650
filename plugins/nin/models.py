"""Network in Network: stacks of mlpconv blocks and global average pooling, no fully connected layers.

Torchvision has no NiN, so this follows the authors' released CIFAR-10 configuration, with its
layer names (`conv1`, `cccp1`, ... `cccp5`) inside the `mlpconv1`..`mlpconv3` blocks.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from taskkit.backbone import Backbone, is_small_input

#: Per block: kernel size of the spatial convolution, then the widths of it and its 1x1 layers.
#: The third block's last 1x1 layer (one map per class) is the `gap` head, so it is not here.
BLOCKS = ((5, (192, 160, 96)), (5, (192, 192, 192)), (3, (192, 192)))


def mlpconv(index: int, in_channels: int, kernel_size: int, widths: tuple[int, ...],
            first_cccp: int) -> OrderedDict[str, nn.Module]:
    """One mlpconv block: a spatial convolution, then 1x1 convolutions, each followed by ReLU.

    A 1x1 convolution is a small fully connected network applied at every pixel, so the block
    computes a non-linear function of each patch rather than a linear filter.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers[f"conv{index}"] = nn.Conv2d(in_channels, widths[0], kernel_size, padding=kernel_size // 2)
    layers[f"relu{index}"] = nn.ReLU(inplace=True)
    for offset, (width_in, width) in enumerate(zip(widths, widths[1:])):
        name = f"cccp{first_cccp + offset}"
        layers[name] = nn.Conv2d(width_in, width, 1)
        layers[f"relu_{name}"] = nn.ReLU(inplace=True)
    return layers


class NiN(Backbone):
    """Network in Network (Lin et al., 2013): mlpconv blocks, no fully connected layers; use head gap.

    Each mlpconv block replaces a linear filter with a tiny multilayer perceptron slid over the
    image (a convolution followed by 1x1 convolutions, all with ReLU), so every layer can model
    non-linear patterns; the classifier is then just one 1x1 convolution to a map per class and
    a global average, with no fully connected layers to overfit. This is the authors' CIFAR-10
    network: 192-160-96 channels with a 5x5 convolution, 192-192-192 with 5x5, 192-192 with
    3x3, a 3x3 stride-2 max-pool and dropout between blocks.

    Stages: mlpconv1 (the stem) to mlpconv3, each after the previous block's max-pool and
    dropout, at 1, 1/2 and 1/4 of the input size. Use `--head gap`: its 1x1 convolution to one
    map per class and global average pooling are the paper's last layer (`cccp6`) and pooling,
    so backbone and `gap` head together are NiN, 966,986 weights for 10 classes. Some NiN
    implementations put a ReLU on the class maps before averaging; the head has none, so
    logits can be negative, which changes no weight.

    Small-input rule: none is needed and `small_input` changes nothing; the network is already
    a 32-pixel design with no early downsampling, and its max-pools are padded, so any size
    works and each stage is exactly 1, 1/2 and 1/4 of it (rounded up). At 224 pixels it runs
    the same layers at 49 times the cost of 32 pixels, about 11 GMACs.
    """

    min_img_size = 1

    def __init__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 dropout: float = 0.5):
        super().__init__()
        self.small_input = is_small_input(img_size, small_input)
        first_cccp = 1
        for index, (kernel_size, widths) in enumerate(BLOCKS, start=1):
            layers: OrderedDict[str, nn.Module] = OrderedDict()
            if index > 1:
                layers[f"pool{index - 1}"] = nn.MaxPool2d(3, stride=2, padding=1)
                layers[f"drop{index - 1}"] = nn.Dropout(dropout)
            layers.update(mlpconv(index, in_channels, kernel_size, widths, first_cccp))
            setattr(self, f"mlpconv{index}", nn.Sequential(layers))
            in_channels, first_cccp = widths[-1], first_cccp + len(widths) - 1
        self.stage_names = [f"mlpconv{index}" for index in range(1, len(BLOCKS) + 1)]
        self.out_channels = [widths[-1] for _, widths in BLOCKS]
        self.reductions = [1, 2, 4]
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal convolutions (fan-out, for ReLU) and zero biases: nine ReLU layers with
        no normalisation train only from a variance-preserving start."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def stages(self) -> list[nn.Module]:
        return [getattr(self, name) for name in self.stage_names]
