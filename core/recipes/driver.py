"""Running a task's own command from a driving command (`tk cv`, `tk tune`, `tk lr-find`).

The driving command is handed the `tk` command group and finds the task's command in it, so
nothing here imports the CLI; the task runs under a `Drive` (see `taskkit.drive`).
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

from taskkit.drive import Drive, driving
from taskkit.errors import BadInputError


def check_task_args(command: str, args: list[str]) -> None:
    """Refuse `--resume` among the task options (each run a driving command starts is new), and
    several processes (each would drive its own study or folds)."""
    from taskkit.train import ranks

    if ranks.distributed():
        raise BadInputError(f"tk {command} drives its runs from one process; start it without torchrun")
    if any(arg.split("=", 1)[0] == "--resume" for arg in args):
        raise BadInputError(f"tk {command} starts new runs and does not take --resume")


def task_command(group: Any, task: str) -> Any:
    """The click command of `tk TASK` in the command group a driving command was handed."""
    from taskkit.registries import TASKS

    TASKS.get(task)  # an unknown task gets its suggestion
    command = group.commands.get(task)
    if command is None:
        raise BadInputError(f"task '{task}' has no command; see `tk plugins`")
    return command


def run_task(group: Any, task: str, args: list[str], drive: Drive, show_output: bool = False) -> Drive:
    """Run `tk TASK ARGS...` from `group` (the `tk` command group) in this process under `drive`;
    its printed report is dropped unless `show_output`. Errors come through as they would from
    `tk TASK` (a one-line exit 2 for bad input); a usage error in the task's options becomes one too."""
    import typer

    command = task_command(group, task)
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
