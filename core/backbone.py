"""The Backbone interface every task relies on, as a base class plugins may use.

A backbone is a sequence of stages, stem first. Each stage produces one feature map:
classification heads read the last, decoders read them all, and freezing counts stages.
Subclasses set `stage_names`, `out_channels` and `reductions` (one entry per stage) and return
their stage modules from `stages()`; `forward` then needs no code of its own.
"""

from __future__ import annotations

from torch import Tensor, nn


class Backbone(nn.Module):
    """A network that returns one feature map per stage, stem first."""

    stage_names: list[str]
    out_channels: list[int]
    reductions: list[int]

    def stages(self) -> list[nn.Module]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> list[Tensor]:
        maps = []
        for stage in self.stages():
            x = stage(x)
            maps.append(x)
        return maps


def check_backbone(backbone: nn.Module) -> None:
    """Raise `TypeError` naming what a backbone lacks of the interface."""
    missing = [a for a in ("stage_names", "out_channels", "reductions", "stages") if not hasattr(backbone, a)]
    if missing:
        raise TypeError(f"{type(backbone).__name__} is not a backbone: it lacks {', '.join(missing)}")
    counts = {len(backbone.stage_names), len(backbone.out_channels), len(backbone.reductions),
              len(backbone.stages())}
    if len(counts) != 1:
        raise TypeError(
            f"{type(backbone).__name__}: stage_names, out_channels, reductions and stages() differ in length"
        )


class BackboneWithHead(nn.Module):
    """A backbone and a head read as one model: the head gets the backbone's list of maps."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))
