"""Reading a text file a user hands over (configs, CoNLL files, class lists, inputs to predict).

Spreadsheet programs and Windows editors often start UTF-8 files with a byte-order mark, and
many older corpora are Latin-1; a BOM must not become part of the first word, and a byte the
encoding cannot decode must name its line so the user can find it, not end in a traceback.
"""

from __future__ import annotations

from pathlib import Path

from taskkit.errors import BadInputError


def read_user_text(path: str | Path, encoding: str = "utf-8", *, hint: str = "") -> str:
    """The file's text; a leading UTF-8 BOM is dropped, and an undecodable byte is one line naming it.

    `hint` ends that line, e.g. "pass --encoding, e.g. latin-1" where the command has the option.
    """
    import codecs

    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise BadInputError(f"unknown encoding '{encoding}'; try utf-8, latin-1 or cp1252") from None
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig" if name == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        advice = f"; {hint}" if hint else ""
        raise BadInputError(f"{path} line {line} is not valid {encoding} (byte {raw[exc.start]:#04x} at column "
                            f"{column}){advice}") from None
