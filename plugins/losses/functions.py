"""Loss modules called as `loss(logits, target)`.

Classification losses accept class indices (`[B]`, or `[B, H, W]` for segmentation with
logits `[B, C, H, W]`) or per-class probabilities shaped like the logits (soft targets, as
mixup and cutmix produce). Where a formula is a course staple (label smoothing, focal loss)
it is written out so it can be read and checked against the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Weights = Sequence[float] | float | None


def class_probabilities(logits: Tensor, target: Tensor, ignore_index: int = -100) -> Tensor:
    """Targets as probabilities over the class dim (dim 1): one-hot for indices, soft as given.

    Ignored positions get class 0 here; `valid_mask` removes them from the loss.
    """
    if target.is_floating_point() and target.shape == logits.shape:
        return target.to(logits.dtype)
    index = target.long().masked_fill(target == ignore_index, 0)
    one_hot = F.one_hot(index, logits.shape[1]).to(logits.dtype)
    return one_hot.movedim(-1, 1)


def valid_mask(logits: Tensor, target: Tensor, ignore_index: int) -> Tensor:
    """Which positions count: all of them for soft targets, else those not `ignore_index`."""
    if target.is_floating_point() and target.shape == logits.shape:
        return torch.ones(logits.shape[:1] + logits.shape[2:], dtype=torch.bool, device=logits.device)
    return target != ignore_index


def reduce(loss: Tensor, valid: Tensor, reduction: str) -> Tensor:
    """Mean over the valid positions (as torch does with `ignore_index`), sum, or none."""
    loss = loss * valid
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / valid.sum().clamp_min(1)


def _class_weights(weights: Weights) -> Tensor | None:
    if weights is None or isinstance(weights, (int, float)):
        return None
    return torch.as_tensor(list(weights), dtype=torch.float32)


class CrossEntropy(nn.CrossEntropyLoss):
    """Cross-entropy on logits, with optional class weights and label smoothing.

    `weight` gives one weight per class (as `--balance class-weights` does for imbalanced
    data); targets may be class indices or soft probabilities.
    """

    def __init__(self, weight: Sequence[float] | None = None, ignore_index: int = -100,
                 label_smoothing: float = 0.0):
        super().__init__(weight=_class_weights(weight), ignore_index=ignore_index,
                         label_smoothing=label_smoothing)


class LabelSmoothingCrossEntropy(nn.Module):
    """Cross-entropy against targets smoothed towards uniform: q = (1 - e) * y + e / K.

    Smoothing keeps the model from pushing logits to extremes for labels it may have wrong,
    which usually improves calibration and generalisation (Szegedy et al., 2016).
    """

    def __init__(self, smoothing: float = 0.1, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__()
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing, self.ignore_index, self.reduction = smoothing, ignore_index, reduction

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        num_classes = logits.shape[1]
        hard = class_probabilities(logits, target, self.ignore_index)
        smoothed = (1 - self.smoothing) * hard + self.smoothing / num_classes
        loss = -(smoothed * F.log_softmax(logits, dim=1)).sum(dim=1)
        return reduce(loss, valid_mask(logits, target, self.ignore_index), self.reduction)


class FocalLoss(nn.Module):
    """Multi-class focal loss: FL = -alpha_t * (1 - p_t)^gamma * log(p_t) (Lin et al., 2017).

    The factor (1 - p_t)^gamma shrinks the loss of examples the model already gets right, so
    training concentrates on hard, often minority-class, examples. gamma=0 with no alpha is
    plain cross-entropy. `alpha` is one weight for every class or a list with one per class.
    """

    def __init__(self, gamma: float = 2.0, alpha: Weights = None, ignore_index: int = -100,
                 reduction: str = "mean"):
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma, self.ignore_index, self.reduction = gamma, ignore_index, reduction
        self.scalar_alpha = float(alpha) if isinstance(alpha, (int, float)) else 1.0
        self.register_buffer("alpha", _class_weights(alpha))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        log_p = F.log_softmax(logits, dim=1)
        focal = (1 - log_p.exp()).pow(self.gamma) * log_p
        if self.alpha is not None:
            shape = [1, -1] + [1] * (logits.dim() - 2)
            focal = focal * self.alpha.to(logits.dtype).view(shape)
        hard = class_probabilities(logits, target, self.ignore_index)
        loss = -self.scalar_alpha * (hard * focal).sum(dim=1)
        return reduce(loss, valid_mask(logits, target, self.ignore_index), self.reduction)


class DiceLoss(nn.Module):
    """Soft Dice loss, 1 - mean over classes of 2|P∩Y| / (|P| + |Y|) on softmax probabilities.

    Dice scores each class by its overlap whatever its size, so a small object counts as
    much as the background that dwarfs it in pixel-wise cross-entropy (Milletari et al.,
    2016). Sums run over the batch and every position; `smooth` keeps a class absent from
    both prediction and truth at a score of 1 rather than 0/0.
    """

    def __init__(self, smooth: float = 1.0, ignore_index: int = -100):
        super().__init__()
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0, got {smooth}")
        self.smooth, self.ignore_index = smooth, ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        probs = F.softmax(logits, dim=1)
        truth = class_probabilities(logits, target, self.ignore_index)
        valid = valid_mask(logits, target, self.ignore_index).unsqueeze(1).to(probs.dtype)
        dims = [0, *range(2, logits.dim())]
        overlap = (probs * truth * valid).sum(dims)
        total = (probs * valid).sum(dims) + (truth * valid).sum(dims)
        return 1 - ((2 * overlap + self.smooth) / (total + self.smooth)).mean()


class CrossEntropyDice(nn.Module):
    """Cross-entropy plus `dice_weight` times the Dice loss, the usual pairing for segmentation.

    Cross-entropy gives every pixel a steady gradient; Dice keeps small classes from being
    outvoted. `weight` (class weights) goes to the cross-entropy term.
    """

    def __init__(self, weight: Sequence[float] | None = None, ignore_index: int = -100,
                 dice_weight: float = 1.0, smooth: float = 1.0):
        super().__init__()
        self.cross_entropy = CrossEntropy(weight=weight, ignore_index=ignore_index)
        self.dice = DiceLoss(smooth=smooth, ignore_index=ignore_index)
        self.dice_weight = dice_weight

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.cross_entropy(logits, target) + self.dice_weight * self.dice(logits, target)


class BinaryFocalLoss(nn.Module):
    """Binary (sigmoid) focal loss for one logit per output, as in RetinaNet.

    alpha weighs positives and 1 - alpha negatives; None turns the weighting off.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | None = 0.25, reduction: str = "mean"):
        super().__init__()
        self.gamma, self.alpha, self.reduction = gamma, alpha, reduction

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        logits, target = _binary_pair(logits, target)
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p = torch.sigmoid(logits)
        p_t = p * target + (1 - p) * (1 - target)
        loss = bce * (1 - p_t).pow(self.gamma)
        if self.alpha is not None:
            loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
        return reduce(loss, torch.ones_like(loss, dtype=torch.bool), self.reduction)


