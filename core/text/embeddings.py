"""Pretrained word vectors for a vocabulary, in the formats people download, with their coverage.

GloVe text (a word and its numbers per line), word2vec and fastText `.vec` text (the same after
a "count dim" header line), word2vec binary (that header, then each word, a space and its
numbers as little-endian float32), each also gzipped. The format is told from the file's bytes
(gzip's magic number, a header, whether the first record reads as text), not its name, since
downloads get renamed and `.bin` or `.txt` promises nothing.

Only the vocabulary's words are kept while reading, so a multi-gigabyte file costs one pass
and no more memory than the embedding matrix. A word the file lacks in its exact form takes
the vector of its lowercase form (or the file's word whose lowercase form it is): cased files
like GoogleNews and fastText meet vocabularies that tk text lowercases. Words found neither
way keep the encoder's own initialisation; the report says how many were found, since low
coverage (another language, another casing) makes pretrained vectors worth little.
"""

from __future__ import annotations

import gzip
import io
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np
import torch

from taskkit.errors import BadInputError
from taskkit.text.vocab import Vocabulary

GZIP_MAGIC, ZIP_MAGIC = b"\x1f\x8b", b"PK\x03\x04"
SAMPLE, CHUNK = 1 << 16, 1 << 20
EXPECTED = "GloVe, word2vec (text or binary) or fastText .vec word vectors, optionally .gz"


@dataclass
class EmbeddingReport:
    source: str
    dim: int
    found: int
    words: int
    lowercase: int = 0  # of `found`, how many matched in lower case, not exactly
    format: str = ""

    @property
    def coverage(self) -> float:
        return self.found / max(self.words, 1)

    def summary(self) -> str:
        kind = f" ({self.format})" if self.format else ""
        folded = f"; {self.lowercase} of them matched in lower case" if self.lowercase else ""
        return (f"embeddings from {self.source}{kind}: {self.dim} dimensions, {self.found} of {self.words} "
                f"vocabulary words found ({self.coverage:.0%}{folded})")


class Vectors(dict):
    """Vectors by vocabulary id, and how they were read: `dim`, the file's `format`, and
    `lowercase`, how many were matched through a lowercase form. A dict, so that callers which
    take `dict[int, Tensor]` (and unpack `vectors, dim`) stay as they are."""

    def __init__(self, dim: int, format: str, lowercase: int = 0) -> None:
        super().__init__()
        self.dim, self.format, self.lowercase = dim, format, lowercase


def read_vectors(path: str | Path, vocab: Vocabulary, encoding: str = "utf-8") -> tuple[Vectors, int]:
    """Vectors by vocabulary id, and their dimension, from a file in any of the formats above; a
    file of another format, or a row of another dimension, is an error naming the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no embeddings file at {path}")
    layout, count, dim, zipped = _sniff(path)
    matcher = _Matcher(vocab)
    if layout == "binary":
        _read_binary(path, encoding, matcher, count, dim)
        name = "word2vec binary"
    else:
        dim = _read_text(path, encoding, matcher, dim)
        name = "word2vec/fastText text" if count is not None else "GloVe text"
    return matcher.result(dim, name + (", gzip" if zipped else "")), dim


def fill_embedding(weight: torch.Tensor, vectors: dict[int, torch.Tensor], source: str) -> EmbeddingReport:
    """Copy `vectors` into an embedding matrix whose width must be theirs."""
    dim = next(iter(vectors.values())).numel() if vectors else weight.shape[1]
    if dim != weight.shape[1]:
        raise BadInputError(f"{source} has {dim}-dimensional vectors but the embedding has {weight.shape[1]}; "
                            f"set --embedding-dim {dim}")
    with torch.no_grad():
        for index, vector in vectors.items():
            weight[index] = vector
    return EmbeddingReport(source, dim, len(vectors), weight.shape[0] - 2, getattr(vectors, "lowercase", 0),
                           getattr(vectors, "format", ""))


class _Matcher:
    """Which vocabulary ids a word of the file gives its vector to. Its own id first; failing
    that, a word whose lowercase form it is ('paris' for 'Paris'), and last a word equal to it in
    lower case ('Paris' for 'paris'). A better match replaces a worse one wherever it comes in the
    file; among equals the first wins (files list frequent words first)."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.tokens = vocab.tokens
        self.index = {word: i for word, i in vocab.index.items() if i > 1}  # not padding or <unk>
        self.by_lowercase: dict[str, list[int]] = {}
        for word, i in self.index.items():
            self.by_lowercase.setdefault(word.lower(), []).append(i)
        self.exact: dict[int, np.ndarray] = {}
        self.folded: dict[int, tuple[int, np.ndarray]] = {}  # id: (1 own lowercase form, 2 other casing; vector)

    def take(self, word: str, values: Callable[[], np.ndarray]) -> None:
        """Keep `values()`, parsed only when some id wants them, for the ids `word` matches best so far."""
        own = self.index.get(word)
        wanted = {own: 0} if own is not None and own not in self.exact else {}
        for i in self.by_lowercase.get(word.lower(), ()):
            rank = 1 if self.tokens[i].lower() == word else 2
            if i != own and i not in self.exact and rank < self.folded.get(i, (3,))[0]:
                wanted[i] = rank
        if not wanted:
            return
        vector = values()
        for i, rank in wanted.items():
            if rank == 0:
                self.exact[i] = vector
                self.folded.pop(i, None)
            else:
                self.folded[i] = (rank, vector)

    def result(self, dim: int, format: str) -> Vectors:
        vectors = Vectors(dim, format, lowercase=len(self.folded))
        for i, vector in [*((i, v) for i, (_, v) in self.folded.items()), *self.exact.items()]:
            vectors[i] = torch.from_numpy(vector.astype(np.float32))
        return vectors


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    """The file's bytes, decompressed when it starts with gzip's magic number, whatever its name."""
    with open(path, "rb") as raw:
        magic = raw.read(4)
    if magic.startswith(ZIP_MAGIC):
        raise BadInputError(f"{path} is a zip archive; unzip it and pass the .vec or .txt file inside")
    zipped = magic.startswith(GZIP_MAGIC)
    try:
        with (gzip.open(path, "rb") if zipped else open(path, "rb")) as stream:
            yield stream
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        if not zipped:
            raise
        raise BadInputError(f"{path} is a damaged or truncated gzip file ({exc}); download it again") from None


