"""The K-fold cut `tk cv` asks for: which part of the pool (the data outside the test split)
validates in this fold and which part trains.

Labelled items (images, texts) are cut with scikit-learn's `StratifiedKFold`, so each fold
keeps the class balance; items without one label (segmentation pairs, tagged sentences) with
`KFold`. Both shuffle with the run's seed, so every fold of one `tk cv` comes from the same cut.
"""

from __future__ import annotations

import numpy as np

from taskkit.drive import Fold
from taskkit.errors import BadInputError


def stratified_fold(pool: np.ndarray, labels: np.ndarray, names: list[str], fold: Fold, seed: int,
                    noun: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices of `pool` for `fold`, class proportions kept in each."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(labels[pool], minlength=len(names))
    for label in np.flatnonzero(counts < fold.folds):
        raise BadInputError(f"class '{names[label]}' has only {counts[label]} {noun}s outside the test split; "
                            f"--folds {fold.folds} needs at least {fold.folds} of each class")
    splitter = StratifiedKFold(n_splits=fold.folds, shuffle=True, random_state=seed)
    train, val = list(splitter.split(pool, labels[pool]))[fold.index]
    return np.sort(pool[train]), np.sort(pool[val])


def plain_fold(pool: np.ndarray, fold: Fold, seed: int, noun: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices of `pool` for `fold`, for items that have no single class."""
    from sklearn.model_selection import KFold

    if len(pool) < fold.folds:
        raise BadInputError(f"{len(pool)} {noun}s outside the test split cannot make --folds {fold.folds}")
    train, val = list(KFold(n_splits=fold.folds, shuffle=True, random_state=seed).split(pool))[fold.index]
    return np.sort(pool[train]), np.sort(pool[val])
