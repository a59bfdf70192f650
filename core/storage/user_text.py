"""Reading a text file a user hands over (configs, CoNLL files, class lists, inputs to predict).

Spreadsheet programs and Windows editors often start UTF-8 files with a byte-order mark, and
many older corpora are Latin-1; a BOM must not become part of the first word, and a byte the
encoding cannot decode must name its line so the user can find it, not end in a traceback.
"""

from __future__ import annotations

from pathlib import Path

from taskkit.errors import BadInputError
from taskkit.storage.names import cut


def read_user_text(path: str | Path, encoding: str = "utf-8", *, hint: str = "", limit: int | None = None) -> str:
    """The file's text; a leading byte-order mark is dropped (UTF-8's, or UTF-16's where the codec
    named keeps it), and an undecodable byte is one line naming it.

    `hint` ends that line, e.g. "pass --encoding, e.g. latin-1" where the command has the option.
    `limit` bounds the bytes read, for files whose whole content is held and parsed at once
    (a config): a larger file is refused before it costs memory, whatever size it claims.
    """
    name = text_encoding(encoding)
    raw = _read_bytes(Path(path), limit)
    try:
        return raw.decode("utf-8-sig" if name == "utf-8" else encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        marked = bom_encoding(raw)
        if marked is not None:
            advice = f"; pass --encoding {marked}" if "--encoding" in hint else f"; {hint}" if hint else ""
            raise BadInputError(f"{path} starts with the byte-order mark of {marked}, not {encoding}{advice}") from None
        line, column = undecodable(raw, exc.start, encoding)
        advice = f"; {hint}" if hint else ""
        raise BadInputError(f"{cut(str(path))} line {line} is not valid {encoding} (byte {raw[exc.start]:#04x} "
                            f"at column {column}){advice}") from None


def _read_bytes(path: Path, limit: int | None) -> bytes:
    try:
        with open(path, "rb") as file:
            raw = file.read() if limit is None else file.read(limit + 1)
    except OSError as exc:
        raise BadInputError(f"cannot read {cut(str(path))}: {exc.strerror or exc}") from None
    if limit is not None and len(raw) > limit:
        raise BadInputError(f"{cut(str(path))} is larger than {_size(limit)}, the most tk reads from such a file")
    return raw


def _size(count: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count} bytes"


def text_encoding(encoding: str) -> str:
    """The codec's own name for `encoding`, or one line where it is not a text encoding at all."""
    import codecs

    try:
        name = codecs.lookup(encoding).name
        bytes(4).decode(encoding, errors="ignore")  # codecs such as hex or base64 are known but not text
    except LookupError:
        raise BadInputError(f"unknown encoding '{encoding}'; try utf-8, latin-1 or cp1252") from None
    return name


def undecodable(raw: bytes, start: int, encoding: str) -> tuple[int, int]:
    """The line and column of the byte at `start` that `encoding` cannot decode. Where
    the encoding's line ends are not single bytes (UTF-16, UTF-32) lines are counted in the
    decoded text before it, and the column in characters."""
    if splits_as_bytes(encoding):
        line = raw.count(b"\n", 0, start) + 1
        column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    else:
        before = raw[:start].decode(encoding, errors="replace")
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
    return line, column


def splits_as_bytes(encoding: str) -> bool:
    """Whether the encoding writes line ends and ASCII as the same single bytes (UTF-8, Latin-1,
    cp1252...), so a file can be cut into lines before it is decoded. UTF-16 and UTF-32 cannot:
    their line ends are two or four bytes, and a 0x0a byte may be half of another letter."""
    sample = '\r\n,"\t az09'
    try:
        return sample.encode("ascii").decode(encoding) == sample
    except UnicodeDecodeError:
        return False


def bom_encoding(raw: bytes) -> str | None:
    """utf-16 or utf-32 where `raw` starts with that encoding's byte-order mark, else None: such a
    file read as UTF-8 or Latin-1 is noise, and the mark says what to pass instead."""
    import codecs

    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None
