"""Batches of token ids: padding, lengths, and a sampler that keeps similar lengths together.

A batch costs what its longest text costs, so random batches of short and long texts spend
much of their time on padding. The bucketing sampler shuffles the data, sorts each pool of
`pool_batches` batches by length, cuts the pool into batches and shuffles the batches: lengths
within a batch are close, the order of batches stays random, and each epoch differs.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler

from taskkit.sequence import PAD_ID


class TokenDataset(Dataset):
    """Token-id lists with one target each: a class index, or a list of tag indices (one per token)."""

    def __init__(self, ids: list[list[int]], targets: Sequence):
        self.ids, self.targets = ids, list(targets)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int):
        return self.ids[index], self.targets[index]

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.ids]


def pad_batch(items: list[tuple[list[int], object]], ignore_index: int = -100):
    """`((tokens [B, T], lengths [B]), targets)`, padded with PAD_ID (per-token targets with `ignore_index`)."""
    lengths = torch.tensor([len(ids) for ids, _ in items], dtype=torch.long)
    tokens = torch.full((len(items), int(lengths.max())), PAD_ID, dtype=torch.long)
    for row, (ids, _) in enumerate(items):
        tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    first = items[0][1]
    if isinstance(first, list):
        targets = torch.full(tokens.shape, ignore_index, dtype=torch.long)
        for row, (_, tags) in enumerate(items):
            targets[row, : len(tags)] = torch.tensor(tags, dtype=torch.long)
    else:
        targets = torch.tensor([t for _, t in items], dtype=torch.long)
    return (tokens, lengths), targets


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices of similar length, in random order; with `shuffle=False`, sorted by length."""

    def __init__(self, lengths: list[int], batch_size: int, generator: torch.Generator | None = None,
                 shuffle: bool = True, pool_batches: int = 50):
        self.lengths, self.batch_size, self.generator = lengths, batch_size, generator
        self.shuffle, self.pool = shuffle, batch_size * pool_batches

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            order = sorted(range(len(self.lengths)), key=lambda i: self.lengths[i])
            yield from (order[i: i + self.batch_size] for i in range(0, len(order), self.batch_size))
            return
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        batches = []
        for start in range(0, len(order), self.pool):
            pool = sorted(order[start: start + self.pool], key=lambda i: self.lengths[i])
            batches += [pool[i: i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        for position in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[position]
