"""Backbones that see an image as one flat vector of pixels.

Each stage hands on a `[B, features, 1, 1]` map, so the classification heads, the freezing
logic and the summary treat these networks exactly like convolutional ones. A 1x1 map has
shrunk the image by its full size, which is why every stage's reduction is `img_size`.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from taskkit.backbone import Backbone
from taskkit.errors import ComponentOptionError


class FlattenToMap(nn.Module):
    """Reshape `[B, C, H, W]` to `[B, C*H*W, 1, 1]`: a flat vector kept in map form."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)[:, :, None, None]


class DenseLayer(nn.Module):
    """Linear, optional BatchNorm, ReLU and optional Dropout on a `[B, C, 1, 1]` map.

    With batch norm the linear bias is dropped: the norm's own shift makes it redundant.
    """

    def __init__(self, in_features: int, out_features: int, dropout: float = 0.0,
                 batch_norm: bool = False):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=not batch_norm)
        self.norm = nn.BatchNorm1d(out_features) if batch_norm else nn.Identity()
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = self.dropout(self.act(self.norm(self.linear(x.flatten(1)))))
        return x[:, :, None, None]


class LinearBackbone(Backbone):
    """Softmax regression: the flattened pixels, for a linear head to classify.

    The backbone has no weights of its own; with the `linear` head on top the model is exactly
    multinomial logistic regression, the baseline every other network should beat.
    """

    min_img_size = 1

    def __init__(self, in_channels: int = 3, img_size: int = 32):
        super().__init__()
        self.flatten = FlattenToMap()
        self.stage_names = ["flatten"]
        self.out_channels = [in_channels * img_size * img_size]
        self.reductions = [img_size]

    def stages(self) -> list[nn.Module]:
        return [self.flatten]


class MLPBackbone(Backbone):
    """Multilayer perceptron: flattened pixels through fully connected ReLU layers.

    Each hidden layer is a stage of its own, so `--freeze` can keep the first layers fixed.
    `hidden` lists the layer widths; `batch_norm` and `dropout` regularise every layer.
    """

    min_img_size = 1

    def __init__(self, in_channels: int = 3, img_size: int = 32,
                 hidden: tuple[int, ...] = (256, 128), dropout: float = 0.0,
                 batch_norm: bool = False):
        super().__init__()
        widths = _widths(hidden)
        self.flatten = FlattenToMap()
        features = in_channels * img_size * img_size
        self.layers = nn.ModuleList()
        for width in widths:
            self.layers.append(DenseLayer(features, width, dropout, batch_norm))
            features = width
        self.stage_names = ["flatten", *(f"fc{i}" for i in range(1, len(widths) + 1))]
        self.out_channels = [in_channels * img_size * img_size, *widths]
        self.reductions = [img_size] * (len(widths) + 1)

    def stages(self) -> list[nn.Module]:
        return [self.flatten, *self.layers]


def _widths(hidden: int | Sequence[int]) -> list[int]:
    """Hidden layer widths from a sequence (or a single int), each checked to be positive."""
    widths = [hidden] if isinstance(hidden, int) else list(hidden)
    if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
        raise ComponentOptionError(f"mlp: hidden must be positive integers, got {hidden!r}")
    return widths
