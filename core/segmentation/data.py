"""Segmentation datasets: checked image/mask pairs, split, resized and augmented together.

An image and its mask take the same augmentation draw (`taskkit.data.augment`), so a flip or a
rotation moves both alike, then a resize that is bilinear for the image and nearest-neighbour
for the mask (a class number must never be averaged with its neighbour). Training,
evaluation and prediction share the resize; only training augments.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from taskkit import drive
from taskkit.data.augment import build_augmenter
from taskkit.data import decoding
from taskkit.data import images as img
from taskkit.data.folds import plain_fold
from taskkit.train.engine import IGNORE_INDEX
from taskkit.errors import BadInputError
from taskkit.segmentation.masks import CheckedPairs, check_pairs, check_values, class_names, find_pairs, read_mask

STATS_SAMPLE = 200
SPLITS = ("train", "val", "test")


@dataclass
class SegmentationData:
    """Train/val/test datasets of `(normalised [C, H, W] image, [H, W] class targets)` and what a run records."""

    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    classes: list[str]
    in_channels: int
    size: tuple[int, int]  # (height, width) every image is resized to
    mean: list[float]
    std: list[float]
    skipped: list[tuple[str, str]]
    source: str

    def train_targets(self) -> list[int]:
        """No image has a single label to balance by."""
        return []


class MaskedImages(torch.utils.data.Dataset):
    """Image/mask pairs decoded on access, so memory stays flat and workers can pickle it.

    Mask pixels equal to `ignore_value` become the engine's `IGNORE_INDEX`, which every loss
    and metric leaves out.
    """

    def __init__(self, pairs: list[tuple[str, str]], channels: int, size: tuple[int, int], mean: list[float],
                 std: list[float], ignore_value: int | None = None, augment: Any = None):
        import albumentations as A

        self.pairs, self.channels, self.size, self.ignore_value = list(pairs), channels, tuple(size), ignore_value
        self.mean, self.std = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
        self.augment, self.resize = augment, A.Resize(*self.size)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_path, mask_path = self.pairs[index]
        out = {"image": decoding.decode(image_path, self.channels), "mask": read_mask(mask_path)}
        if self.augment is not None:
            out = self.augment(**out)
        out = self.resize(**out)
        image = out["image"] if out["image"].ndim == 3 else out["image"][..., None]
        target = torch.from_numpy(out["mask"].astype(np.int64))
        if self.ignore_value is not None:
            target[target == self.ignore_value] = IGNORE_INDEX
        return img.to_tensor(image, self.mean, self.std), target


def load_segmentation_data(folder: str | Path, *, img_size: int | None = None, min_img_size: int = 1,
                           val_split: float = 0.1, test_split: float = 0.1, seed: int = 0, strict: bool = False,
                           classes: list[str] | None = None, ignore_value: int | None = None, augment: str = "none",
                           run: dict[str, Any] | None = None, whole: bool = False) -> SegmentationData:
    """Pairs from `folder` (or its train/val/test subfolders), checked, split, sized and normalised.

    `run` (a trained run's model spec) fixes classes, channels, size and statistics, for
    evaluating it; `whole` puts every pair in the test split (other labelled data); `augment`
    is an `--aug` spec for the train split.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"--data {folder} is not a folder; a segmentation dataset holds images/ and masks/")
    parts = {s: find_pairs(folder / s) for s in SPLITS if (folder / s / "images").is_dir()} or {"train": find_pairs(folder)}
    if "train" not in parts:
        raise BadInputError(f"{folder} has split folders but no train/; add train/images and train/masks")
    checked = {s: check_pairs(p, ignore_value, strict) for s, p in parts.items()}
    everything = _joined(checked.values())
    names = run["classes"] if run else class_names(classes, folder, everything.largest_value)
    check_values(everything, names, ignore_value)
    split = _split(checked, val_split, test_split, seed, whole)
    channels = run["in_channels"] if run else (1 if all(m in decoding.GRAY_MODES for m in everything.modes) else 3)
    size = tuple(run["input_size"]) if run else _size(everything.sizes, img_size)
    if min(size) < min_img_size:
        raise BadInputError(f"images are {size[1]}x{size[0]} but the backbone needs at least {min_img_size} px; "
                            f"pass --img-size {min_img_size} or more")
    mean, std = (run["mean"], run["std"]) if run else _stats(split["train"], channels, size, seed)
    augmenter = build_augmenter(augment, channels, size, mask_fill=ignore_value)
    datasets = {s: MaskedImages(p, channels, size, mean, std, ignore_value, augmenter if s == "train" else None)
                for s, p in split.items()}
    return SegmentationData(datasets["train"], datasets["val"], datasets["test"], list(names), channels, size,
                            mean, std, everything.skipped, str(folder))


