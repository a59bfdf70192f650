"""Run directories: `runs/<name>/` with config.yaml, run.json and the files training writes.

A directory is claimed with an exclusive `mkdir`, so two runs started with the same name
never write into the same place: the second gets `<name>-2`.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from taskkit import __version__
from taskkit.storage.atomic import atomic_write
from taskkit.errors import BadInputError
from taskkit.storage.files import RUN_RECORD
from taskkit.storage.names import check_run_name, cut


def claim_run_dir(out: Path, name: str) -> Path:
    """Create and return a new run directory `out/name`, or `out/name-N` if that is taken.

    The name is checked again here, whoever calls: a name that is a path would claim a
    directory outside `out`."""
    if not name:
        raise BadInputError("a run needs a name; pass --name, e.g. --name my-run")
    check_run_name(name)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            candidate = out / (name if n == 1 else f"{name}-{n}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as exc:
        raise BadInputError(f"cannot make a run directory in {cut(str(out))}: {exc.strerror or exc}; "
                            f"pass --out a folder you can write to") from None
    raise BadInputError(f"too many runs named '{name}' in {cut(str(out))}; choose another --name")


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str) + "\n"))


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """run.json of a run directory, checked against `RUN_FIELDS`; anything else is a one-line
    bad-input error naming the file and the field, since a hand-edited or foreign run.json would
    otherwise fail deep inside the task that reads it."""
    path = Path(run_dir)
    if not path.is_dir():
        raise BadInputError(f"run directory {path} does not exist")
    record = path / RUN_RECORD
    if not record.is_file():
        raise BadInputError(f"{path} is not a run directory (it has no {RUN_RECORD}); pass a folder under runs/")
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{record} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadInputError(f"{record} is not a JSON object; it was not written by tk")
    check_fields(data, RUN_FIELDS, record, RESTORE)
    _check_run_sizes(data, record)
    return CheckedFields(data, record, RESTORE)


#: What a field holds: the words an error uses for it, and the test a value must pass.
Kind = tuple[str, Callable[[Any], bool]]


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


TEXT: Kind = ("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip()))
COUNT: Kind = ("a whole number above 0", lambda v: _whole(v) and v > 0)
INDEX: Kind = ("a whole number, 0 or more", lambda v: _whole(v) and v >= 0)
NUMBER: Kind = ("a number", _number)
NUMBERS: Kind = ("a non-empty list of numbers", lambda v: isinstance(v, list) and bool(v) and all(map(_number, v)))
NAMES: Kind = ("a non-empty list of strings",
               lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v))
OBJECT: Kind = ("an object ({...})", lambda v: isinstance(v, dict))
FLAG: Kind = ("true or false", lambda v: isinstance(v, bool))
LIST: Kind = ("a list", lambda v: isinstance(v, list))
SIZE: Kind = ("a list of two whole numbers above 0 (height, width)",
              lambda v: isinstance(v, list) and len(v) == 2 and all(COUNT[1](x) for x in v))

#: (field, kind, required) for the fields of run.json that core and the built-in tasks read. A
#: dotted field is checked only where its parent is present; a field a task reads that is not
#: listed here is named when it is missing (`CheckedFields`).
RUN_FIELDS: tuple[tuple[str, Kind, bool], ...] = (
    ("task", TEXT, True), ("model", OBJECT, True), ("status", TEXT, False), ("metrics", OBJECT, False),
    ("skipped_files", LIST, False), ("fold", OBJECT, False), ("fold.index", COUNT, True),
    ("fold.folds", COUNT, True), ("model.classes", NAMES, False), ("model.backbone", TEXT, False),
    ("model.head", TEXT, False), ("model.encoder", TEXT, False), ("model.tokenizer", TEXT, False),
    ("model.backbone_options", OBJECT, False), ("model.head_options", OBJECT, False),
    ("model.encoder_options", OBJECT, False), ("model.in_channels", COUNT, False),
    ("model.img_size", COUNT, False), ("model.input_size", SIZE, False), ("model.max_len", COUNT, False),
    ("model.mean", NUMBERS, False), ("model.std", NUMBERS, False), ("model.vocabulary", NAMES, False),
    ("model.lowercase", FLAG, False), ("model.tokenizer_state", TEXT, False), ("model.wide", OBJECT, False),
)
RESTORE = "restore the file or train the run again"


def check_fields(data: dict[str, Any], fields: tuple[tuple[str, Kind, bool], ...], source: Path | str,
                 advice: str) -> None:
    """Each listed field of `data` present where required and of its kind, or one line naming
    `source`, the field and what it should hold, ended by `advice`."""
    for name, (kind, test), required in fields:
        *parents, key = name.split(".")
        holder: Any = data
        for parent in parents:
            holder = holder.get(parent) if isinstance(holder, dict) else None
        if not isinstance(holder, dict):
            continue
        if key not in holder:
            if required:
                raise BadInputError(f"{source} has no '{name}' field; {advice}")
            continue
        if not test(holder[key]):
            raise BadInputError(f"{source}: '{name}' must be {kind}, not {_shown(holder[key])}; {advice}")


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_run_sizes(data: dict[str, Any], record: Path) -> None:
    """Per-channel statistics as long as the channels, and a fold within its folds."""
    spec = data["model"]
    if "in_channels" in spec:
        for name in ("mean", "std"):
            if name in spec and len(spec[name]) != spec["in_channels"]:
                raise BadInputError(f"{record}: 'model.{name}' has {len(spec[name])} values but 'model.in_channels' "
                                    f"is {spec['in_channels']} (one per channel); {RESTORE}")
    fold = data.get("fold")
    if fold is not None and fold["index"] > fold["folds"]:
        raise BadInputError(f"{record}: 'fold.index' is {fold['index']}, beyond 'fold.folds' ({fold['folds']}); {RESTORE}")


class CheckedFields(dict):
    """A JSON object whose missing keys are bad input naming the file and the field: a task
    reads fields of its own (a backbone, a vocabulary) that no schema here lists."""

    def __init__(self, data: dict[str, Any], source: Path | str, advice: str, prefix: str = "") -> None:
        super().__init__({key: CheckedFields(value, source, advice, f"{prefix}{key}.") if isinstance(value, dict)
                          else value for key, value in data.items()})
        self.source, self.advice, self.prefix = source, advice, prefix

    def __missing__(self, key: Any) -> Any:
        raise BadInputError(f"{self.source} has no '{self.prefix}{key}' field; {self.advice}")


def versions() -> dict[str, str]:
    """Versions that decide whether a run can be reproduced."""
    found = {"taskkit": __version__, "python": platform.python_version()}
    for package in ("torch", "torchvision", "timm"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found
