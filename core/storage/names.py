"""A run's name and the folder that holds runs, checked before any work is done.

A run name becomes a folder under `--out`, so a name that is really a path (`../x`, `/tmp/x`,
`a/b`) would put a whole run somewhere the user did not ask for, and a folder `--out` cannot
hold would fail only after torch is loaded and data is read. Both are refused in one line,
before torch is imported and before a run directory is claimed. No imports of taskkit's
beyond its errors: the option resolution and the run directories below it both read this.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from taskkit.errors import BadInputError

#: The longest run name, in characters; a folder name holds at most 255 bytes on most file
#: systems, and a taken name gets `-N` appended, so 100 characters of at most 2 bytes fit.
MAX_NAME_CHARS = 100
#: The same limit in bytes, for names written in letters that take 3 or 4 bytes in UTF-8.
MAX_NAME_BYTES = 200


def cut(text: str, limit: int = 120) -> str:
    """`text` with its middle cut when it is longer than `limit`, so a 300-character name or a
    4 KiB path quoted in an error cannot turn one line into a screenful."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[-half:]}"


def shown(value: object, limit: int = 60) -> str:
    """A value as a one-line error quotes it: its `repr`, cut to `limit`."""
    return cut(repr(str(value) if isinstance(value, Path) else value), limit)


def check_run_name(name: object) -> None:
    """Refuse a run name that is not one plain folder name; None and "" mean the task's name."""
    if name is None or name == "":
        return
    if not isinstance(name, str):
        raise BadInputError(f"run name {shown(name)} is a {type(name).__name__}, not text; put it in quotes "
                            f"in the config file")
    why = _name_problem(name)
    if why:
        raise BadInputError(f"run name {shown(name)} {why}; a run name is one folder name under --out, "
                            f"e.g. --name my-run (choose where runs go with --out)")


def _name_problem(name: str) -> str:
    if "/" in name or "\\" in name:
        return "is a path, not a name (it has '/' or '\\')"
    if name in (".", ".."):
        return "is not a folder name ('.' and '..' point at folders that exist)"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        return "has a control character or an undecodable byte"
    if len(name) > MAX_NAME_CHARS:
        return f"is {len(name)} characters long; at most {MAX_NAME_CHARS} are allowed"
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        return f"takes {len(os.fsencode(name))} bytes; at most {MAX_NAME_BYTES} are allowed"
    return ""


def check_out_folder(out: object) -> None:
    """Refuse an `--out` that is not a writable folder and cannot become one; creates nothing."""
    if not isinstance(out, (str, Path)):
        raise BadInputError(f"--out {shown(out)} is not a folder path; pass a folder for run directories")
    text = os.fspath(out)
    if "\0" in text:
        raise BadInputError(f"--out {shown(text)} has a NUL character; pass a folder for run directories")
    problem = _out_problem(Path(text))
    if problem:
        raise BadInputError(f"--out {cut(text)} {problem}; pass a folder you can write to")


def _out_problem(out: Path) -> str:
    """What stops runs being written under `out`, or "" when nothing does."""
    try:
        if out.is_dir():
            return "" if os.access(out, os.W_OK | os.X_OK) else "is a folder you cannot write to"
        if os.path.lexists(out):
            return "is a link to nothing" if out.is_symlink() and not out.exists() else "is a file, not a folder"
        ancestor = out.parent
        while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            return f"cannot be created: {cut(str(ancestor))} is not a folder"
        if not os.access(ancestor, os.W_OK | os.X_OK):
            return f"cannot be created: {cut(str(ancestor))} is a folder you cannot write to"
    except OSError as exc:
        return f"cannot be used: {exc.strerror or exc}"
    return ""
