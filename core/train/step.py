"""How one batch meets the model, in training and evaluation alike: the step options, inputs
moved to the device, mixed precision, and the loss with any auxiliary classifiers' share.

Below the loop (`engine`) so that evaluators of their own (segmentation's, lr-find's sweep)
use the same pieces without importing the loop.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

from taskkit.backbone import WithAuxiliary
from taskkit.train.regularize import Regularizer


#: The target of positions that carry no label (padding in sequence labelling).
IGNORE_INDEX = -100


@dataclass
class StepOptions:
    """How each optimizer step is taken."""

    device: torch.device
    amp_dtype: torch.dtype | None = None  # autocast dtype, None for full precision
    scaler: torch.amp.GradScaler | None = None  # loss scaling for float16 (taskkit.train.fast_paths)
    channels_last: bool = False  # images go to the model in NHWC memory order
    accumulate: int = 1  # batches per optimizer step
    clip_grad: float | None = None  # max gradient norm
    check_every: int = 1  # steps between finiteness checks (each is a device sync)
    regularizer: Regularizer | None = None  # mixing, penalty and weight average (taskkit.train.regularize); None: none
    reduce: Callable[[Tensor], Tensor] | None = None  # sums a tensor over the processes training together


def autocast(options: StepOptions):
    """Mixed precision as `options` asks (a no-op context at full precision)."""
    if options.amp_dtype is None:
        return nullcontext()
    return torch.autocast(options.device.type, dtype=options.amp_dtype)


def model_loss(outputs: Any, targets: Tensor, loss_fn: Callable) -> tuple[Tensor, Tensor]:
    """Main logits and the loss, auxiliary classifiers' weighted losses included when present."""
    if isinstance(outputs, WithAuxiliary):
        loss = loss_fn(outputs.logits, targets)
        for weight, extra in outputs.auxiliary:
            loss = loss + weight * loss_fn(extra, targets)
        return outputs.logits, loss
    return outputs, loss_fn(outputs, targets)


def to_device(value: Any, device: torch.device, channels_last: bool = False) -> Any:
    """A batch's inputs on `device`: a tensor, or a tuple of them (tokens and lengths); images
    in NHWC memory order with `channels_last`."""
    if isinstance(value, (tuple, list)):
        return tuple(to_device(v, device, channels_last) for v in value)
    if channels_last and value.dim() == 4:
        return value.to(device, memory_format=torch.channels_last, non_blocking=True)
    return value.to(device, non_blocking=True)


def call_model(model: nn.Module, inputs: Any) -> Any:
    """`model(inputs)`, or `model(*inputs)` for models of several inputs (tokens and lengths)."""
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)
