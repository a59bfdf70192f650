"""Where a `tk tune` study lives and what it is asked for: the settings, checked on creation,
and the optuna study they open or resume, with its sampler and pruner.

Optuna comes in as an argument (imported by `tune` only when a study runs), so this module
imports without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskkit.errors import BadInputError, describe

CHOICES = {"sampler": ("tpe", "random", "grid"), "pruner": ("hyperband", "median", "none"),
           "direction": ("maximize", "minimize")}


@dataclass(frozen=True)
class TuneSettings:
    """What `tk tune` was asked for besides the task and its options; checked on creation."""

    trials: int = 20
    params: list[str] = field(default_factory=list)
    sampler: str = "tpe"
    pruner: str = "hyperband"
    storage: str | None = None
    study_name: str | None = None
    metric: str | None = None
    direction: str | None = None
    sampler_seed: int = 0

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise BadInputError(f"--trials must be at least 1, got {self.trials}")
        if not self.params:
            raise BadInputError("tk tune needs at least one --param, e.g. --param 'lr=loguniform(1e-4,1e-1)'")
        for option, allowed in CHOICES.items():
            value = getattr(self, option)
            if value is not None and value not in allowed:
                raise BadInputError(f"--{option} must be {', '.join(allowed[:-1])} or {allowed[-1]}, got '{value}'")

    def asked_direction(self) -> str | None:
        """--direction, else the one --metric implies (minimize a loss, maximize the rest), else None:
        a new study then maximizes the task's monitor, and a resumed one keeps its own direction."""
        if self.direction or not self.metric:
            return self.direction
        return "minimize" if self.metric.endswith("loss") else "maximize"


def open_study(optuna: Any, settings: TuneSettings, grid: dict[str, list] | None, study_dir: Path,
                epochs: int | None) -> tuple[Any, str]:
    """Create the study, or load it to resume (going the direction asked for, if any); returns it and
    its storage URL as it may be shown. A resumed TPE or random sampler adds the trials so far to its
    seed so that it draws new values, not the first ones again; the grid keeps its seed and order."""
    storage = settings.storage or f"sqlite:///{(study_dir / 'study.db').resolve()}"
    shown = re.sub(r"//([^/:@]+):[^/@]*@", r"//\1:***@", storage)  # the URL without its password
    name, direction = settings.study_name or study_dir.name, settings.asked_direction()
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=direction or "maximize",
                                    pruner=pruner(optuna, settings.pruner, epochs), load_if_exists=True)
    except Exception as exc:  # whatever optuna or SQLAlchemy make of a URL they cannot open
        raise BadInputError(f"--storage {shown} cannot be opened: {describe(exc)}") from None
    stored_metric, existing = study.user_attrs.get("metric"), study.direction.name.lower()
    if settings.metric and stored_metric and stored_metric != settings.metric:
        raise BadInputError(f"study '{name}' in {shown} optimises {stored_metric}; pass --metric {stored_metric}, "
                            "or a new --study-name")
    if direction and existing != direction:
        raise BadInputError(f"study '{name}' in {shown} is set to {existing}; pass --direction {existing}, "
                            "or a new --study-name")
    if grid is not None:
        study.sampler = optuna.samplers.GridSampler(grid, seed=settings.sampler_seed)
    else:
        sampler = optuna.samplers.RandomSampler if settings.sampler == "random" else optuna.samplers.TPESampler
        study.sampler = sampler(seed=settings.sampler_seed + len(study.trials))
    return study, shown


def pruner(optuna: Any, name: str, epochs: int | None) -> Any:
    """Steps are epochs counted from 1. Hyperband's budget is the planned epochs, so its first rung
    ends after epoch 1 and each bracket whose rungs end before the last epoch can stop a run."""
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs or "auto", reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    return optuna.pruners.NopPruner()