def _sniff(path: Path) -> tuple[str, int | None, int | None, bool]:
    """("text" or "binary", the header's count and dimension (None without one), gzipped or not).

    A first line of two whole numbers is word2vec's and fastText's header; the file is binary
    when the record after it does not read as a word followed by numbers."""
    with _opened(path) as stream:
        sample = stream.read(SAMPLE)
        zipped = isinstance(stream, gzip.GzipFile)
    if not sample.strip():
        raise BadInputError(f"{path} holds no vectors; expected {EXPECTED}")
    first, _, rest = sample.partition(b"\n")
    header = first.split()
    if len(header) != 2 or not all(part.isdigit() for part in header):
        return "text", None, None, zipped
    count, dim = int(header[0]), int(header[1])
    if count == 0 or dim == 0 or not rest.strip():
        raise BadInputError(f"{path} holds no vectors (its header says {count} vectors of {dim} dimensions)")
    parts = rest.split(b"\n", 1)[0].split()
    try:  # a word and numbers, however many (the text reader then says if they are too few)
        text = len(parts) >= 2 and bool([float(part) for part in parts[1:]])
    except ValueError:
        text = False
    return ("text" if text else "binary"), count, dim, zipped


def _read_text(path: Path, encoding: str, matcher: _Matcher, dim: int | None) -> int:
    """Read a text file into `matcher`; returns the dimension (the header's, or the first row's).

    The first row is checked whole. A later row with more values than the first is a word with
    spaces in it (glove.840B has a few) when its last `dim` fields are numbers; fewer is an error."""
    header, first = dim is not None, True
    with _opened(path) as stream:
        lines = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="\n")
        for number, line in enumerate(lines, start=1):
            line = line.rstrip()
            if (header and number == 1) or not line:
                continue
            width = line.count(" ")
            dim = width if dim is None else dim
            if width < dim or dim == 0 or (first and width != dim):
                raise _bad_row(path, number, width, dim, header and first)
            if first or width > dim:
                fields = line.rsplit(" ", dim)
                vector = _numbers(path, number, fields[1:])
                matcher.take(fields[0], lambda: vector)
            else:
                word, _, rest = line.partition(" ")
                matcher.take(word, lambda: _numbers(path, number, rest.split(" ")))
            first = False
    if dim is None:
        raise BadInputError(f"{path} holds no vectors; expected {EXPECTED}")
    return dim


def _numbers(path: Path, number: int, fields: list[str]) -> np.ndarray:
    try:
        return np.array([float(v) for v in fields], dtype=np.float32)
    except ValueError:
        raise BadInputError(f"{path} line {number} is not a word followed by its numbers; "
                            f"expected {EXPECTED}") from None


def _bad_row(path: Path, number: int, width: int, dim: int, after_header: bool) -> BadInputError:
    """One line naming the file, the row and what a row should be."""
    if dim == 0:
        what = "is not a word followed by its numbers"
    else:
        what = f"has {width} values where {'the header says' if after_header else 'the rows before it have'} {dim}"
    return BadInputError(f"{path} line {number} {what}; expected {EXPECTED}")


def _read_binary(path: Path, encoding: str, matcher: _Matcher, count: int, dim: int) -> None:
    """Read word2vec's binary records after the header into `matcher`."""
    with _opened(path) as stream:
        stream.readline()
        for word, raw in _binary_records(stream, path, count, 4 * dim):
            matcher.take(word.decode(encoding, errors="replace"),
                         lambda raw=raw: np.frombuffer(raw, dtype="<f4").copy())


def _binary_records(stream: BinaryIO, path: Path, count: int, size: int) -> Iterator[tuple[bytes, bytes]]:
    """(word, `size` bytes of its vector) for each of the `count` records, read a chunk at a time;
    the newline some writers put after each vector is skipped. A file that ends early is an error."""
    buffer, start = b"", 0
    for done in range(count):
        while True:
            space = buffer.find(b" ", start)
            if space != -1 and len(buffer) >= space + 1 + size:
                break
            more = stream.read(CHUNK)
            if not more:
                raise BadInputError(f"{path} ends after {done} of the {count} vectors its header promises; "
                                    f"expected a whole word2vec binary file (download it again)")
            buffer, start = buffer[start:] + more, 0
        yield buffer[start:space].lstrip(b"\r\n"), buffer[space + 1: space + 1 + size]
        start = space + 1 + size
