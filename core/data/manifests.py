"""Image manifests: a .csv or .jsonl file listing images with their labels (and times).

A manifest is text anyone can write, and it names files to open. Its paths are read relative
to the manifest's folder and must stay inside it once resolved, symbolic links followed: a row
such as `../../etc/passwd`, an absolute path elsewhere, or a link that leads out of the folder
is refused by its line before any file it names is looked at.
"""

from __future__ import annotations

import csv
import io
import json
import os

from taskkit.errors import BadInputError
from taskkit.storage.user_text import read_user_text


def manifest_files(path: str, *, report_missing: bool = False,
                   time_col: str | None = None) -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict[str, str]]:
    """(file, label) for each row, the rows naming absent files as (file, why) where
    `report_missing` asks for them (else the first is an error), and each file's time."""
    base = os.path.dirname(os.path.abspath(path))
    inside = os.path.realpath(base)
    items, missing, times = [], [], {}
    for line, file, label, time in read_manifest(path, time_col):
        full = os.path.abspath(os.path.join(base, file))
        if not _within(full, inside):
            raise BadInputError(
                f"manifest '{path}' line {line}: path '{file}' leads outside the manifest's folder '{base}'; "
                f"copy the images into that folder (a symbolic link out of it is refused too) and list them "
                f"relative to it")
        if os.path.isfile(full):
            items.append((full, label))
            times[full] = time
        elif report_missing:
            missing.append((full, f"listed on line {line} of {os.path.basename(path)} but does not exist"))
        else:
            raise BadInputError(
                f"manifest '{path}' line {line}: file '{file}' does not exist "
                f"(paths are read relative to the manifest's folder '{base}'); fix the path or remove the row"
            )
    return items, missing, times


def _within(path: str, folder: str) -> bool:
    """Whether `path`, resolved, is `folder` or under it; a path that cannot be resolved (a NUL
    character, another drive) is not."""
    try:
        return os.path.commonpath([os.path.realpath(path), folder]) == folder
    except ValueError:
        return False


def read_manifest(path: str, time_col: str | None = None) -> list[tuple[int, str, str, str]]:
    """(line number, path as written, label, time) for each row of a .csv or .jsonl manifest;
    the time is the `time_col` value, or "" when no time column is asked for."""
    rows = _read_csv(path, time_col) if path.lower().endswith(".csv") else _read_jsonl(path, time_col)
    if not rows:
        raise BadInputError(f"manifest '{path}' lists no images; add rows with a path and a label")
    for line, file, label, time in rows:
        if not file or not label or (time_col and not time):
            what = "path" if not file else "label" if not label else f"'{time_col}' (time)"
            raise BadInputError(f"manifest '{path}' line {line} has an empty {what}; fill it in or remove the row")
    return rows


def _read_csv(path: str, time_col: str | None) -> list[tuple[int, str, str, str]]:
    """Rows numbered by the line each starts on, so a quoted multi-line cell above a bad row
    does not shift the line an error names."""
    reader = csv.reader(io.StringIO(read_user_text(path, hint="save it as UTF-8"), newline=""))
    try:
        header = next(reader, [])
        columns = [c.strip() for c in header]
        _require_columns(path, columns, "columns", "a header line `path,label`", time_col=time_col)
        wanted = [_only_column(path, columns, c) for c in ("path", "label", *([time_col] if time_col else []))]
        rows, start = [], reader.line_num + 1
        for values in reader:
            if values:
                cells = [values[i].strip() if i < len(values) else "" for i in wanted]
                rows.append((start, cells[0], cells[1], cells[2] if time_col else ""))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise BadInputError(f"manifest '{path}' is not valid CSV near line {reader.line_num} ({exc})") from None
    return rows


def _only_column(path: str, columns: list[str], name: str) -> int:
    """The index of column `name`, which must appear once: of two, one would be read and the
    other dropped without a word."""
    places = [i for i, column in enumerate(columns) if column == name]
    if len(places) > 1:
        raise BadInputError(f"manifest '{path}' has {len(places)} columns named '{name}' (columns "
                            f"{', '.join(str(i + 1) for i in places)}); rename all but one")
    return places[0]


def _read_jsonl(path: str, time_col: str | None) -> list[tuple[int, str, str, str]]:
    rows = []
    for line, text in enumerate(read_user_text(path, hint="save it as UTF-8").split("\n"), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"manifest '{path}' line {line} is not valid JSON ({exc.msg}); "
                                f"write one {{\"path\": ..., \"label\": ...}} object per line") from None
        if not isinstance(record, dict):
            raise BadInputError(f"manifest '{path}' line {line} is not a JSON object; "
                                f"write one {{\"path\": ..., \"label\": ...}} object per line")
        _require_columns(path, list(record), "keys", "{\"path\": ..., \"label\": ...}", line, time_col)
        rows.append((line, _text(record["path"]), _text(record["label"]),
                     _text(record[time_col]) if time_col else ""))
    return rows


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _require_columns(path: str, found: list[str], noun: str, expected: str, line: int | None = None,
                     time_col: str | None = None) -> None:
    absent = [c for c in ("path", "label", *([time_col] if time_col else [])) if c not in found]
    if absent:
        where = f"line {line} of manifest '{path}'" if line else f"manifest '{path}'"
        listed = ", ".join(found) if found else "none"
        raise BadInputError(
            f"{where} has no '{absent[0]}' {noun[:-1]} (found {noun}: {listed}); expected {expected}"
        )