def _joined(parts) -> CheckedPairs:
    joined = CheckedPairs([], [], [], [], [])
    for part in parts:
        for field in ("pairs", "sizes", "modes", "values", "skipped"):
            getattr(joined, field).extend(getattr(part, field))
    return joined


def _split(checked: dict[str, CheckedPairs], val_split: float, test_split: float, seed: int,
           whole: bool) -> dict[str, list[tuple[str, str]]]:
    """Given split folders as they are; missing val/test carved at random (seeded) from train."""
    from sklearn.model_selection import train_test_split

    if whole:
        return {"train": [], "val": [], "test": _joined(checked.values()).pairs}
    for flag, value in (("--val-split", val_split), ("--test-split", test_split)):
        if not 0.0 <= value < 1.0:
            raise BadInputError(f"{flag} must be a fraction in [0, 1), not {value}")
    pool = checked["train"].pairs
    parts = {s: checked[s].pairs for s in ("val", "test") if s in checked}
    total = len(pool)
    fold = drive.current().fold if drive.current() else None
    if fold is not None:
        pool, parts["val"] = pool + parts.get("val", []), []
    for name, fraction in (("test", test_split), ("val", 0.0 if fold else val_split)):
        if name in parts:
            continue
        count = max(1, round(fraction * total)) if fraction > 0 else 0
        if count >= len(pool):
            raise BadInputError(f"{total} images leave nothing to train on after --val-split/--test-split; "
                                f"lower them or add images")
        if count == 0:
            parts[name] = []
            continue
        pool, parts[name] = train_test_split(pool, test_size=count, random_state=seed)
    if fold is not None:
        pool = sorted(pool)
        train, val = plain_fold(np.arange(len(pool)), fold, seed, "image")
        pool, parts["val"] = [pool[i] for i in train], [pool[i] for i in val]
    if not parts["val"]:
        raise BadInputError("no validation images: the best epoch is chosen on them; give a val/ folder or "
                            "a --val-split above 0")
    return {"train": sorted(pool), "val": sorted(parts["val"]), "test": sorted(parts["test"])}


def _size(sizes: list[tuple[int, int]], img_size: int | None) -> tuple[int, int]:
    """`--img-size` as a square, else the images' own size (the most common one if they differ)."""
    if img_size is not None:
        if img_size < 1:
            raise BadInputError(f"--img-size must be positive, got {img_size}")
        return img_size, img_size
    return Counter(sizes).most_common(1)[0][0]


def _stats(pairs: list[tuple[str, str]], channels: int, size: tuple[int, int], seed: int) -> tuple[list[float], list[float]]:
    """Channel mean and std of (a sample of) the train split's images at training size."""
    import albumentations as A

    if not pairs:
        raise BadInputError("the train split is empty; add images or lower --val-split/--test-split")
    chosen = np.random.default_rng(seed).permutation(len(pairs))[:STATS_SAMPLE]
    resize = A.Resize(*size)
    return img.channel_stats(resize(image=decoding.decode(pairs[i][0], channels))["image"] for i in sorted(chosen))
