"""Training-time regularisers: mixup and cutmix batches, an L1 penalty and a weight average.

The engine meets them through one seam, a `Regularizer` in `StepOptions`: it mixes each
training batch before the forward pass, adds the penalty to the loss and updates the average
after each optimizer step. With every option off there is no `Regularizer` and the training
step does nothing extra. Random draws use torch's default generator, which the engine
reseeds each epoch, so a run repeats exactly from its seed and a resumed run continues as
the uninterrupted one would have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from taskkit.train.optim import decay_groups

if TYPE_CHECKING:
    from taskkit.train.options import TrainOptions


@dataclass(frozen=True)
class Mix:
    """One batch's draw: mixup or cutmix, `lam` ~ Beta(alpha, alpha), the partner of each sample
    (`perm`) and, for cutmix, the pasted box (top, bottom, left, right) of about 1 - lam of the
    image. Mixup weighs each sample's own label by `lam`; cutmix by the box's exact share."""

    kind: str
    lam: float
    perm: Tensor
    box: tuple[int, int, int, int] | None = None


def soft_targets(labels: Tensor, perm: Tensor, lam: float, num_classes: int) -> Tensor:
    """Per-class probability rows lam * onehot(label) + (1 - lam) * onehot(partner's label)."""
    one_hot = F.one_hot(labels, num_classes).float()
    return lam * one_hot + (1 - lam) * one_hot[perm]


def cutmix_box(height: int, width: int, lam: float) -> tuple[int, int, int, int]:
    """A box of about (1 - lam) of the image around a uniformly drawn centre, clipped to it."""
    ratio = math.sqrt(1 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(torch.randint(height, ())), int(torch.randint(width, ()))
    return (max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height),
            max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width))


def apply_mix(mix: Mix, images: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """The mixed batch and its soft targets; for cutmix, lam is the box's exact share of the image."""
    perm = mix.perm.to(images.device)
    if mix.kind == "mixup":
        return images * mix.lam + images[perm] * (1 - mix.lam), soft_targets(labels, perm, mix.lam, num_classes)
    top, bottom, left, right = mix.box
    mixed = images.clone()
    mixed[..., top:bottom, left:right] = images[perm][..., top:bottom, left:right]
    lam = 1 - (bottom - top) * (right - left) / (images.shape[-2] * images.shape[-1])
    return mixed, soft_targets(labels, perm, lam, num_classes)


class BatchMixer:
    """Mixes each training batch with a shuffled copy of itself (Zhang et al., 2018; Yun et al., 2019).

    lam ~ Beta(alpha, alpha). Mixup blends whole images; cutmix pastes a box of the partner
    image. With both alphas set, each batch picks one of the two with probability 1/2.
    """

    def __init__(self, num_classes: int, mixup: float = 0.0, cutmix: float = 0.0):
        if not (mixup > 0 or cutmix > 0):
            raise ValueError("BatchMixer needs a positive mixup or cutmix alpha")
        self.num_classes, self.mixup, self.cutmix = num_classes, mixup, cutmix

    def draw(self, batch_size: int, height: int, width: int) -> Mix:
        kind = "mixup" if self.cutmix <= 0 else "cutmix" if self.mixup <= 0 else (
            "cutmix" if float(torch.rand(())) < 0.5 else "mixup")
        alpha = self.mixup if kind == "mixup" else self.cutmix
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        box = cutmix_box(height, width, lam) if kind == "cutmix" else None
        return Mix(kind, lam, torch.randperm(batch_size), box)

    def __call__(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return apply_mix(self.draw(len(images), *images.shape[-2:]), images, labels, self.num_classes)


class L1Penalty:
    """`strength` times the sum of |w| over the trainable weights that weight decay applies to.

    Norm and bias parameters are left out for the same reason weight decay leaves them out;
    which weights train is read at each call, so stages unfrozen mid-run join the penalty.
    """

    def __init__(self, model: nn.Module, strength: float):
        groups = decay_groups([model], 1.0, lambda param: True)
        self.weights = [p for group in groups if group["weight_decay"] > 0 for p in group["params"]]
        self.strength = strength

    def __call__(self) -> Tensor:
        trainable = [w.abs().sum() for w in self.weights if w.requires_grad]
        return self.strength * torch.stack(trainable).sum() if trainable else torch.zeros(())


class WeightAverage:
    """An exponential moving average of a model's weights and buffers, updated after each step.

    `module` has the model's own parameter names, so its state dict is what model.safetensors
    holds and what `tk eval` and `tk predict` load; `state_dict` (with the update count) goes
    into last.ckpt so a resumed run continues the average.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.model = model
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    @property
    def module(self) -> nn.Module:
        return self.averaged.module

    def update(self) -> None:
        self.averaged.update_parameters(self.model)

    def state_dict(self) -> dict[str, Any]:
        return self.averaged.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.averaged.load_state_dict(state)


@dataclass
class Regularizer:
    """What the training step adds to plain training; each part is None when its option is off."""

    mixer: BatchMixer | None = None
    penalty: L1Penalty | None = None
    average: WeightAverage | None = None

    def mix(self, inputs: Any, targets: Tensor) -> tuple[Any, Tensor]:
        return self.mixer(inputs, targets) if self.mixer is not None else (inputs, targets)

    def add_penalty(self, loss: Tensor) -> Tensor:
        return loss + self.penalty().to(loss.device) if self.penalty is not None else loss

    def after_step(self) -> None:
        if self.average is not None:
            self.average.update()


def build_regularizer(options: "TrainOptions", model: nn.Module, num_classes: int,
                      saved: dict[str, Any] | None = None) -> Regularizer | None:
    """What `options.mixup`, `cutmix`, `l1` and `ema` ask for, or None when all are off;
    `saved` (a resumed checkpoint) restores the weight average where it stopped."""
    mixing = options.mixup > 0 or options.cutmix > 0
    if not (mixing or options.l1 > 0 or options.ema > 0):
        return None
    average = WeightAverage(model, options.ema) if options.ema > 0 else None
    if average is not None and saved is not None and "ema" in saved:
        average.load_state_dict(saved["ema"])
    return Regularizer(mixer=BatchMixer(num_classes, options.mixup, options.cutmix) if mixing else None,
                       penalty=L1Penalty(model, options.l1) if options.l1 > 0 else None, average=average)
