"""Freezing a backbone's stages: one meaning of `--freeze N`, its schedule and its preview.

A backbone's `stages()` start with the stem. `--freeze 0` trains everything, `--freeze N`
freezes the stem and the first N stages after it, `--freeze all` the whole backbone. Frozen
parameters get `requires_grad=False` and stay out of the optimizer, and their BatchNorm layers
stay in eval mode, so neither their weights nor their running statistics move (`--bn train`
lets the statistics adapt; `--bn frozen` fixes every BatchNorm of the backbone, for small
batches). Gradual unfreezing and layer-wise learning rates are functions of the epoch, so a
resumed run has the frozen set and rates an uninterrupted one would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from taskkit.errors import BadInputError
from taskkit.train.optim import add_param_groups, decay_groups

BN_MODES = ("eval", "train", "frozen")
_BATCHNORM = nn.modules.batchnorm._BatchNorm


def frozen_entries(freeze: str | int, stage_names: list[str], backbone: str) -> int:
    """How many `stages()` entries `--freeze` covers: 0, N + 1 (the stem and N stages) or all."""
    after_stem = len(stage_names) - 1
    text = str(freeze).strip().lower()
    if text == "all":
        return len(stage_names)
    listing = ", ".join(stage_names)
    if not text.isdigit():
        raise BadInputError(f"--freeze must be a number of stages or 'all', got '{freeze}'")
    count = int(text)
    if count > after_stem:
        raise BadInputError(f"--freeze {count} is more than the {after_stem} stages after the stem of {backbone} "
                            f"({listing}); use 0 to {after_stem}, or all")
    return 0 if count == 0 else count + 1


@dataclass(frozen=True)
class FreezePlan:
    """What is frozen in each epoch, and the learning rate of each stage.

    `frozen` counts `stages()` entries, stem included. From epoch `unfreeze_at` (counted from
    1, as the progress bar does), `unfreeze_step` more entries unfreeze each epoch, the latest
    frozen first; `None` unfreezes them all at once. Stage i of n learns at
    `lr * lr_decay ** (n - i)`: the head at `lr`, each earlier stage `lr_decay` times slower.
    """

    frozen: int
    bn: str = "eval"
    unfreeze_at: int | None = None
    unfreeze_step: int | None = 1
    lr_decay: float = 1.0

    def __post_init__(self) -> None:
        if self.bn not in BN_MODES:
            raise BadInputError(f"--bn must be eval, train or frozen, got '{self.bn}'")
        if self.unfreeze_at is not None and self.unfreeze_at < 1:
            raise BadInputError(f"--unfreeze-at is an epoch counted from 1, got {self.unfreeze_at}")
        if self.unfreeze_step is not None and self.unfreeze_step < 1:
            raise BadInputError(f"--unfreeze-step must be a positive number of stages or 'all', "
                                f"got {self.unfreeze_step}")
        if not 0 < self.lr_decay <= 1:
            raise BadInputError(f"--lr-decay must be in (0, 1], got {self.lr_decay}")

    def frozen_in(self, epoch: int) -> int:
        """Entries frozen during `epoch` (counted from 0)."""
        if self.unfreeze_at is None or epoch + 1 < self.unfreeze_at:
            return self.frozen
        if self.unfreeze_step is None:
            return 0
        return max(0, self.frozen - (epoch + 2 - self.unfreeze_at) * self.unfreeze_step)

    def unfrozen_from(self, index: int) -> int | None:
        """The first epoch (from 1) in which entry `index`, frozen at the start, trains; None if never."""
        if index >= self.frozen:
            return 1
        if self.unfreeze_at is None:
            return None
        epoch = self.unfreeze_at
        while self.frozen_in(epoch - 1) > index:
            epoch += 1
        return epoch

    def lr_scale(self, index: int, count: int) -> float:
        return self.lr_decay ** (count - index)


def parse_unfreeze_step(value: str | int | None) -> int | None:
    text = str(value).strip().lower()
    if text == "all":
        return None
    if not text.isdigit():
        raise BadInputError(f"--unfreeze-step must be a number of stages or 'all', got '{value}'")
    return int(text)


class StageFreezer:
    """Applies a `FreezePlan` to a backbone-with-head model, epoch by epoch.

    The model's `hold_in_eval` keeps the chosen BatchNorm layers in eval mode through every
    `model.train()` the training loop makes.
    """

    def __init__(self, model: nn.Module, plan: FreezePlan, lr: float, weight_decay: float):
        self.model, self.plan, self.lr, self.weight_decay = model, plan, lr, weight_decay
        self.stages = list(model.backbone.stages())
        self.names = list(model.backbone.stage_names)
        self.current: int | None = None
        self.in_stages = {id(p) for stage in self.stages for p in stage.parameters()}

    def apply(self, epoch: int) -> None:
        """Freeze the entries `plan` freezes in `epoch` (counted from 0) and hold their BatchNorm."""
        count = self.plan.frozen_in(epoch)
        fixed_bn = self.plan.bn == "frozen"
        for index, stage in enumerate(self.stages):
            for module in stage.modules():
                fixed = index < count or (fixed_bn and isinstance(module, _BATCHNORM))
                for param in module.parameters(recurse=False):
                    param.requires_grad_(not fixed)
        held = []
        if self.plan.bn != "train":
            for index, stage in enumerate(self.stages):
                if index < count or fixed_bn:
                    held.extend(m for m in stage.modules() if isinstance(m, _BATCHNORM))
        self.model.hold_in_eval(held)
        self.current = count

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups of what trains now: the head, then the stages from the last one down."""
        groups = self._groups("head", [self.model], 1.0, outside_stages=True)
        for index in reversed(range(self.current or 0, len(self.stages))):
            groups += self._stage_groups(index)
        return groups

    def on_epoch_start(self, epoch: int, optimizer, scheduler) -> None:
        """Unfreeze what the plan unfreezes in `epoch` and give it to the optimizer."""
        before = self.current
        if before is None or self.plan.frozen_in(epoch) == before:
            return
        self.apply(epoch)
        new = [g for index in reversed(range(self.current, before)) for g in self._stage_groups(index)]
        if new:
            add_param_groups(optimizer, scheduler, new)

    def _stage_groups(self, index: int) -> list[dict[str, Any]]:
        return self._groups(self.names[index], [self.stages[index]], self.plan.lr_scale(index, len(self.stages)))

    def _groups(self, name: str, modules: list[nn.Module], scale: float,
                outside_stages: bool = False) -> list[dict[str, Any]]:
        lr = self.lr * scale

        def keep(param: nn.Parameter) -> bool:
            return param.requires_grad and not (outside_stages and id(param) in self.in_stages)

        return decay_groups(modules, self.weight_decay, keep, name=name, lr=lr, base_lr=lr)

    def table(self) -> list[dict[str, Any]]:
        """One row per stage and one for the head: parameters, when it trains, BatchNorm mode, rate."""
        rows = []
        for index, (name, stage) in enumerate(zip(self.names, self.stages)):
            first = self.plan.unfrozen_from(index)
            has_bn = any(isinstance(m, _BATCHNORM) for m in stage.modules())
            frozen_now = index < self.plan.frozen
            bn = "-" if not has_bn else ("eval" if frozen_now and self.plan.bn == "eval" else
                                         "frozen" if self.plan.bn == "frozen" else "train")
            rows.append({"stage": name, "parameters": sum(p.numel() for p in stage.parameters()),
                         "trainable": "yes" if first == 1 else "no" if first is None else f"from epoch {first}",
                         "bn": bn, "lr_scale": round(self.plan.lr_scale(index, len(self.stages)), 6)})
        outside = sum(p.numel() for p in self.model.parameters() if id(p) not in self.in_stages)
        rows.append({"stage": "head", "parameters": outside, "trainable": "yes",
                     "bn": "-", "lr_scale": 1.0})
        return rows

