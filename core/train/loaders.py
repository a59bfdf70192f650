"""The train, val and test loaders of a run, and the class weights `--balance` draws or weighs by.

Training shuffles with a generator the run reseeds each epoch, so the data order of a resumed
run is the one the uninterrupted run would have seen.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from taskkit.train.options import TrainOptions


def class_weights(targets: list[int], num_classes: int) -> list[float]:
    """Inverse-frequency weights, normalised to average 1 over the classes present."""
    counts = torch.bincount(torch.tensor(targets), minlength=num_classes).float()
    present = int((counts > 0).sum())
    weights = torch.where(counts > 0, counts.sum() / (present * counts.clamp_min(1)), torch.zeros(()))
    return weights.tolist()


def make_loaders(train: Dataset, val: Dataset, test: Dataset, options: TrainOptions,
                 train_targets: list[int], generator: torch.Generator) -> tuple[DataLoader, ...]:
    """Loaders; training shuffles with `generator`, or samples classes evenly with `--balance oversample`."""
    common = {"batch_size": options.batch_size, "num_workers": options.workers,
              "persistent_workers": options.workers > 0}  # pinned memory: set in train_and_test, for every loader
    if options.balance == "oversample":
        per_sample = torch.tensor(class_weights(train_targets, max(train_targets) + 1))[train_targets]
        sampler = WeightedRandomSampler(per_sample, len(train_targets), generator=generator)
        train_loader = DataLoader(train, sampler=sampler, generator=generator, **common)
    else:
        train_loader = DataLoader(train, shuffle=True, generator=generator, **common)
    return train_loader, DataLoader(val, **common), DataLoader(test, **common)