class BinaryCrossEntropy(nn.Module):
    """Binary cross-entropy on logits, for two-class or multi-label outputs.

    `pos_weight` above 1 favours recall on the positive class.
    """

    def __init__(self, pos_weight: float | None = None, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction
        self.register_buffer("pos_weight", None if pos_weight is None else torch.tensor(float(pos_weight)))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        logits, target = _binary_pair(logits, target)
        return F.binary_cross_entropy_with_logits(
            logits, target, pos_weight=self.pos_weight, reduction=self.reduction
        )


class MeanSquaredError(nn.Module):
    """Mean squared error; with class-index targets, the Brier score of the softmax.

    For regression the outputs are compared with the targets directly. Given class indices,
    the predicted probabilities are compared with one-hot targets, the classic way of
    training a classifier with a squared loss.
    """

    #: Float targets are values to regress, so the class probabilities mixup makes would be
    #: compared with raw outputs; the tasks refuse to mix with this loss.
    takes_soft_targets = False

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if not target.is_floating_point() and logits.dim() == target.dim() + 1:
            probs = F.softmax(logits, dim=1)
            return F.mse_loss(probs, class_probabilities(logits, target), reduction=self.reduction)
        if logits.dim() == target.dim() + 1 and logits.shape[1] == 1:
            logits = logits.squeeze(1)
        return F.mse_loss(logits, target.to(logits.dtype), reduction=self.reduction)


def _binary_pair(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Accept `[B, 1]` logits with `[B]` targets, integer targets, and class indices for `[B, C]`
    logits (one-hot, each class scored one against the rest, as soft targets are)."""
    if logits.dim() == target.dim() + 1 and logits.shape[-1] == 1:
        logits = logits.squeeze(-1)
    elif logits.dim() == 2 and target.dim() == 1 and not target.is_floating_point():
        target = class_probabilities(logits, target)
    return logits, target.to(logits.dtype)
