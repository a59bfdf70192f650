"""Options from a command line and a YAML config file, merged and checked.

`config.yaml` in a run directory holds every resolved option, so `--config` on it reruns the
same run. Values given on the command line win over the file; the file wins over defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from taskkit.storage.atomic import atomic_write
from taskkit.errors import BadInputError
from taskkit.options import Options
from taskkit.storage.user_text import read_user_text
from taskkit.storage.files import RUN_CONFIG, RUN_RECORD


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


def resolve_options(params: dict[str, Any], explicit_names: set[str], declared: Options,
                    command: str | None = None) -> dict[str, Any]:
    """A command's options: defaults, then `--config` (or the resumed run's config.yaml), then the command line.

    `params` are the command's parsed parameters and `explicit_names` those the user typed;
    `command` (the task's command) must be the one that started a resumed run.
    """
    meta = {option.name for option in declared if option.meta}
    explicit = {k: v for k, v in params.items() if k in explicit_names and k not in meta}
    if params.get("resume"):
        source = Path(params["resume"]) / RUN_CONFIG
        if not source.is_file():
            raise BadInputError(f"{params['resume']} is not a run directory (it has no {RUN_CONFIG})")
        if command is not None:
            _check_resumed_task(Path(params["resume"]), command)
    else:
        source = params.get("config")
    from_file = read_config(source) if source else {}
    return declared.resolve(explicit, from_file, source=str(source))


def _check_resumed_task(run: Path, command: str) -> None:
    """Another task's config would otherwise fail on its first option this task does not have."""
    import json

    try:
        task = json.loads((run / RUN_RECORD).read_text(encoding="utf-8")).get("task")
    except (OSError, ValueError, AttributeError):
        return  # no record to go by: the config's own options are checked next
    if isinstance(task, str) and task != command:
        raise BadInputError(f"{run} is a {task} run, not a {command} run; continue it with `tk {task} --resume {run}`")
