"""Labelled texts from a CSV, TSV or JSONL file, with every row that cannot be used reported.

Many classic corpora are not UTF-8, and one bad byte should not cost a whole file: each line
is decoded on its own, so an undecodable row is reported with its line number and skipped
(or, with `--strict`, stops the run with that line named). UTF-16 and UTF-32 files are decoded
whole, since their line ends are not single bytes. Rows with an empty text or no
label are reported and skipped too; nothing in the file is ever rewritten.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from taskkit.errors import BadInputError
from taskkit.storage.user_text import bom_encoding, read_user_text, splits_as_bytes, text_encoding

FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None}


@dataclass
class TextTable:
    """Texts and their labels, in file order, and the rows left out as (line, reason)."""

    texts: list[str]
    labels: list[str]
    skipped: list[tuple[int, str]] = field(default_factory=list)
    source: str = ""
    times: list[str] = field(default_factory=list)  # each row's `time_col` value, when one is read
    lines: list[int] = field(default_factory=list)  # each kept row's line number, for messages


def read_table(path: str | Path, text_col: str = "text", label_col: str | None = "label",
               encoding: str = "utf-8", strict: bool = False, time_col: str | None = None) -> TextTable:
    """The rows of a CSV, TSV or JSONL file; `label_col=None` reads texts only (for prediction);
    `time_col` (`--split time`) is read too, and a row without a time is skipped like one without a label."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"text data '{path}' does not exist; pass a .csv, .tsv or .jsonl file")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise BadInputError(f"text data '{path}' is not a .csv, .tsv or .jsonl file")
    lines, skipped = _decoded_lines(path, encoding, strict)
    if suffix == ".jsonl":
        rows = _json_rows(lines, skipped)
    else:
        header, rows = _delimited_rows(path, lines, FORMATS[suffix])
        _check_columns(path, header, ((text_col, "--text-col"), (label_col, "--label-col"), (time_col, "--time-col")))
    table = TextTable([], [], skipped, str(path))
    for number, row in rows:
        _take(table, number, row, text_col, label_col, time_col)
    if not table.texts:
        reasons = f" ({len(table.skipped)} rows skipped, e.g. line {table.skipped[0][0]}: {table.skipped[0][1]})" \
            if table.skipped else ""
        raise BadInputError(f"{path} has no usable rows{reasons}")
    if strict and table.skipped:
        number, reason = table.skipped[0]
        raise BadInputError(f"{path} line {number}: {reason}; fix it, or drop --strict to skip such rows")
    table.skipped.sort()
    return table


def _decoded_lines(path: Path, encoding: str, strict: bool) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(line number, text) of each line that decodes, and the skipped ones with why. A file in
    an encoding whose line ends are not single bytes (UTF-16) is decoded whole first."""
    try:
        text_encoding(encoding)
    except BadInputError:
        raise BadInputError(f"unknown --encoding '{encoding}'; try utf-8, latin-1 or cp1252") from None
    if not splits_as_bytes(encoding):
        text = read_user_text(path, encoding, hint="check --encoding")
        return list(enumerate(io.StringIO(text, newline=""), start=1)), []
    whole = path.read_bytes()
    marked = bom_encoding(whole)
    if marked is not None:
        raise BadInputError(f"{path} starts with the byte-order mark of {marked}, not {encoding}; "
                            f"pass --encoding {marked}")
    lines, skipped = [], []
    for number, raw in enumerate(whole.splitlines(keepends=True), start=1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 and encoding.lower().replace("_", "-") in ("utf-8", "utf8")
                              else encoding)
        except UnicodeDecodeError as exc:
            reason = f"not valid {encoding} (byte {raw[exc.start]:#04x} at column {exc.start + 1})"
            if strict:
                raise BadInputError(f"{path} line {number} is {reason}; pass --encoding (e.g. latin-1), "
                                    f"or drop --strict to skip such rows") from None
            skipped.append((number, reason))
            continue
        lines.append((number, text))
    return lines, skipped


def _delimited_rows(path: Path, lines: list[tuple[int, str]], delimiter: str) -> tuple[list[str], list]:
    """The header, and rows as dicts by header name with the number of the line each starts on."""
    numbers = [n for n, _ in lines]
    reader = csv.reader((text for _, text in lines), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise BadInputError(f"{path} is empty; it needs a header row and at least one row") from None
    except csv.Error as exc:
        raise BadInputError(f"{path} is not valid {'TSV' if delimiter == chr(9) else 'CSV'} ({exc})") from None
    header = [h.strip() for h in header]
    rows, start = [], reader.line_num
    try:
        for values in reader:
            rows.append((numbers[start] if start < len(numbers) else start + 1, dict(zip(header, values))))
            start = reader.line_num
    except csv.Error as exc:
        raise BadInputError(f"{path} is not valid CSV near line {numbers[min(start, len(numbers) - 1)]} ({exc})") from None
    return header, rows


def _check_columns(path: Path, header: list[str], wanted: tuple[tuple[str | None, str], ...]) -> None:
    """Each column read present, and present once: of two columns with one name, a row keeps
    only the last, so the other would be dropped without a word."""
    for column, flag in wanted:
        if column is None:
            continue
        if column not in header:
            raise BadInputError(f"{path} has no column '{column}'; its columns are {', '.join(header)} "
                                f"(choose with {flag})")
        places = [str(i) for i, name in enumerate(header, start=1) if name == column]
        if len(places) > 1:
            raise BadInputError(f"{path} has {len(places)} columns named '{column}' (columns {', '.join(places)}); "
                                f"rename all but one, or choose another with {flag}")


def _json_rows(lines: list[tuple[int, str]], skipped: list[tuple[int, str]]) -> list:
    rows = []
    for number, text in lines:
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except ValueError as exc:
            skipped.append((number, f"not a JSON object ({exc.args[0] if exc.args else exc})"))
            continue
        if not isinstance(row, dict):
            skipped.append((number, "not a JSON object"))
            continue
        rows.append((number, row))
    return rows


def _take(table: TextTable, number: int, row: dict, text_col: str, label_col: str | None,
          time_col: str | None = None) -> None:
    """Add one row to `table`, or record why it was left out."""
    if text_col not in row:
        table.skipped.append((number, f"no '{text_col}' key (keys: {', '.join(map(str, row)) or 'none'})"))
        return
    text = row.get(text_col)
    text = "" if text is None else str(text)
    if not text.strip():
        table.skipped.append((number, "empty text"))
        return
    time = "" if time_col is None or row.get(time_col) is None else str(row.get(time_col)).strip()
    if time_col is not None and not time:
        table.skipped.append((number, f"no time in '{time_col}'"))
        return
    if label_col is not None:
        label = row.get(label_col)
        if label is None or str(label).strip() == "":
            table.skipped.append((number, "no label"))
            return
        table.labels.append(str(label).strip())
    if time_col is not None:
        table.times.append(time)
    table.texts.append(text)
    table.lines.append(number)
