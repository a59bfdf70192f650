"""Options from a command line and a YAML config file, merged and checked.

`config.yaml` in a run directory holds every resolved option, so `--config` on it reruns the
same run. Values given on the command line win over the file; the file wins over defaults.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from taskkit.storage.atomic import atomic_write
from taskkit.errors import BadInputError
from taskkit.storage.user_text import read_user_text


def read_config(path: str | Path) -> dict[str, Any]:
    """A YAML mapping of option names to values; safe loading only (no Python tags)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(read_user_text(path, hint="save it as UTF-8"))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise BadInputError(f"{path} is not valid YAML{line}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInputError(f"{path} must be a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def write_config(path: Path, options: dict[str, Any]) -> None:
    text = yaml.safe_dump(options, sort_keys=False, allow_unicode=True)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


#: Options a newer one replaced, still read from older config files: old name -> (new name, new value).
RENAMED = {"amp": ("precision", lambda on: "auto" if on else "32")}


def merge_options(defaults: dict[str, Any], explicit: dict[str, Any], from_file: dict[str, Any],
                  source: str = "config") -> dict[str, Any]:
    """Defaults, overridden by the file, overridden by what the command line set explicitly."""
    merged = dict(defaults)
    for key, value in from_file.items():
        if key not in defaults and key in RENAMED and RENAMED[key][0] in defaults:
            key, value = RENAMED[key][0], RENAMED[key][1](value)
        if key not in defaults:
            close = difflib.get_close_matches(key, list(defaults), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise BadInputError(f"unknown option '{key}' in {source}{hint}")
        merged[key] = _coerce(key, value, defaults[key], source)
    merged.update(explicit)
    return merged


def _coerce(key: str, value: Any, default: Any, source: str) -> Any:
    """Check a file's value against the type of the option's default."""
    if default is None or value is None:
        return value
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # `freeze: 3` for an option that also takes words (`all`)
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    raise BadInputError(
        f"option '{key}' in {source} should be {expected.__name__}, got {type(value).__name__} {value!r}"
    )


#: Options that steer a command but are not part of what a run is.
META_OPTIONS = ("config", "resume", "json")


def resolve_options(params: dict[str, Any], explicit_names: set[str], defaults: dict[str, Any],
                    command: str | None = None) -> dict[str, Any]:
    """A command's options: defaults, then `--config` (or the resumed run's config.yaml), then the command line.

    `params` are the command's parsed parameters and `explicit_names` those the user typed;
    `command` (the task's command) must be the one that started a resumed run.
    """
    explicit = {k: v for k, v in params.items() if k in explicit_names and k not in META_OPTIONS}
    explicit = {k: str(v) if isinstance(v, Path) else v for k, v in explicit.items()}
    if params.get("resume"):
        source = Path(params["resume"]) / "config.yaml"
        if not source.is_file():
            raise BadInputError(f"{params['resume']} is not a run directory (it has no config.yaml)")
        if command is not None:
            _check_resumed_task(Path(params["resume"]), command)
    else:
        source = params.get("config")
    from_file = read_config(source) if source else {}
    return merge_options(defaults, explicit, from_file, source=str(source))


def _check_resumed_task(run: Path, command: str) -> None:
    """Another task's config would otherwise fail on its first option this task does not have."""
    import json

    try:
        task = json.loads((run / "run.json").read_text(encoding="utf-8")).get("task")
    except (OSError, ValueError, AttributeError):
        return  # no record to go by: the config's own options are checked next
    if isinstance(task, str) and task != command:
        raise BadInputError(f"{run} is a {task} run, not a {command} run; continue it with `tk {task} --resume {run}`")


def command_options(ctx: Any, defaults: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """A task command's resolved options, and the names the user typed (from its Typer context).

    With `devices` above 1 (`--devices N`, or in the config file), the command runs in that
    many processes through torchrun instead, and this exits with their status.
    """
    from taskkit.train.launch import start_processes_if_asked

    explicit = {k for k in ctx.params if ctx.get_parameter_source(k).name == "COMMANDLINE"}
    options = resolve_options(ctx.params, explicit, defaults, ctx.command.name)
    start_processes_if_asked(options)
    return options, explicit
