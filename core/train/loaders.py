"""The train, val and test loaders of a run, and the class weights `--balance` draws or weighs by.

Training shuffles with a generator the run reseeds each epoch, so the data order of a resumed
run is the one the uninterrupted run would have seen; an augmented dataset gets a seed for each
item from the same generator (`SeededSampler`), so its augmentation does not depend on which
worker process fetches the item, nor on what that worker fetched before.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, WeightedRandomSampler

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
    workers = worker_count(options.workers, train)
    common = {"batch_size": options.batch_size, "num_workers": workers,
              "persistent_workers": workers > 0}  # pinned memory: set in train_and_test, for every loader
    if options.balance == "oversample":
        per_sample = torch.tensor(class_weights(train_targets, max(train_targets) + 1))[train_targets]
        sampler: Sampler = WeightedRandomSampler(per_sample, len(train_targets), generator=generator)
    else:
        sampler = RandomSampler(train, generator=generator)
    if getattr(train, "takes_sample_seeds", False):
        sampler = SeededSampler(sampler, generator)
    train_loader = DataLoader(train, sampler=sampler, generator=generator, collate_fn=_collate(train), **common)
    return train_loader, DataLoader(val, collate_fn=_collate(val), **common), DataLoader(test, collate_fn=_collate(test),
                                                                                        **common)


def _collate(dataset: Dataset) -> Any:
    """A dataset's own collate function where it has one (taskkit.data.datasets), else the default."""
    return getattr(dataset, "collate", None)


def worker_count(setting: int | str, dataset: Any) -> int:
    """`--workers`: a count as given; for auto, none for data held in memory (a worker would only
    copy it) and one per core, at most 8, for a dataset whose items are decoded from files."""
    if setting != "auto":
        return int(setting)
    return min(8, os.cpu_count() or 1) if getattr(dataset, "reads_from_disk", False) else 0


class SeededSampler(Sampler):
    """Another sampler's indices, each paired with a seed for that item's augmentation, drawn from
    `generator` after the indices: `(index, seed)`, which an augmented dataset takes as its key."""

    def __init__(self, sampler: Sampler, generator: torch.Generator) -> None:
        self.sampler, self.generator = sampler, generator

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices = list(self.sampler)
        seeds = torch.randint(2**31 - 1, (len(indices),), generator=self.generator).tolist()
        return iter(zip(indices, seeds))
