"""Datasets of labelled images: arrays in memory, or files read on access or once into a cache.

Every item is HWC uint8 at the training size before it is augmented, so the pixels a cache
holds are the pixels a file gives on access. A DataLoader fetches a whole batch through
`__getitems__`: its images are gathered, augmented one by one where training augments, then
converted and normalised in one go. A training item is asked for as `(index, seed)` (see
`taskkit.train.loaders.SeededSampler`), and its augmentation draws from that seed alone, so
it is the same whichever process fetches it, with or without a cache, and after a resume.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from taskkit.data.augment import Augmenter
from taskkit.data.decoding import decode_at
from taskkit.data.images import normalise, resize

Augment = Callable[..., dict[str, Any]]
Key = int | tuple[int, int]


class ImageBatch(list):
    """A batch's `(image, label)` items that also carry the batch whole (`images` [N, C, H, W],
    `labels`): `Images.collate` takes it as it is, any other collate function sees a plain list."""

    def __init__(self, images: torch.Tensor, labels: list[int]):
        super().__init__(zip(images, labels))
        self.images, self.labels = images, labels


class Images(torch.utils.data.Dataset):
    """What every image dataset shares: labels, size, statistics, augmentation, batched conversion."""

    #: Whether a fetch decodes files, which worker processes can overlap with training.
    reads_from_disk = False
    #: The whole split normalised (`keep_normalised`), or None.
    normalised: torch.Tensor | None = None

    def __init__(self, labels: Sequence[int], size: int, mean: Sequence[float], std: Sequence[float],
                 augment: Augment | None = None):
        self.targets = [int(t) for t in labels]
        self.size, self.augment = size, augment
        self.mean = torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self.std = torch.tensor(std, dtype=torch.float32)[:, None, None]

    @property
    def takes_sample_seeds(self) -> bool:
        """Whether items should come with seeds: only an augmented dataset draws randomness."""
        return self.augment is not None

    def __len__(self) -> int:
        return len(self.targets)

    def pixels(self, indices: Sequence[int]) -> np.ndarray:
        """The images at `indices` as NHWC uint8 at the training size."""
        raise NotImplementedError

    def __getitem__(self, key: Key) -> tuple[torch.Tensor, int]:
        return self.__getitems__([key])[0]

    def keep_normalised(self) -> None:
        """Hold the whole split as the float32 batches it gives, so that each batch is one gather:
        for a split that is not augmented, and memory for four times its pixels."""
        if self.augment is None:
            self.normalised = normalise(self.pixels(range(len(self))), self.mean, self.std)

    def __getitems__(self, keys: Sequence[Key]) -> list[tuple[torch.Tensor, int]]:
        """A batch: one conversion and normalisation, not one per image."""
        indices = [key[0] if isinstance(key, tuple) else key for key in keys]
        if self.normalised is not None:
            return ImageBatch(self.normalised[torch.as_tensor(indices)], [self.targets[i] for i in indices])
        batch = self.pixels(indices)
        if self.augment is not None:
            seeds = [key[1] if isinstance(key, tuple) else None for key in keys]
            batch = np.stack([self._augmented(image, seed) for image, seed in zip(batch, seeds)])
        return ImageBatch(normalise(batch, self.mean, self.std), [self.targets[i] for i in indices])

    @staticmethod
    def collate(items: list) -> list:
        """The DataLoader's collate function for these datasets: a batch fetched whole is passed on
        as it is, where stacking its images again would copy them."""
        if isinstance(items, ImageBatch):
            return [items.images, torch.tensor(items.labels)]
        return torch.utils.data.default_collate(items)

    def _augmented(self, image: np.ndarray, seed: int | None) -> np.ndarray:
        """One augmented image, back at the training size and in HWC uint8."""
        if isinstance(self.augment, Augmenter):
            out = self.augment(image=np.ascontiguousarray(image), seed=seed)["image"]
        else:
            out = self.augment(image=np.ascontiguousarray(image))["image"]
        out = np.asarray(out)
        if out.dtype != np.uint8:
            out = np.clip(out, 0, 255).astype(np.uint8)
        out = out[..., None] if out.ndim == 2 else out
        return resize(out, self.size)


class ArrayImages(Images):
    """Images held in memory as NHWC uint8 at the training size (named datasets)."""

    def __init__(self, images: np.ndarray, labels: Sequence[int], size: int, mean: Sequence[float],
                 std: Sequence[float], augment: Augment | None = None):
        super().__init__(labels, size, mean, std, augment)
        self.images = images

    def pixels(self, indices: Sequence[int]) -> np.ndarray:
        return self.images[list(indices)]


class FileImages(Images):
    """Image files, read from `cache` (NHWC uint8 in memory or memory-mapped from disk) when one
    was made, else decoded on each access, so memory stays flat and workers can share the work."""

    def __init__(self, paths: Sequence[str], labels: Sequence[int], channels: int, size: int,
                 mean: Sequence[float], std: Sequence[float], augment: Augment | None = None,
                 cache: np.ndarray | None = None):
        super().__init__(labels, size, mean, std, augment)
        self.paths, self.channels, self.cache = list(paths), channels, cache

    @property
    def reads_from_disk(self) -> bool:  # type: ignore[override]
        return self.cache is None and self.normalised is None

    def keep_normalised(self) -> None:
        super().keep_normalised()
        if self.normalised is not None:
            self.cache = None  # the float copy replaces the uint8 one

    def pixels(self, indices: Sequence[int]) -> np.ndarray:
        if self.cache is not None:
            return self.cache[np.asarray(indices, dtype=np.int64)]
        return np.stack([decode_at(self.paths[i], self.channels, self.size) for i in indices])
