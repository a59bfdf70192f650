"""Time-ordered splits (`--split time --time-col COL`), for data that drifts over time.

A random split lets a model train on rows from after the ones it is tested on, which
flatters it wherever the data changes with time. Here the latest rows are the test set and
the ones just before them validate, so the scores say how the model does on the future.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from taskkit import drive
from taskkit.errors import BadInputError


def time_column(options: dict[str, Any]) -> str | None:
    """The time column a run splits by (`--split time --time-col COL`), or None for random splits."""
    split, column = options.get("split", "random"), options.get("time_col")
    if split not in ("random", "time"):
        raise BadInputError(f"--split must be random or time, got '{split}'")
    if split == "time" and not column:
        raise BadInputError("--split time needs --time-col COL, the column that orders the rows in time")
    if split == "random" and column:
        raise BadInputError(f"--time-col {column} orders rows only with --split time; add it or drop --time-col")
    return column if split == "time" else None


def time_keys(values: list[str], where: Callable[[int], str]) -> np.ndarray:
    """Sortable keys of a time column: all numbers, or all ISO dates and times (naive ones read as UTC)."""
    from datetime import datetime, timezone

    try:
        return np.array([float(v) for v in values])
    except ValueError:
        pass
    keys = []
    for i, value in enumerate(values):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise BadInputError(f"{where(i)}: time '{value}' is neither a number nor an ISO date "
                                f"(e.g. 2024-05-01 or 2024-05-01T13:30); the time column needs one or the other") from None
        keys.append((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())
    return np.array(keys)


def time_splits(keys: np.ndarray, given: dict[str, np.ndarray], val_split: float, test_split: float,
                noun: str = "item") -> dict[str, np.ndarray]:
    """Train, val and test in time order: the latest `test_split` of the pool is test, the
    `val_split` before it validation, the rest (the earliest) trains. Under a `drive.Fold`, the
    part before the test split is cut by scikit-learn's `TimeSeriesSplit` instead: each fold
    trains on the past and validates on the stretch that follows it."""
    pool = given["train"]
    ordered = pool[np.lexsort((pool, keys[pool]))]
    counts = {s: (max(1, round(f * len(pool))) if f > 0 and s not in given else 0)
              for s, f in (("test", test_split), ("val", val_split))}
    parts = {s: given[s] for s in ("val", "test") if s in given}
    end = len(ordered)
    for split in ("test", "val"):
        if counts[split]:
            parts[split], end = ordered[end - counts[split]:end], end - counts[split]
    fold = drive.current().fold if drive.current() else None
    if fold is not None:
        from sklearn.model_selection import TimeSeriesSplit

        past = np.concatenate([ordered[:end], ordered[end:end + counts["val"]]])
        if len(past) <= fold.folds:
            raise BadInputError(f"{len(past)} {noun}s before the test split cannot make --folds {fold.folds}")
        train, val = list(TimeSeriesSplit(n_splits=fold.folds).split(past))[fold.index]
        parts["val"], end, ordered = past[val], len(train), past
    if end == 0:
        raise BadInputError(f"--val-split {val_split} and --test-split {test_split} leave no {noun} to train on")
    empty = np.array([], dtype=np.int64)
    parts["train"] = ordered[:end]
    return {s: np.sort(parts.get(s, empty)).astype(np.int64) for s in ("train", "val", "test")}
