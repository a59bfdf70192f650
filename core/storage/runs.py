"""Run directories: `runs/<name>/` with config.yaml, run.json and the files training writes.

A directory is claimed with an exclusive `mkdir`, so two runs started with the same name
never write into the same place: the second gets `<name>-2`.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from taskkit import __version__
from taskkit.storage.atomic import atomic_write
from taskkit.errors import BadInputError
from taskkit.storage.files import RUN_RECORD


def claim_run_dir(out: Path, name: str) -> Path:
    """Create and return a new run directory `out/name`, or `out/name-N` if that is taken."""
    out.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = out / (name if n == 1 else f"{name}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise BadInputError(f"too many runs named '{name}' in {out}; choose another --name")


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str) + "\n"))


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """run.json of a run directory; anything else is a one-line bad-input error."""
    path = Path(run_dir)
    if not path.is_dir():
        raise BadInputError(f"run directory {path} does not exist")
    record = path / RUN_RECORD
    if not record.is_file():
        raise BadInputError(f"{path} is not a run directory (it has no {RUN_RECORD}); pass a folder under runs/")
    try:
        data = json.loads(record.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{record} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "task" not in data:
        raise BadInputError(f"{record} does not record a task; it was not written by tk")
    return data


def versions() -> dict[str, str]:
    """Versions that decide whether a run can be reproduced."""
    found = {"taskkit": __version__, "python": platform.python_version()}
    for package in ("torch", "torchvision", "timm"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found
