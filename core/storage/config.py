"""Options from a command line and a YAML config file, merged and checked.

`config.yaml` in a run directory holds every resolved option, so `--config` on it reruns the
same run. Values given on the command line win over the file; the file wins over defaults.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from taskkit.storage.atomic import atomic_write
from taskkit.errors import BadInputError
from taskkit.options import SHARED, Options
from taskkit.storage.names import check_out_folder, check_run_name, cut
from taskkit.storage.user_text import read_user_text
from taskkit.storage.files import RUN_CONFIG, RUN_RECORD


#: The largest config file read: a config is a page of option names and values, and the
#: whole file is held and parsed at once.
MAX_CONFIG_BYTES = 1 << 20
#: How deeply a config's lists and mappings may nest; option values need a few levels at most,
#: and the YAML composer recurses once per level.
MAX_CONFIG_DEPTH = 20
#: Errors quote values from the file; a line longer than this has its middle cut.
MAX_ERROR_CHARS = 300


class _Refused(yaml.YAMLError):
    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, mark.line + 1 if mark else None


class _ConfigLoader(yaml.SafeLoader):
    """Safe loading (no Python tags) that refuses anchors and aliases before a node is composed:
    an alias repeats a node, and aliases of aliases make a few hundred bytes stand for
    gigabytes (a "billion laughs"). Nesting is bounded so no file reaches the recursion limit."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            kind, sign = ("alias", "*") if isinstance(event, yaml.AliasEvent) else ("anchor", "&")
            raise _Refused(f"uses a YAML {kind} ({sign}{cut(str(anchor), 40)}); a config takes no anchors or "
                           f"aliases, so write each value out in full", event.start_mark)
        if self.depth >= MAX_CONFIG_DEPTH:
            raise _Refused(f"nests lists or mappings more than {MAX_CONFIG_DEPTH} deep; option values need a few "
                           f"levels at most", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_config(path: str | Path) -> dict[str, Any]:
    """A YAML mapping of option names to values: at most MAX_CONFIG_BYTES, safe loading only (no
    Python tags), no anchors or aliases."""
    path = Path(path)
    _check_config_file(path)
    text = read_user_text(path, hint="save it as UTF-8", limit=MAX_CONFIG_BYTES)
    try:
        data = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except _Refused as exc:
        raise BadInputError(f"{cut(str(path))} line {exc.line} {exc.problem}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        problem = cut(" ".join(str(getattr(exc, "problem", None) or exc).split()))
        raise BadInputError(f"{cut(str(path))} is not valid YAML{line}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInputError(f"{cut(str(path))} must be a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _check_config_file(path: Path) -> None:
    if path.is_dir():
        inside = path / RUN_CONFIG
        hint = f", e.g. {cut(str(inside))}" if inside.is_file() else ""
        raise BadInputError(f"config file {cut(str(path))} is a directory; pass a YAML file{hint}")
    if not path.exists():
        raise BadInputError(f"config file {cut(str(path))} does not exist")
    if not path.is_file():
        raise BadInputError(f"config file {cut(str(path))} is not a regular file; pass a YAML file")


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
    try:
        resolved = declared.resolve(explicit, from_file, source=str(source), resuming=bool(params.get("resume")))
    except BadInputError as exc:
        if len(str(exc)) <= MAX_ERROR_CHARS:
            raise
        raise BadInputError(cut(str(exc), MAX_ERROR_CHARS)) from None
    _check_where_the_run_goes(resolved, declared, resuming=bool(params.get("resume")))
    return resolved


def _check_where_the_run_goes(resolved: dict[str, Any], declared: Options, resuming: bool) -> None:
    """The run's name and `--out`, checked before any work (a resumed run goes back into its own
    directory, so its `--out` is not used). A task that replaced either shared option with one of
    its own meaning is left to check it."""
    def shared(name: str) -> bool:
        return name in declared and replace(declared[name], default=SHARED[name].default) == SHARED[name]

    if shared("name"):
        check_run_name(resolved.get("name"))
    if shared("out") and not resuming:
        check_out_folder(resolved["out"])


def _check_resumed_task(run: Path, command: str) -> None:
    """Another task's config would otherwise fail on its first option this task does not have."""
    import json

    try:
        task = json.loads((run / RUN_RECORD).read_text(encoding="utf-8")).get("task")
    except (OSError, ValueError, AttributeError):
        return  # no record to go by: the config's own options are checked next
    if isinstance(task, str) and task != command:
        raise BadInputError(f"{run} is a {task} run, not a {command} run; continue it with `tk {task} --resume {run}`")
