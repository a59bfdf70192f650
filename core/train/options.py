"""The options every training task shares (`TrainOptions`), checked before any work starts.

Kept apart from the run that reads them, so that what they configure (regularisers, loaders,
the device) can name them without importing the run.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from taskkit.errors import BadInputError
from taskkit.options import SHARED
from taskkit.train import fast_paths


def shared(name: str) -> Any:
    """The default `SHARED` declares for `name`: defaults live in the declaration, nowhere else."""
    return field(default=SHARED[name].default)


@dataclass
class TrainOptions:
    """The options every training task shares, checked before any work starts; their defaults
    are those `SHARED` declares."""

    epochs: int = shared("epochs")
    batch_size: int = shared("batch_size")
    optimizer: str = shared("optimizer")
    lr: float = shared("lr")
    weight_decay: float = shared("weight_decay")
    momentum: float = shared("momentum")
    scheduler: str = shared("scheduler")
    warmup_epochs: float = shared("warmup_epochs")
    clip_grad: float = shared("clip_grad")
    accumulate: int = shared("accumulate")
    patience: int = shared("patience")
    balance: str = "none"  # off for a task that does not declare it (its declaration: taskkit.data.options)
    seed: int = shared("seed")
    device: str = shared("device")
    precision: str = shared("precision")
    channels_last: bool = False  # likewise
    compile: bool = shared("compile")
    devices: int = shared("devices")  # processes torchrun starts (taskkit.train.launch); each sees 1
    workers: int | str = shared("workers")  # a count, or "auto" (taskkit.train.loaders.worker_count)
    tensorboard: bool = shared("tensorboard")
    quiet: bool = shared("quiet")
    mixup: float = 0.0  # likewise
    cutmix: float = 0.0  # likewise
    l1: float = shared("l1")
    ema: float = shared("ema")  # decay of the weight average; 0: off

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "TrainOptions":
        chosen = cls(**{f.name: options[f.name] for f in fields(cls) if f.name in options})
        chosen.validate()
        return chosen

    def validate(self) -> None:
        """The ranges `SHARED` declares (for options built here rather than from a command), and
        what only a training run can check."""
        for name in (f.name for f in fields(self) if f.name in SHARED):
            SHARED[name].check(getattr(self, name))
        self.workers = parse_workers(self.workers)
        for name in ("mixup", "cutmix"):
            if not getattr(self, name) >= 0:
                raise BadInputError(f"--{name} must not be negative, got {getattr(self, name)}")
        if self.balance not in ("none", "oversample", "class-weights"):
            raise BadInputError(f"--balance must be none, oversample or class-weights, got '{self.balance}'")
        fast_paths.check_precision(self.precision)
        if self.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise BadInputError("--tensorboard needs TensorBoard: pip install 'taskkit[tensorboard]'")


def options_dict(options: TrainOptions) -> dict[str, Any]:
    return asdict(options)


def parse_workers(value: int | str) -> int | str:
    """`--workers`: "auto", or a count of worker processes that is not negative."""
    if value == "auto":
        return value
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise BadInputError(f"--workers must be auto or a number of processes, got '{value}'") from None
    if count < 0:
        raise BadInputError(f"--workers must not be negative, got {count}")
    return count
