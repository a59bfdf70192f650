"""Stratified train/val/test splits, and `load_image_data`, which assembles them into `ImageData`.

Split folders the user gave are kept as they are; whatever is missing (val, test, or both)
is carved from the training pool with scikit-learn's stratified `train_test_split`, then
nudged so every class present has at least one image in every carved split. Indices come
back sorted, so a split lists its files in path order and a seed reproduces it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from taskkit import drive
from taskkit.data import cache as image_cache
from taskkit.data import decoding
from taskkit.data import images as img
from taskkit.data.datasets import ArrayImages, FileImages
from taskkit.data.folds import stratified_fold
from taskkit.data.sources import ArraySource, FileSource, resolve, select_classes
from taskkit.data.time_order import time_keys, time_splits
from taskkit.errors import BadInputError

FILE_DEFAULT_SIZE = 64
STATS_SAMPLE = 2000
CHANNEL_SAMPLE = 50


@dataclass
class ImageData:
    """Train/val/test datasets of `(normalised [C, S, S] tensor, label)` and what a run records about them."""

    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    classes: list[str]
    in_channels: int
    img_size: int
    mean: list[float]
    std: list[float]
    skipped: list[tuple[str, str]]
    source: str
    loading: str = ""  # where the images are served from, for the run's start banner

    def train_targets(self) -> list[int]:
        """Labels of the train split, for class-balance sampling and loss weights."""
        return list(self.train.targets)


def load_image_data(data: str, *, data_root: str | None = None, img_size: int | None = None,
                    min_img_size: int = 1, val_split: float = 0.1, test_split: float = 0.1,
                    seed: int = 0, strict: bool = False, classes: list[str] | None = None,
                    in_channels: int | None = None, train_augment: Callable[..., Any] | None = None,
                    mean: list[float] | None = None, std: list[float] | None = None,
                    keep_classes: list[str] | None = None, augment: str | None = None,
                    time_col: str | None = None, cache: str = "none", cache_budget: float | None = None) -> ImageData:
    """Read `data` (a named dataset, folder or manifest) into stratified, normalised splits.

    `classes` (a trained run's classes) fixes the label order, and `mean`/`std` (a run's
    statistics) replace those of the train split, for evaluating a run on new data;
    `train_augment` (albumentations call convention) touches train items only;
    `keep_classes` (`--classes`) leaves out the images of every other class; `augment` (an
    `--aug` spec) builds `train_augment` once the channels and size are known; `time_col` (a
    manifest column, `--split time`) splits by time instead of at random; `cache` and
    `cache_budget` (`--cache`, `--cache-budget`) decide whether files are decoded once
    (`taskkit.data.cache`).
    """
    _check_fractions(val_split, test_split)
    if in_channels not in (None, 1, 3):
        raise BadInputError(f"in_channels must be 1 or 3, not {in_channels}")
    if (mean is None) != (std is None):
        raise BadInputError("pass both mean and std (a trained run's statistics) or neither")
    source = resolve(data, data_root, time_col=time_col)
    if keep_classes:
        source = select_classes(source, keep_classes)
    opts = dict(img_size=img_size, min_img_size=min_img_size, val_split=val_split, test_split=test_split,
                seed=seed, classes=classes, in_channels=in_channels, train_augment=train_augment or augment,
                stats=None if mean is None else (list(mean), list(std)))
    if isinstance(source, ArraySource):
        return _from_arrays(source, data, **opts)
    return _from_files(source, data, strict=strict, cache=cache, cache_budget=cache_budget, **opts)


def _check_fractions(val_split: float, test_split: float) -> None:
    for flag, value in (("--val-split", val_split), ("--test-split", test_split)):
        if not 0.0 <= value < 1.0:
            raise BadInputError(f"{flag} must be a fraction in [0, 1), not {value}")
    if val_split + test_split >= 1.0:
        raise BadInputError(f"--val-split {val_split} and --test-split {test_split} leave nothing to train on; "
                            f"keep their sum below 1")


def _from_arrays(source: ArraySource, data: str, *, img_size, min_img_size, val_split, test_split, seed,
                 classes, in_channels, train_augment, stats) -> ImageData:
    """A named dataset: split labels, resize all images once."""
    names, remap = _label_order(source.classes, classes, data)
    images = np.concatenate([pair[0] for pair in source.splits.values()])
    labels = remap[np.concatenate([pair[1] for pair in source.splits.values()])]
    given, start = {}, 0
    for split, (part, _) in source.splits.items():
        given["train" if split == "all" else split] = np.arange(start, start + len(part))
        start += len(part)
    parts = stratified_splits(labels, given, names, val_split, test_split, seed, every_class=True)
    channels = in_channels or source.channels
    size = max(img_size or source.size, min_img_size)
    train_augment = _augmenter(train_augment, channels, size)
    images = img.to_channels(images, channels)
    sized = img.resize(images, size)
    train_idx = parts["train"]
    mean, std = _given_stats(stats, channels) or img.channel_stats(sized[_sample(train_idx, seed)])
    datasets = {split: ArrayImages(sized[idx], labels[idx], size, mean, std,
                                   train_augment if split == "train" else None)
                for split, idx in parts.items()}
    return ImageData(datasets["train"], datasets["val"], datasets["test"], names, channels, size, mean, std,
                     [], data, "in memory")


def _from_files(source: FileSource, data: str, *, strict, img_size, min_img_size, val_split, test_split, seed,
                classes, in_channels, train_augment, stats, cache, cache_budget) -> ImageData:
    """Folders or manifests: drop unreadable files, split, decode once into a cache or per access."""
    paths, class_of, given = _flatten(source)
    probed = decoding.probe_all(paths)
    skipped = [(p, info) for p, info in zip(paths, probed) if isinstance(info, str)]
    if strict and skipped:
        path, reason = skipped[0]
        raise BadInputError(f"cannot read image '{path}' ({reason}); fix or remove it, or drop --strict to skip it")
    _check_split_classes(source, class_of, given, classes is not None)
    found = sorted(set(class_of))
    names, remap = _label_order(found, classes, data)
    position = {name: i for i, name in enumerate(found)}
    labels = remap[np.array([position[c] for c in class_of], dtype=np.int64)]
    good = np.array([not isinstance(info, str) for info in probed], dtype=bool)
    given = {split: idx[good[idx]] for split, idx in given.items()}
    if source.times:
        keys = time_keys([source.times[p] for p in paths], lambda i: f"manifest '{source.origin}', {paths[i]}")
        parts = time_splits(keys, given, val_split, test_split, noun="readable image")
    else:
        parts = stratified_splits(labels, given, names, val_split, test_split, seed, every_class=classes is None)
    train_idx = parts["train"]
    modes = [probed[i][1] for i in train_idx[:CHANNEL_SAMPLE]]
    channels = in_channels or (1 if modes and all(m in decoding.GRAY_MODES for m in modes) else 3)
    size = max(img_size or FILE_DEFAULT_SIZE, min_img_size)
    train_augment = _augmenter(train_augment, channels, size)
    files = {split: [paths[i] for i in idx] for split, idx in parts.items()}
    cached, cache_plan = image_cache.cache_splits(files, ("train", "val"), channels, size, cache, cache_budget)
    sample = _sample(train_idx, seed)
    mean, std = _given_stats(stats, channels) or img.channel_stats(
        cached["train"][np.searchsorted(train_idx, sample)] if cached.get("train") is not None
        else image_cache.decode_all([paths[i] for i in sample], channels, size))
    datasets = {split: FileImages(files[split], labels[idx], channels, size, mean, std,
                                  train_augment if split == "train" else None, cached.get(split))
                for split, idx in parts.items()}
    cache_plan = image_cache.settle(datasets, cache_plan)
    return ImageData(datasets["train"], datasets["val"], datasets["test"], names, channels, size, mean, std,
                     skipped, data, cache_plan.describe())


def _augmenter(augment: Any, channels: int, size: int) -> Any:
    """A ready augmentation callable as it is; an `--aug` spec built for these images."""
    if augment is None or callable(augment):
        return augment
    from taskkit.data.augment import build_augmenter

    return build_augmenter(augment, channels, (size, size))


def _flatten(source: FileSource) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """All files in one list, with each given split as indices into it ("all" counts as train)."""
    paths, class_of, given = [], [], {}
    for split, items in source.splits.items():
        given["train" if split == "all" else split] = np.arange(len(paths), len(paths) + len(items))
        paths.extend(p for p, _ in items)
        class_of.extend(c for _, c in items)
    return paths, class_of, given


def _check_split_classes(source: FileSource, class_of: list[str], given: dict[str, np.ndarray],
                         run_classes: bool) -> None:
    """A class in val/ or test/ must also be in train/ (unless a run's classes decide)."""
    if run_classes:
        return
    train_classes = {class_of[i] for i in given["train"]}
    for split in ("val", "test"):
        extra = sorted({class_of[i] for i in given.get(split, [])} - train_classes)
        if extra:
            raise BadInputError(f"class '{extra[0]}' is in {source.origin}/{split}/ but not in "
                                f"{source.origin}/train/; add a train/{extra[0]}/ folder or remove it")


def _label_order(found: list[str], run_classes: list[str] | None, data: str) -> tuple[list[str], np.ndarray]:
    """The class list to use and a map from each found class's index to its label."""
    if run_classes is None:
        if len(found) < 2:
            only = f" (only '{found[0]}')" if found else ""
            raise BadInputError(f"data '{data}' has fewer than 2 classes{only}; classification needs at least 2")
        return list(found), np.arange(len(found), dtype=np.int64)
    unknown = [c for c in found if c not in run_classes]
    if unknown:
        shown = ", ".join(run_classes[:10]) + (", ..." if len(run_classes) > 10 else "")
        raise BadInputError(f"data '{data}' has class '{unknown[0]}' that the trained run does not know "
                            f"(its classes: {shown}); remove it or evaluate a run trained with it")
    return list(run_classes), np.array([run_classes.index(c) for c in found], dtype=np.int64)


def stratified_splits(labels: np.ndarray, given: dict[str, np.ndarray], names: list[str],
                      val_split: float, test_split: float, seed: int, *,
                      every_class: bool = True, noun: str = "readable image") -> dict[str, np.ndarray]:
    """Sorted index arrays for train, val and test; missing splits are carved from `given["train"]`.

    `val_split` and `test_split` are fractions of the whole training pool. With `every_class`,
    each of `names` must be in the pool (a run's classes, used for evaluation, need not be).
    """
    fold = drive.current().fold if drive.current() else None
    if fold is not None:
        return _fold_splits(labels, given, names, test_split, seed, fold, noun)
    return _carved_splits(labels, given, names, val_split, test_split, seed, every_class, noun)


def _carved_splits(labels: np.ndarray, given: dict[str, np.ndarray], names: list[str], val_split: float,
                   test_split: float, seed: int, every_class: bool, noun: str) -> dict[str, np.ndarray]:
    pool = given["train"]
    fractions = {"test": test_split, "val": val_split}
    carve = [s for s in ("test", "val") if s not in given and fractions[s] > 0]
    _check_counts(labels[pool], names, carve, every_class, noun)
    parts = dict(given)
    for i, split in enumerate(carve):
        keep_min = len(carve) - i
        pool, parts[split] = _carve(pool, labels, round(fractions[split] * len(given["train"])), seed, keep_min)
    parts["train"] = pool
    return {s: np.sort(parts.get(s, np.array([], dtype=np.int64))).astype(np.int64) for s in ("train", "val", "test")}


def _fold_splits(labels: np.ndarray, given: dict[str, np.ndarray], names: list[str], test_split: float,
                 seed: int, fold: drive.Fold, noun: str) -> dict[str, np.ndarray]:
    """Cross-validation: the test split as a plain run has it; the rest (a given val/ included)
    cut into `fold.folds` stratified folds, of which `fold.index` validates."""
    plain = _carved_splits(labels, {k: v for k, v in given.items() if k != "val"}, names, 0.0, test_split,
                           seed, True, noun)
    pool = np.sort(np.concatenate([plain["train"], given.get("val", np.array([], dtype=np.int64))]))
    train, val = stratified_fold(pool, labels, names, fold, seed, noun)
    return {"train": train, "val": val, "test": plain["test"]}


def _check_counts(pool_labels: np.ndarray, names: list[str], carve: list[str], every_class: bool,
                  noun: str) -> None:
    """Every class in the pool needs one item for train and one for each split carved from it."""
    need = 1 + len(carve)
    counts = np.bincount(pool_labels, minlength=len(names))
    short = (counts < need) if every_class else (counts > 0) & (counts < need)
    for label in np.flatnonzero(short):
        n = int(counts[label])
        targets = " and ".join(["train", *sorted(carve, reverse=True)])
        raise BadInputError(
            f"class '{names[label]}' has only {n} {noun}{'s' if n != 1 else ''}; at least {need} are "
            f"needed to put one in each of {targets}; add {noun.split()[-1]}s or set --val-split/--test-split to 0"
        )


def _carve(pool: np.ndarray, labels: np.ndarray, count: int, seed: int, keep_min: int):
    """Split `count` items off `pool`, stratified; each class keeps `keep_min` and gives at least one."""
    from sklearn.model_selection import train_test_split

    present = len(np.unique(labels[pool]))
    count = min(max(count, present), len(pool) - present * keep_min)
    kept, carved = train_test_split(pool, test_size=count, stratify=labels[pool], random_state=seed)
    return _rebalance(kept, carved, labels, keep_min)


def _rebalance(kept: np.ndarray, carved: np.ndarray, labels: np.ndarray, keep_min: int):
    """Move single items so no class is missing from `carved` or short in `kept` (rare classes)."""
    to_carved, to_kept = [], []
    for label in np.unique(labels[np.concatenate([kept, carved])]):
        mine_kept = kept[labels[kept] == label]
        mine_carved = carved[labels[carved] == label]
        if len(mine_carved) == 0:
            to_carved.append(mine_kept[-1])
        elif len(mine_kept) < keep_min:
            to_kept.extend(mine_carved[: keep_min - len(mine_kept)])
    kept = np.concatenate([np.setdiff1d(kept, to_carved), np.asarray(to_kept, dtype=kept.dtype)])
    carved = np.concatenate([np.setdiff1d(carved, to_kept), np.asarray(to_carved, dtype=carved.dtype)])
    return kept, carved


def _given_stats(stats: tuple[list[float], list[float]] | None, channels: int):
    """A run's `(mean, std)`, checked against the channel count, or None to compute them."""
    if stats is not None and not len(stats[0]) == len(stats[1]) == channels:
        raise BadInputError(f"mean and std need {channels} value(s) each (one per channel), "
                            f"got {len(stats[0])} and {len(stats[1])}")
    return stats


def _sample(indices: np.ndarray, seed: int) -> np.ndarray:
    """Up to `STATS_SAMPLE` of `indices`, chosen reproducibly, for normalisation statistics."""
    if len(indices) <= STATS_SAMPLE:
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, STATS_SAMPLE, replace=False))

