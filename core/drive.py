"""The run context a driving command sets around a task's run: `tk cv`, `tk tune`, `tk lr-find`.

Those commands (in `taskkit.recipes`) run the task exactly as `tk TASK` would, so they work
for every task, a plugin's included, without knowing its options. What they add travels in
a `Drive` set for the duration of the run, read at three seams every task passes through:
the data split (`fold`: K-fold cross-validation), the training callbacks (`callbacks`:
tune's pruner, given the metric the task monitors) and the fit itself (`probe`: lr-find's
sweep instead of training). The run directories the task claims are
collected in `runs` by the training flow. This module sits low so that the data splits and
the training flow can read it; it imports nothing of taskkit's.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator


@dataclass(frozen=True)
class Fold:
    """Fold `index` (from 0) of `folds`: its part of the pool is validation, the rest trains."""

    index: int
    folds: int


@dataclass
class Drive:
    fold: Fold | None = None
    callbacks: Callable[[str], list] | None = None
    probe: Callable[[Any], dict[str, Any]] | None = None
    record: dict[str, Any] = field(default_factory=dict)  # extra entries for each run.json
    runs: list[Path] = field(default_factory=list)


class ProbeFinished(Exception):
    """Raised after a `probe` ran in place of training, so the task command stops there."""

    def __init__(self, result: dict[str, Any]):
        super().__init__("probe finished")
        self.result = result


_current: ContextVar[Drive | None] = ContextVar("taskkit_drive", default=None)


def current() -> Drive | None:
    """The drive of the task run in progress, or None for a plain `tk TASK`."""
    return _current.get()


@contextlib.contextmanager
def driving(drive: Drive) -> Iterator[Drive]:
    token = _current.set(drive)
    try:
        yield drive
    finally:
        _current.reset(token)
