"""The training loop every task shares: one epoch, evaluation, prediction and `fit`.

Kept as plain functions over a model, a loss, an optimizer and loaders, so a task can read
it top to bottom and a benchmark can compare it with a hand-written loop. Everything that
is not the loop itself (logging, checkpoints, early stopping, progress) is a callback.
"""

from __future__ import annotations

import math
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import Tensor, nn

from taskkit.errors import TrainingError
from taskkit.train.state import Callback, FitState
from taskkit.train.step import IGNORE_INDEX, StepOptions, autocast, call_model, model_loss, to_device

__all__ = ["IGNORE_INDEX", "Callback", "Evaluation", "FitState", "StepOptions", "autocast", "call_model",
           "evaluate", "fit", "model_loss", "predict", "seed_everything", "to_device", "train_one_epoch"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so an epoch's randomness depends only on `seed`."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _check_finite(loss_flags: Tensor, epoch: int, step: int) -> None:
    if bool(loss_flags.any()):
        raise TrainingError(
            f"loss became NaN or infinite in epoch {epoch}, at or before step {step}; "
            "lower --lr or set --clip-grad (the last good checkpoint is kept)"
        )


def _hits(logits: Tensor, targets: Tensor) -> tuple[Tensor | int, Tensor | int]:
    """Right predictions and how many were judged: per sample, per token [B, T, C] or pixel
    [B, C, H, W] (padding left out), or against the dominant label of per-class probabilities
    (mixup, cutmix); none for other float targets."""
    if targets.is_floating_point():
        if logits.dim() == 2 and targets.shape == logits.shape:
            return (logits.argmax(1) == targets.argmax(1)).sum(), len(targets)
        return 0, 0
    if targets.dim() == 1:
        return (logits.argmax(1) == targets).sum(), len(targets)
    if logits.dim() in (3, 4):
        real = targets != IGNORE_INDEX
        return (logits.argmax(1 if logits.dim() == 4 else -1)[real] == targets[real]).sum(), real.sum()
    return 0, 0


@dataclass
class _EpochSums:
    """What one epoch adds up: the loss (a float where each step's loss is read at once, else a
    tensor on the device), whether any loss was not finite, right and judged predictions, inputs."""

    total_loss: Any
    bad: Tensor
    correct: Tensor
    judged: Tensor  # predictions that have a label
    seen: int = 0

    @classmethod
    def zeros(cls, device: torch.device, on_host: bool) -> "_EpochSums":
        return cls(0.0 if on_host else torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.bool),
                   torch.zeros((), device=device, dtype=torch.long), torch.zeros((), device=device, dtype=torch.long))

    def add_loss(self, loss: Tensor, count: int, options: StepOptions, on_host: bool, epoch: int, step: int) -> None:
        """On the host, read the loss now and check it; on the device, keep a flag, checked every `check_every` steps."""
        if on_host:
            value = loss.item()
            if not math.isfinite(value):
                _check_finite(torch.tensor(True), epoch, step)
            self.total_loss += value * count
            return
        self.bad |= ~torch.isfinite(loss.detach())
        self.total_loss += loss.detach() * count
        if step % options.check_every == 0:
            _check_finite(self.bad if options.reduce is None else options.reduce(self.bad.long()) > 0, epoch, step)

    def add_hits(self, logits: Tensor, targets: Tensor) -> None:
        hits, judged_now = _hits(logits, targets)
        self.correct += hits
        self.judged += judged_now
        self.seen += len(targets)

    def row(self, options: StepOptions, epoch: int, steps: int) -> dict[str, float]:
        """The epoch's mean loss and accuracy, summed over every process first where there are several."""
        bad, total_loss, seen, correct, judged = self.bad, self.total_loss, self.seen, self.correct, self.judged
        if options.reduce is not None:
            bad = options.reduce(bad.long()) > 0
            total_loss, seen, correct, judged = options.reduce(torch.stack([
                torch.as_tensor(total_loss, dtype=torch.float64), torch.tensor(seen, dtype=torch.float64),
                correct.double(), judged.double()]).to(options.device)).tolist()
        _check_finite(bad, epoch, steps)
        return {"train_loss": float(total_loss) / max(seen, 1), "train_acc": float(correct) / max(int(judged), 1)}


