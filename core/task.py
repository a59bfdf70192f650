"""The task interface: what a task declares, and what core builds and asks from that declaration.

A task module is imported to build the CLI, so it must not import torch; its work lives in a
`run` module imported on first use. `RunModuleTask` gives a task `evaluate` and `load_model`
that call that module's `evaluate_run` and `load_model`.

Core never asks a task's name what it can do: `inputs` says what its model reads and
`outputs` what it answers, and export, ONNX predict, `tk eval` and `tk predict` read those.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

#: What a task's model may read: image batches `[N, C, H, W]`, or token ids `[N, T]` with lengths `[N]`.
INPUT_KINDS = ("images", "tokens")
#: What it may answer: class scores `[N, classes]`, per-token `[N, T, tags]`, per-pixel `[N, classes, H, W]`.
OUTPUT_KINDS = ("labels", "tags", "masks")


class RunModuleTask:
    """`evaluate` and `load_model` from the module named `run_module`, imported when called."""

    run_module: str
    #: What the model reads, one of INPUT_KINDS; None for a task whose runs cannot be exported.
    inputs: str | None = None
    #: What the model answers, one of OUTPUT_KINDS.
    outputs: str | None = None
    #: Whether `evaluate` and `predict` take `tta` (`--tta hflip`): image tasks do.
    test_time_augmentation: bool = False

    @classmethod
    def evaluate(cls, run_dir: Path, record: dict, data: str | None, split: str | None, as_json: bool,
                 **options: Any) -> None:
        importlib.import_module(cls.run_module).evaluate_run(run_dir, record, data, split, as_json, **options)

    @classmethod
    def load_model(cls, run_dir: Path, record: dict) -> Any:
        return importlib.import_module(cls.run_module).load_model(run_dir, record)
