"""The `tk` command line: core commands, one command per registered task, plugin commands.

Importing this module must not import torch: `tk --help` stays fast because plugins import
heavy libraries inside their hooks, and task commands import them inside their bodies.
Errors raised on purpose (`TaskkitError`) become one line on stderr and their exit code;
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer
from typer.models import TyperInfo

from taskkit import __version__

from taskkit.components import flag

from taskkit.train import ranks
from taskkit.cli.data import data_app
from taskkit.errors import BadInputError, TaskkitError
from taskkit.cli.export import add_export_command
from taskkit.cli.lookup import JsonOption, add_component_commands, add_summary_command
from taskkit.train.launch import remember_command_line
from taskkit.cli.plugin import plugin_app
from taskkit.plugin_manager import get_manager
from taskkit.cli.recipes import add_recipe_commands
from taskkit.cli.tasks import mount_tasks
from taskkit.registries import TASKS
from taskkit.storage.user_text import read_user_text

log = logging.getLogger("taskkit")

app = typer.Typer(
    name="tk",
    help="Train, fine-tune, evaluate and serve vision and sequence models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

TtaOption = Annotated[Optional[str], typer.Option("--tta", help="Test-time augmentation: average over flips, e.g. hflip or hflip,vflip (image tasks).")]


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            torch_version = version("torch")
        except PackageNotFoundError:
            torch_version = "not installed"
        typer.echo(f"taskkit {__version__} (torch {torch_version}, python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show versions and exit.")
    ] = False,
    plugin: Annotated[
        Optional[list[str]],
        typer.Option("--plugin", metavar="MODULE", help="Load a local plugin module (repeatable)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Train, fine-tune, evaluate and serve vision and sequence models."""


add_component_commands(app)


@app.command("eval")
def eval_command(
    run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/classify.")],
    data: Annotated[Optional[str], typer.Option("--data", help="Other labelled data to evaluate on (all of it).")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="train, val, test or all (default: test).")] = None,
    tta: TtaOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a trained run on a split of its data, or on other labelled data."""
    from taskkit.drive import Drive, Fold, driving

    record, task = _run_task(run)
    fold = record.get("fold") if data is None else None  # a `tk cv` fold splits its data its own way
    with driving(Drive(fold=Fold(fold["index"] - 1, fold["folds"]) if fold else None)):
        task.evaluate(run, record, data, split, as_json, **_tta_option(task, record, tta))


@app.command("predict")
def predict_command(
    run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/classify, or a model.onnx from `tk export`.")],
    inputs: Annotated[Optional[list[str]], typer.Argument(help="Files (or, for text tasks, sentences) to predict.")] = None,
    from_file: Annotated[Optional[Path], typer.Option("--file", help="Also predict each line of this file (a path, or a text).")] = None,
    top_k: Annotated[Optional[int], typer.Option("--top-k", help="How many labels to show per input (default 3 for images, 1 for texts).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the files a prediction writes (segmentation masks and overlays; default RUN/predictions).")] = None,
    tta: TtaOption = None,
    as_json: JsonOption = False,
) -> None:
    """Predict with a trained run, or a model `tk export` wrote to ONNX (onnxruntime alone, no torch):
    the top labels and their probabilities, each token's tag, or masks, for each input."""
    inputs = list(inputs or [])
    if from_file is not None:
        if not from_file.is_file():
            raise BadInputError(f"--file {from_file} does not exist")
        inputs += [line for line in read_user_text(from_file, hint="save it as UTF-8").splitlines() if line.strip()]
    if not inputs:
        raise BadInputError("nothing to predict: give inputs after the run directory, or --file with one per line")
    if top_k is not None and top_k < 1:
        raise BadInputError(f"--top-k must be at least 1, got {top_k}")
    if run.suffix.lower() == ".onnx":
        if tta is not None or out is not None:
            raise BadInputError("--tta and --out need the run directory; an ONNX file answers with labels or tags only")
        from taskkit.export.onnx_predict import predict_onnx

        predict_onnx(run, inputs, top_k, as_json)
        return
    record, task = _run_task(run)
    extra = _tta_option(task, record, tta)
    if out is not None:
        if "out" not in inspect.signature(task.predict).parameters:
            raise BadInputError(f"--out applies to tasks that write files (segment); a {record['task']} run prints its answers")
        extra["out"] = out
    task.predict(run, record, inputs, top_k, as_json, **extra)


def _tta_option(task: Any, record: dict[str, Any], tta: str | None) -> dict[str, Any]:
    """`{"tta": spec}` for a task that averages over flips, {} without --tta; refused elsewhere."""
    if tta is None:
        return {}
    if not flag(task, "test_time_augmentation"):
        raise BadInputError(f"--tta flips images; a {record['task']} run does not read images")
    from taskkit.model.tta import parse_tta

    parse_tta(tta)
    return {"tta": tta}


