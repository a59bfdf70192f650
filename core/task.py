"""What the built-in tasks share: evaluation and model loading that live in a run module.

A task module is imported to build the CLI, so it must not import torch; its work lives in a
`run` module imported on first use. `RunModuleTask` gives a task `evaluate` and `load_model`
that call that module's `evaluate_run` and `load_model`, so each task declares only its
command, its prediction and where its run module is.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any


class RunModuleTask:
    """`evaluate` and `load_model` from the module named `run_module`, imported when called."""

    run_module: str
    #: Whether `evaluate` and `predict` take `tta` (`--tta hflip`): image tasks do.
    test_time_augmentation: bool = False

    @classmethod
    def evaluate(cls, run_dir: Path, record: dict, data: str | None, split: str | None, as_json: bool,
                 **options: Any) -> None:
        importlib.import_module(cls.run_module).evaluate_run(run_dir, record, data, split, as_json, **options)

    @classmethod
    def load_model(cls, run_dir: Path, record: dict) -> Any:
        return importlib.import_module(cls.run_module).load_model(run_dir, record)
