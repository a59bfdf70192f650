"""One `tk TASK` command per registered task, built from the task's declared options.

A declared option becomes a Typer parameter with its flag, help, panel and default; the
command resolves the options (defaults, then `--config` or the resumed run's config.yaml,
then the command line), starts several processes if `--devices` asks, and hands the task a
`TaskCall`. A task that brings its own Typer `command` is mounted as it is.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from taskkit.components import flag
from taskkit.options import Option
from taskkit.registries import TASKS
from taskkit.task import TaskCall

log = logging.getLogger("taskkit")


def typer_parameter(option: Option) -> inspect.Parameter:
    """The keyword parameter Typer reads an option from: `Annotated[type, typer.Option(...)] = default`."""
    kind = option.value_type
    annotation: Any = Optional[kind] if option.default is None else kind
    default = Path(option.default) if kind is Path and option.default is not None else option.default
    info = typer.Option(option.flags, help=option.help, rich_help_panel=option.panel or None,
                        metavar=option.metavar)
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[annotation, info])


def declared_command(task: Any, name: str) -> Callable[..., None]:
    """The `tk NAME` callback of a task class that declares its options."""
    declared = task.declaration()

    def command(ctx: typer.Context, **params: Any) -> None:
        from taskkit.storage.config import resolve_options
        from taskkit.train.launch import start_processes_if_asked

        given = {k for k in ctx.params if ctx.get_parameter_source(k).name == "COMMANDLINE"}
        options = resolve_options(ctx.params, given, declared, name)
        start_processes_if_asked(options)
        meta = {option.name for option in declared if option.meta}
        call = TaskCall(options, frozenset(given - meta), ctx.params.get("resume"))
        task.show(task.run(call), as_json=bool(ctx.params.get("json")))

    parameters = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    parameters += [typer_parameter(option) for option in declared]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__ = name.replace("-", "_")
    return command


def mount_tasks(app: typer.Typer) -> None:
    """Give each registered task its `tk <name>` command; a broken one is skipped and warned."""
    taken = {c.name for c in app.registered_commands}
    for entry in TASKS.entries():
        command = flag(entry.factory, "command")
        if entry.name not in taken and not callable(command) and hasattr(entry.factory, "declaration"):
            command = declared_command(entry.factory, entry.name)
        if entry.name in taken or not callable(command):
            why = "its name is taken" if entry.name in taken else "it has no `command`"
            log.warning("task '%s' from plugin '%s' has no command: %s", entry.name, entry.plugin, why)
            continue
        app.command(entry.name, help=entry.doc or None)(command)
