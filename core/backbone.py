"""The Backbone interface every task relies on, as a base class plugins may use.

A backbone is a sequence of stages, stem first. Each stage produces one feature map:
classification heads read the last, decoders read them all, and freezing counts stages.
Subclasses set `stage_names`, `out_channels` and `reductions` (one entry per stage) and return
their stage modules from `stages()`; `forward` then needs no code of its own.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from taskkit.components import flag


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


#: Below this many pixels a backbone switches to its small-input stem unless told otherwise.
SMALL_INPUT_BELOW = 64


def is_small_input(img_size: int, small_input: bool | None) -> bool:
    """The one small-input rule: `small_input` when given, else automatic below 64 px."""
    return img_size < SMALL_INPUT_BELOW if small_input is None else bool(small_input)


def kaiming_init(model: nn.Module) -> None:
    """He-normal convolutions (fan-out, for ReLU) and unit BatchNorm, torchvision's ResNet recipe.

    Shared by the families written for ReLU networks with BatchNorm, where it keeps the
    activations' scale steady through depth (He et al., 2015).
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


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


class WithAuxiliary(NamedTuple):
    """A training-time output with auxiliary classifiers: main logits and (weight, logits) pairs.

    The engine adds each auxiliary loss times its weight to the main loss (GoogLeNet uses
    0.3); in evaluation models return plain logits, so the extras vanish.
    """

    logits: Tensor
    auxiliary: list[tuple[float, Tensor]]


class BackboneWithHead(nn.Module):
    """A backbone and a head read as one model: the head gets the backbone's list of maps.

    A backbone with auxiliary classifiers implements `add_auxiliary_classifiers(num_outputs)`
    (called here, since only now is the number of outputs known) and
    `auxiliary_logits(maps) -> [(weight, logits), ...]`, used in training mode only.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, num_outputs: int | None = None):
        super().__init__()
        add_auxiliary = flag(backbone, "add_auxiliary_classifiers")
        if num_outputs is not None and add_auxiliary is not None:
            add_auxiliary(num_outputs)
        self.backbone, self.head = backbone, head
        self.__dict__["_held_in_eval"] = []

    def hold_in_eval(self, modules: list[nn.Module]) -> None:
        """Keep `modules` in eval mode through every `train()` (BatchNorm of frozen stages).

        The training loop calls `model.train()` each epoch; a frozen stage's BatchNorm must
        not switch back to batch statistics then, or its running statistics would drift.
        """
        self.__dict__["_held_in_eval"] = list(modules)
        self.train(self.training)

    def train(self, mode: bool = True) -> "BackboneWithHead":
        super().train(mode)
        for module in self._held_in_eval:
            module.train(False)
        return self

    def forward(self, x: Tensor) -> Tensor | WithAuxiliary:
        maps = self.backbone(x)
        logits = self.head(maps)
        auxiliary_logits = flag(self.backbone, "auxiliary_logits") if self.training else None
        if auxiliary_logits is not None:
            extra = auxiliary_logits(maps)
            if extra:
                return WithAuxiliary(logits, extra)
        return logits


class PooledMaps(list):
    """A backbone's list of maps that also records where each stage's max-pooling took its values.

    `indices[i]` and `sizes[i]` are stage i's pooling indices and the size of the map it pooled,
    which is what max-unpooling needs to put each value back where it came from (SegNet). It
    is still the list of maps, so classification heads and freezing read it unchanged.
    """

    def __init__(self, maps: list[Tensor], indices: list[Tensor], sizes: list[tuple[int, int]]):
        super().__init__(maps)
        self.indices, self.sizes = indices, sizes


def spatial_stage_count(reductions: list[int], height: int, width: int) -> int:
    """How many leading stages give feature maps a decoder can use at this input size.

    A stage that pools to a vector (a VGG's or LeNet's dense layers) declares a reduction of
    at least the image size; decoders stop before the first such stage.
    """
    count = 0
    for reduction in reductions:
        if reduction >= min(height, width):
            break
        count += 1
    return count


class BackboneWithDecoder(BackboneWithHead):
    """A backbone and a decoder read as one dense model: per-pixel logits `[B, classes, H, W]`.

    The decoder gets the backbone's maps and the input's height and width, so it can bring
    its output back to exactly the input size whatever rounding the strides did.
    """

    def __init__(self, backbone: nn.Module, decoder: nn.Module):
        super().__init__(backbone, decoder)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x), tuple(x.shape[-2:]))
