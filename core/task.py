"""The task interface: what a task declares, and what core builds and asks from that declaration.

A task module is imported to build the CLI, so it must not import torch; its work lives in a
`run` module imported on first use. `RunModuleTask` gives a task `evaluate` and `load_model`
that call that module's `evaluate_run` and `load_model`.

Core never asks a task's name what it can do: `inputs` says what its model reads and
`outputs` what it answers, and export, ONNX predict, `tk eval` and `tk predict` read those.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskkit.errors import BadInputError
from taskkit.options import SHARED, Option, Options

#: What a task's model may read: image batches `[N, C, H, W]`, or token ids `[N, T]` with lengths `[N]`.
INPUT_KINDS = ("images", "tokens")
#: What it may answer: class scores `[N, classes]`, per-token `[N, T, tags]`, per-pixel `[N, classes, H, W]`.
OUTPUT_KINDS = ("labels", "tags", "masks")


@dataclass(frozen=True)
class TaskCall:
    """One request to run a task: its resolved options, the names given explicitly (on the
    command line or as keywords) and the run to resume, if any."""

    options: dict[str, Any]
    given: frozenset[str] = field(default_factory=frozenset)
    resume: Path | None = None


@dataclass(frozen=True)
class Finished:
    """A trained and tested run: where it is and its test report."""

    run_dir: Path
    report: dict[str, Any]


class Task:
    """A task that declares its options as data; core builds its command and Python call from them.

    `options` are the task's own (they come first in `--help` and may replace a shared option of
    the same name); `defaults` are its values for shared options (`{"epochs": 15}`). `run` does
    the work and `show` prints its outcome; a task that only needs a Typer function of its own
    may instead set `command`, as before, and gets no declaration.
    """

    options: tuple[Option | Options, ...] = ()
    defaults: dict[str, Any] = {}
    #: What the model reads, one of INPUT_KINDS; None for a task whose runs cannot be exported.
    inputs: str | None = None
    #: What the model answers, one of OUTPUT_KINDS.
    outputs: str | None = None
    #: Whether `evaluate` and `predict` take `tta` (`--tta hflip`): image tasks do.
    test_time_augmentation: bool = False

    @classmethod
    def declaration(cls) -> Options:
        """Every option of the task: its own, then the shared ones it did not replace, with its defaults.
        Read when asked, so an option added to `SHARED` reaches every task."""
        own = Options(*cls.options)
        return Options(own, [o for o in SHARED if o.name not in own]).with_defaults(cls.defaults)

    @classmethod
    def run(cls, call: TaskCall) -> Any:
        raise NotImplementedError(f"{cls.__name__} declares options but no `run`")

    @classmethod
    def show(cls, outcome: Any, as_json: bool) -> None:
        """Print what `run` returned: by default a `Finished` run's test report."""
        from taskkit.train.flow import report_and_print

        report_and_print(outcome.run_dir, outcome.report, as_json)

    @classmethod
    def call(cls, config: str | Path | None = None, resume: str | Path | None = None, **options: Any) -> Any:
        """Run the task from Python with the same options as its command (`epochs=3`), checked alike;
        returns what `run` returns (a `Finished` run for the training tasks)."""
        from taskkit.storage.config import resolve_options

        resolved = resolve_options({**options, "config": config, "resume": resume}, set(options),
                                   cls.declaration())
        if resolved.get("devices", 1) != 1:
            raise BadInputError("several processes start from the command line: `tk TASK --devices N`")
        return cls.run(TaskCall(resolved, frozenset(options), None if resume is None else Path(resume)))


class RunModuleTask(Task):
    """`evaluate` and `load_model` from the module named `run_module`, imported when called."""

    run_module: str

    @classmethod
    def evaluate(cls, run_dir: Path, record: dict, data: str | None, split: str | None, as_json: bool,
                 **options: Any) -> None:
        importlib.import_module(cls.run_module).evaluate_run(run_dir, record, data, split, as_json, **options)

    @classmethod
    def load_model(cls, run_dir: Path, record: dict) -> Any:
        return importlib.import_module(cls.run_module).load_model(run_dir, record)