add_summary_command(app)


def _run_task(run: Path) -> tuple[dict[str, Any], Any]:
    """A run's record and the task that trained it."""
    from taskkit.storage.runs import read_run

    record = read_run(run)
    return record, TASKS.get(record["task"])


_built = False


def build_app() -> typer.Typer:
    """The full app: core commands, task commands and commands added by plugins (built once)."""
    global _built
    if not _built:
        _built = True
        app.add_typer(data_app, name="data")
        app.add_typer(plugin_app, name="plugin")
        add_recipe_commands(app)
        add_export_command(app)
        try:
            with _commands_kept(app):  # plugins load here, and one may reach for `app` at import
                mount_tasks(app)
        except CommandTakenError as exc:
            log.warning("while plugins loaded, outside tk_add_commands: %s", exc)
        get_manager().call_each("tk_add_commands", guard=lambda: _commands_kept(app), app=app)
    return app


class CommandTakenError(TaskkitError):
    """A plugin's command named like a core, task or earlier plugin's command."""


@contextlib.contextmanager
def _commands_kept(app: typer.Typer) -> Iterator[None]:
    """Let one plugin's `tk_add_commands` add commands, never replace or remove one.

    Typer keeps the last of two commands of one name, so a plugin's `eval` would silently
    become `tk eval`; the app's commands are put back as they were, the plugin's new ones whose
    names are taken are dropped, and the plugin fails with an error naming them.
    """
    commands, groups, callback = list(app.registered_commands), list(app.registered_groups), app.registered_callback
    taken = _command_names([*commands, *groups])
    try:
        yield
    finally:
        added = [i for i in (*app.registered_commands, *app.registered_groups) if i not in (*commands, *groups)]
        app.registered_commands, app.registered_groups, app.registered_callback = list(commands), list(groups), callback
        clashes = [(item, _command_names([item]) & taken) for item in added]
        for item, clash in clashes:
            if not clash:
                (app.registered_groups if isinstance(item, TyperInfo) else app.registered_commands).append(item)
        refused = sorted({name for _, clash in clashes for name in clash})
    if refused:
        raise CommandTakenError(f"tk already has the command names {', '.join(map(repr, refused))}; the plugin's "
                                "commands of those names are refused and tk's stay: give them other names")


def _command_names(items: list[Any]) -> set[str]:
    """The names Typer gives these commands and groups at the top of an app: a command's own or
    its function's; a group's found by building the groups as Typer does (one without a name
    brings up its own commands). Only the few groups are built: building every task command
    twice would cost `tk --help` a third of its time."""
    groups = [item for item in items if isinstance(item, TyperInfo)]
    names = {item.name or typer.main.get_command_name(item.callback.__name__)
             for item in items if not isinstance(item, TyperInfo)}
    if groups:
        probe = typer.Typer()
        probe.registered_groups = groups
        names |= set(typer.main.get_group(probe).commands)
    return names


def _local_plugins(argv: list[str]) -> list[str]:
    """`--plugin MOD` values, needed before the app is built so their tasks get commands."""
    found = []
    for i, arg in enumerate(argv):
        if arg == "--plugin" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--plugin="):
            found.append(arg.split("=", 1)[1])
    return found


class _LowercaseLevel(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace(record.levelname, record.levelname.lower(), 1)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LowercaseLevel("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def main(argv: list[str] | None = None) -> None:
    """Entry point of `tk` and `python -m taskkit`; exits with the command's status.

    Typer handles usage errors (exit 2), `--help` and `Exit`; errors raised on purpose
    pass through it and are printed here as one line with their own exit code.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    remember_command_line(argv)
    _setup_logging()
    failed = False
    with warnings.catch_warnings(record=True) as caught:
        try:
            if not _built:
                get_manager().add_local_modules(_local_plugins(argv))
            typer.main.get_command(build_app()).main(args=argv, prog_name="tk")
        except TaskkitError as exc:
            if "--debug" in argv:
                raise
            failed = True
            if not ranks.is_main():  # under torchrun the processes meet the same error: rank 0 tells it
                sys.exit(exc.exit_code)
            typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
            sys.exit(exc.exit_code)
        finally:
            if not failed:
                _echo_warnings(caught)


def _echo_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Libraries' warnings (torch's, PIL's, seqeval's), one line each, once the command is done.

    Held until then so that an error stays one line: when a command fails, its line says what
    went wrong, and `--debug` shows everything."""
    for message in caught:
        origin = Path(message.filename).parent.name or Path(message.filename).stem
        text = " ".join(str(message.message).split())
        typer.echo(f"warning: {text[:200]} ({message.category.__name__}, {origin})", err=True)