def _backward(model: nn.Module, inputs: Any, targets: Tensor, loss_fn: Callable, options: StepOptions,
              no_sync: Callable | None) -> tuple[Tensor, Tensor]:
    """Forward and backward of one batch (under `no_sync()` where given); returns logits and the loss."""
    regularizer, scaler = options.regularizer, options.scaler
    with (nullcontext() if no_sync is None else no_sync()):
        with autocast(options):
            logits, loss = model_loss(call_model(model, inputs), targets, loss_fn)
        if regularizer is not None:
            loss = regularizer.add_penalty(loss)
        scaled = loss / options.accumulate if options.accumulate > 1 else loss
        (scaled if scaler is None else scaler.scale(scaled)).backward()
    return logits, loss


def _optimizer_step(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, options: StepOptions,
                    state: FitState) -> None:
    """Clip, step (through the scaler where there is one), update the average, and advance a per-step scheduler."""
    scaler = options.scaler
    if options.clip_grad:
        if scaler is not None:
            scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), options.clip_grad)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)  # skipped when the scaled gradients overflowed
        scaler.update()
    if options.regularizer is not None:
        options.regularizer.after_step()
    optimizer.zero_grad(set_to_none=True)
    state.global_step += 1
    if scheduler is not None and not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step()


def train_one_epoch(model: nn.Module, loader: Iterable, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                    scheduler: Any, options: StepOptions, state: FitState,
                    callbacks: list[Callback] = ()) -> dict[str, float]:
    """One pass over `loader`; returns mean loss (with any penalty) and accuracy where targets
    are labels (for mixed, soft targets: against the dominant label).

    On the CPU each step's loss is read at once (free there) to check it is finite; on an
    accelerator a flag stays on the device and is read every `check_every` steps, so the
    loop does not wait on the device after each step. With several processes (`reduce`),
    the flag is summed over all of them at each check, so they stop at the same step, and
    the epoch's sums are added up over all of them at the end.
    """
    model.train()
    device, regularizer = options.device, options.regularizer
    on_host = options.check_every == 1 and options.reduce is None
    no_sync = getattr(model, "no_sync", None)  # skips the gradient all-reduce of batches that do not step
    sums = _EpochSums.zeros(device, on_host)
    steps = len(loader)
    optimizer.zero_grad(set_to_none=True)
    for step, (inputs, targets) in enumerate(loader, start=1):
        inputs, targets = to_device(inputs, device, options.channels_last), targets.to(device, non_blocking=True)
        if regularizer is not None:
            inputs, targets = regularizer.mix(inputs, targets)
        steps_now = step % options.accumulate == 0 or step == steps
        logits, loss = _backward(model, inputs, targets, loss_fn, options, None if steps_now else no_sync)
        sums.add_loss(loss, len(targets), options, on_host, state.epoch + 1, step)
        if steps_now:
            _optimizer_step(model, optimizer, scheduler, options, state)
        sums.add_hits(logits.detach(), targets)
        for callback in callbacks:
            callback.on_step(state, step, steps)
    return sums.row(options, state.epoch + 1, steps)


