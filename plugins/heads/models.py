"""Classification heads: modules turning a backbone's feature maps into `[B, num_outputs]` logits.

A head is called with the list of maps the backbone returns and reads the last one, so the
same head sits on a convolutional network (a `[B, C, H, W]` map) or a dense one (`[B, C, 1, 1]`,
where global pooling changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from taskkit.errors import ComponentOptionError


def last_map(maps: Sequence[Tensor] | Tensor) -> Tensor:
    """The last feature map of a backbone's output (a lone tensor is taken as that map)."""
    return maps if isinstance(maps, Tensor) else maps[-1]


class LinearHead(nn.Module):
    """Global average pooling, then one linear layer: the standard classifier.

    On a dense backbone's 1x1 map the pooling is a no-op, so `linear` backbone + `linear` head
    is plain logistic regression. `dropout` applies to the pooled features.
    """

    def __init__(self, in_channels: int, num_outputs: int, dropout: float = 0.0):
        super().__init__()
        self.in_channels, self.num_outputs = in_channels, num_outputs
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_outputs)

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        return self.fc(self.dropout(self.pool(last_map(maps))))


class MLPHead(nn.Module):
    """Global average pooling, hidden ReLU layers, then a linear layer.

    A small multilayer classifier gives a frozen backbone's features a non-linear readout,
    often worth a few points over a linear probe. Each hidden layer is Linear, BatchNorm
    (`batch_norm`), ReLU and Dropout (`dropout`); `hidden` lists their widths.
    """

    def __init__(self, in_channels: int, num_outputs: int, dropout: float = 0.0,
                 hidden: tuple[int, ...] = (256,), batch_norm: bool = True):
        super().__init__()
        self.in_channels, self.num_outputs = in_channels, num_outputs
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        layers: list[nn.Module] = []
        features = in_channels
        for width in _widths(hidden):
            layers.append(nn.Linear(features, width, bias=not batch_norm))
            layers.append(nn.BatchNorm1d(width) if batch_norm else nn.Identity())
            layers += [nn.ReLU(inplace=True), nn.Dropout(dropout)]
            features = width
        self.hidden = nn.Sequential(*layers)
        self.fc = nn.Linear(features, num_outputs)

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        return self.fc(self.hidden(self.pool(last_map(maps))))


class GAPHead(nn.Module):
    """Network-in-Network head: a 1x1 convolution to one map per class, then global averaging.

    Each class gets a spatial score map whose average is its logit (Lin et al., 2014), so the
    head has few weights and the maps show where each class was seen. `dropout` applies to the
    feature map before the convolution.
    """

    def __init__(self, in_channels: int, num_outputs: int, dropout: float = 0.0):
        super().__init__()
        self.in_channels, self.num_outputs = in_channels, num_outputs
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv2d(in_channels, num_outputs, 1)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        return self.pool(self.conv(self.dropout(last_map(maps))))


def _widths(hidden: int | Sequence[int]) -> list[int]:
    """Hidden layer widths from a sequence (or a single int), each checked to be positive."""
    widths = [hidden] if isinstance(hidden, int) else list(hidden)
    if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
        raise ComponentOptionError(f"mlp head: hidden must be positive integers, got {hidden!r}")
    return widths
