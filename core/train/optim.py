"""Optimizers and learning-rate schedules by name.

Weight decay is applied to weights only: decaying biases and normalisation parameters
shrinks them toward zero without any regularising benefit, so they go into a group with
weight decay 0. Embedding tables built with sparse gradients go into a third group that
SparseAdam updates beside the chosen optimizer (taskkit.train.sparse_tables). Every schedule but `plateau` is stepped once per optimizer step and written
as a function of the epoch, so a resumed run follows the same curve.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn

from taskkit.errors import BadInputError
from taskkit.train.sparse_tables import SPARSE, TablesAndRest, is_sparse_table, with_sparse_tables

OPTIMIZERS = ("sgd", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "warmup+cosine", "onecycle", "plateau")


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters split into a decayed group (weights) and an undecayed one."""
    return decay_groups([model], weight_decay, lambda param: param.requires_grad)


def decay_groups(modules: Iterable[nn.Module], weight_decay: float, keep: Callable[[nn.Parameter], bool],
                 **extra) -> list[dict]:
    """The kept parameters of `modules` (each once) as a decayed and an undecayed group, and a
    group of sparse embedding tables (never decayed) where there are any.

    `extra` goes into every group (a name, a learning rate of their own).
    """
    decay, no_decay, tables, seen = [], [], [], set()
    for root in modules:
        for module in root.modules():
            is_norm = isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm))
            for name, param in module.named_parameters(recurse=False):
                if id(param) in seen or not keep(param):
                    continue
                seen.add(id(param))
                if is_sparse_table(module, name):
                    tables.append(param)
                else:
                    (no_decay if is_norm or name == "bias" or param.ndim <= 1 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay, **extra},
              {"params": no_decay, "weight_decay": 0.0, **extra},
              {"params": tables, "weight_decay": 0.0, SPARSE: True, **extra}]
    return [g for g in groups if g["params"]]


def add_param_groups(optimizer: torch.optim.Optimizer, scheduler, groups: list[dict]) -> None:
    """Add parameter groups mid-run, at the point of the schedule the run has reached.

    Every schedule here moves all groups' rates by the same factor, so a new group takes the
    first group's current rate scaled by the ratio of their `base_lr`s, along with the first
    group's schedule keys (OneCycle's bounds and momentum). LambdaLR also keeps a list of base
    rates and functions, one per group, which grows with them.
    """
    reference = optimizer.param_groups[0]
    for group in groups:
        if group.get(SPARSE) and not isinstance(optimizer, TablesAndRest):
            raise ValueError("a sparse embedding table cannot join mid-run an optimizer built without one; "
                             "build the model with its tables trainable from the start")
        ratio = group["base_lr"] / reference["base_lr"]
        new = {key: value for key, value in reference.items() if key not in ("params", SPARSE)}
        new.update(group)
        for key in ("lr", "initial_lr", "max_lr", "min_lr"):
            if key in reference:
                new[key] = reference[key] * ratio
        optimizer.add_param_group(new)
        if isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
            scheduler.base_lrs.append(new["initial_lr"])
            scheduler.lr_lambdas.append(scheduler.lr_lambdas[0])


def build_optimizer(name: str, groups: Iterable[dict], lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """An optimizer by name; `sgd` uses momentum, `nesterov` is SGD with Nesterov momentum.

    Groups of sparse embedding tables are left to SparseAdam, joined to the named optimizer.
    """
    if name not in OPTIMIZERS:
        raise BadInputError(_unknown("optimizer", name, OPTIMIZERS))
    return with_sparse_tables(list(groups), lambda dense: _named_optimizer(name, dense, lr, momentum), lr)


def _named_optimizer(name: str, groups: list[dict], lr: float, momentum: float) -> torch.optim.Optimizer:
    factories: dict[str, Callable[[], torch.optim.Optimizer]] = {
        "sgd": lambda: torch.optim.SGD(groups, lr=lr, momentum=momentum),
        "nesterov": lambda: torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0),
        "adagrad": lambda: torch.optim.Adagrad(groups, lr=lr),
        "adadelta": lambda: torch.optim.Adadelta(groups, lr=lr),
        "rmsprop": lambda: torch.optim.RMSprop(groups, lr=lr, momentum=0.0),
        "adam": lambda: torch.optim.Adam(groups, lr=lr),
        "adamw": lambda: torch.optim.AdamW(groups, lr=lr),
    }
    return factories[name]()


def epoch_multiplier(name: str, epochs: int, warmup_epochs: float) -> Callable[[float], float]:
    """The LR multiplier as a function of the (fractional) epoch for per-step schedules."""
    def cosine(t: float) -> float:
        return 0.5 * (1 + math.cos(math.pi * min(t / epochs, 1.0)))

    def warmup_cosine(t: float) -> float:
        if t < warmup_epochs:
            return (t + 1e-3) / warmup_epochs
        span = max(epochs - warmup_epochs, 1e-8)
        return 0.5 * (1 + math.cos(math.pi * min((t - warmup_epochs) / span, 1.0)))

    step_size = max(epochs // 3, 1)
    milestones = (int(epochs * 0.5), int(epochs * 0.75))
    return {
        "none": lambda t: 1.0,
        "step": lambda t: 0.1 ** (int(t) // step_size),
        "multistep": lambda t: 0.1 ** sum(int(t) >= m for m in milestones),
        "exponential": lambda t: 0.9 ** int(t),
        "cosine": cosine,
        "warmup+cosine": warmup_cosine,
    }[name]


def build_scheduler(name: str, optimizer: torch.optim.Optimizer, *, epochs: int, steps_per_epoch: int,
                    warmup_epochs: float = 1.0):
    """A scheduler by name, stepped per optimizer step except `plateau` (per epoch, on val loss)."""
    if name not in SCHEDULERS:
        raise BadInputError(_unknown("scheduler", name, SCHEDULERS))
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=2)
    if name == "onecycle":
        max_lrs = [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lrs,
                                                   total_steps=epochs * steps_per_epoch)
    by_epoch = epoch_multiplier(name, epochs, warmup_epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: by_epoch(step / steps_per_epoch))


def _unknown(what: str, name: str, choices: Iterable[str]) -> str:
    from difflib import get_close_matches

    close = get_close_matches(name, list(choices), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {what} '{name}'; {hint}choose from {', '.join(choices)}"
