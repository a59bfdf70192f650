"""Sentences of tagged tokens from CoNLL-style files: a token and its tag per line, a blank line
between sentences.

Columns are separated by whitespace; the first is the token and the last the tag, so the
four-column CoNLL-2003 files and two-column ones read alike. `-DOCSTART-` lines are skipped.
A line with a single column is reported with its number and skipped (or fails with --strict).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from taskkit.errors import BadInputError
from taskkit.storage.user_text import read_user_text


@dataclass
class TaggedSentences:
    sentences: list[list[str]]
    tags: list[list[str]]
    skipped: list[tuple[int, str]] = field(default_factory=list)
    source: str = ""


def read_conll(path: str | Path, encoding: str = "utf-8", strict: bool = False) -> TaggedSentences:
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"tagged data '{path}' does not exist; pass a CoNLL-style file (token and tag per line)")
    text = read_user_text(path, encoding, hint="pass --encoding, e.g. latin-1")
    result = TaggedSentences([], [], [], str(path))
    tokens, tags = [], []
    for number, line in enumerate(text.splitlines() + [""], start=1):
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if tokens:
                result.sentences.append(tokens)
                result.tags.append(tags)
            tokens, tags = [], []
            continue
        if len(parts) < 2:
            if strict:
                raise BadInputError(f"{path} line {number} has a token but no tag; fix it or drop --strict")
            result.skipped.append((number, "a token but no tag"))
            continue
        tokens.append(parts[0])
        tags.append(parts[-1])
    if not result.sentences:
        raise BadInputError(f"{path} has no tagged sentences (a token and a tag per line, blank lines between)")
    return result