@dataclass
class Evaluation:
    loss: float
    logits: Tensor  # on the CPU, in loader order
    targets: Tensor
    samples: int = 0  # inputs evaluated (texts, not tokens, for a tagger)

    @classmethod
    def combine(cls, parts: list["Evaluation"]) -> "Evaluation":
        """One evaluation of the whole set from those of its consecutive shards, in order."""
        samples = sum(p.samples for p in parts)
        loss = sum(p.loss * p.samples for p in parts) / max(samples, 1)
        return cls(loss, torch.cat([p.logits for p in parts]), torch.cat([p.targets for p in parts]), samples)

    @property
    def accuracy(self) -> float:
        return (self.logits.argmax(1) == self.targets).float().mean().item() if len(self.targets) else 0.0

    def extra_metrics(self) -> dict[str, float]:
        """Validation metrics beyond loss and accuracy, added to each epoch's row (none here)."""
        return {}


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, options: StepOptions) -> Evaluation:
    """Loss over `loader` plus every logit and target, for metrics computed afterwards."""
    model.eval()
    total, seen, all_logits, all_targets = torch.zeros((), device=options.device), 0, [], []
    for inputs, targets in loader:
        inputs, targets = to_device(inputs, options.device, options.channels_last), targets.to(options.device)
        with autocast(options):
            logits = call_model(model, inputs)
            total += loss_fn(logits, targets).float() * len(targets)
        seen += len(targets)
        if logits.dim() == 3:  # one prediction per token: keep the real tokens, flattened
            real = targets != IGNORE_INDEX
            logits, targets = logits[real], targets[real]
        all_logits.append(logits.float().cpu())
        all_targets.append(targets.cpu())
    logits = torch.cat(all_logits) if all_logits else torch.empty(0)
    targets = torch.cat(all_targets) if all_targets else torch.empty(0, dtype=torch.long)
    return Evaluation(total.item() / max(seen, 1), logits, targets, seen)


@torch.no_grad()
def predict(model: nn.Module, inputs: Tensor, options: StepOptions, batch_size: int = 256) -> Tensor:
    """Softmax probabilities for a stack of inputs."""
    model.eval()
    outputs = []
    for batch in inputs.split(batch_size):
        with autocast(options):
            outputs.append(model(batch.to(options.device)).float().softmax(1).cpu())
    return torch.cat(outputs)


def fit(model: nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer, scheduler: Any,
        train_loader: Any, val_loader: Any, options: StepOptions, state: FitState,
        callbacks: list[Callback], seed: int,
        on_epoch_start: Callable[[int], None] | None = None, evaluator: Callable = evaluate,
        scored: nn.Module | None = None, process: int = 0) -> FitState:
    """Train from `state.epoch` to `state.epochs`, evaluating on validation after each epoch.

    Each epoch reseeds every generator from `seed` and the epoch number, so an epoch's
    randomness does not depend on what ran before it: a resumed run repeats exactly.
    `evaluator` is `evaluate` or a task's own with the same signature (segmentation counts
    pixels instead of keeping every logit); its result's `extra_metrics()` join the row.
    `scored` is the model validation scores when it is not `model` (the weight average, or
    the plain model inside a compiled or distributed one). `process` (the rank among
    processes training together) offsets the seed, so that each draws its own dropout and
    augmentations; the data order comes from the loaders' own generator, alike in all.
    """
    for callback in callbacks:
        callback.on_fit_start(state)
    while state.epoch < state.epochs and state.stop_reason is None:
        started = time.perf_counter()
        seed_everything(seed * 1000 + state.epoch + 1_000_003 * process)
        if on_epoch_start is not None:
            on_epoch_start(state.epoch)
        row = train_one_epoch(model, train_loader, loss_fn, optimizer, scheduler, options, state, callbacks)
        val = evaluator(model if scored is None else scored, val_loader, loss_fn, options)
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(val.loss)
        state.epoch += 1
        state.val_samples = val.samples
        row = {"epoch": state.epoch, **row, "val_loss": val.loss, "val_acc": val.accuracy, **val.extra_metrics(),
               "lr": optimizer.param_groups[0]["lr"], "time": round(time.perf_counter() - started, 4)}
        state.history.append(row)
        for callback in callbacks:
            callback.on_epoch_end(state, row)
    for callback in callbacks:
        callback.on_fit_end(state)
    return state
