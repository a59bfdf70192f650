"""The loss a classification run trains with: the registered loss by name, with label
smoothing and class weights where the options ask and the loss can take them."""

from __future__ import annotations

from typing import Any

import torch

from taskkit.components import flag
from taskkit.errors import BadInputError
from taskkit.registries import LOSSES
from taskkit.train.training import class_weights

DEFAULT_LABEL_SMOOTHING = 0.1


def build_loss(options: dict[str, Any], train_targets: list[int], num_classes: int) -> torch.nn.Module:
    """The loss by name, with label smoothing and class weights where asked for.

    Label smoothing left unset means 0.1 for a loss that takes it (cross-entropy) and none
    for the others; set explicitly, it is an error on a loss that cannot use it. Smoothing
    applies to the soft targets of mixup and cutmix too; a loss that cannot read soft targets
    is refused with them.
    """
    takes = LOSSES.entry(options["loss"]).options()
    smoothing_key = next((k for k in ("label_smoothing", "smoothing") if k in takes), None)
    extra: dict[str, Any] = {}
    smoothing = options["label_smoothing"]
    if smoothing is not None and not (isinstance(smoothing, (int, float)) and 0 <= smoothing < 1):
        raise BadInputError(f"--label-smoothing must be a number in [0, 1), got {smoothing!r}")
    if smoothing is not None and smoothing > 0 and smoothing_key is None:
        raise BadInputError(f"loss '{options['loss']}' does not take --label-smoothing; use cross-entropy")
    if smoothing_key is not None:
        extra[smoothing_key] = DEFAULT_LABEL_SMOOTHING if smoothing is None else float(smoothing)
    if options["balance"] == "class-weights":
        key = "weight" if "weight" in takes else "alpha" if "alpha" in takes else None
        if key is None:
            raise BadInputError(f"loss '{options['loss']}' takes no class weights; use cross-entropy or focal")
        extra[key] = class_weights(train_targets, num_classes)
    loss = LOSSES.build(options["loss"], **extra)
    if (options.get("mixup") or options.get("cutmix")) and not flag(loss, "takes_soft_targets"):
        raise BadInputError(f"loss '{options['loss']}' cannot learn from the mixed labels of --mixup and --cutmix; "
                            "use cross-entropy, label-smoothing, focal or bce")
    return loss
