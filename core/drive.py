"""Running a task's own command from another command: `tk cv`, `tk tune` and `tk lr-find`.

These commands take `TASK [task options]` and run the task exactly as `tk TASK` would, so
they work for every task, a plugin's included, without knowing its options. What they add
travels in a `Drive` set for the duration of the run, read at three seams every task passes
through: the data split (`fold`: K-fold cross-validation), the training callbacks
(`callbacks`: tune's pruner, given the metric the task monitors) and the fit itself
(`probe`: lr-find's sweep instead of training). The run directories the task claims are
collected in `runs`.
"""

from __future__ import annotations

import contextlib
import io
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from taskkit.errors import BadInputError


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


def check_task_args(command: str, args: list[str]) -> None:
    """Refuse `--resume` among the task options (each run a driving command starts is new), and
    several processes (each would drive its own study or folds)."""
    from taskkit.train import ranks

    if ranks.distributed():
        raise BadInputError(f"tk {command} drives its runs from one process; start it without torchrun")
    if any(arg.split("=", 1)[0] == "--resume" for arg in args):
        raise BadInputError(f"tk {command} starts new runs and does not take --resume")


def run_task(task: str, args: list[str], drive: Drive, show_output: bool = False) -> Drive:
    """Run `tk TASK ARGS...` in this process under `drive`; its printed report is dropped unless
    `show_output`. Errors come through as they would from `tk TASK` (a one-line exit 2 for
    bad input); a usage error in the task's options becomes one too."""
    import typer

    from taskkit.cli.app import build_app
    from taskkit.registries import TASKS

    TASKS.get(task)  # an unknown task gets its suggestion
    group = typer.main.get_command(build_app())
    command = group.commands.get(task)  # type: ignore[attr-defined]
    if command is None:
        raise BadInputError(f"task '{task}' has no command; see `tk plugins`")
    sink = contextlib.nullcontext() if show_output else contextlib.redirect_stdout(io.StringIO())
    with driving(drive), sink:
        try:
            code = command.main(args=list(args), prog_name=f"tk {task}", standalone_mode=False)
        except typer.TyperException as exc:  # click's usage errors: a bad option value, an unknown option
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            raise BadInputError(f"tk {task}: {message}") from None
    if isinstance(code, int) and code != 0:  # Ctrl-C (130) stops the driving command as well
        raise typer.Exit(code)
    return drive
