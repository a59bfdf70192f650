"""Pretrained word vectors (GloVe or word2vec text files) for a vocabulary, with their coverage.

Only the vocabulary's words are kept while reading, so a multi-gigabyte file costs one pass
and no more memory than the embedding matrix. Words the file lacks keep the encoder's own
initialisation; the report says how many that is, since low coverage (another language,
another casing) makes pretrained vectors worth little.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from taskkit.errors import BadInputError
from taskkit.text.vocab import Vocabulary


@dataclass
class EmbeddingReport:
    source: str
    dim: int
    found: int
    words: int

    @property
    def coverage(self) -> float:
        return self.found / max(self.words, 1)

    def summary(self) -> str:
        return (f"embeddings from {self.source}: {self.dim} dimensions, {self.found} of {self.words} "
                f"vocabulary words found ({self.coverage:.0%})")


def read_vectors(path: str | Path, vocab: Vocabulary, encoding: str = "utf-8") -> tuple[dict[int, torch.Tensor], int]:
    """Vectors by vocabulary id, and their dimension; a row of another dimension is an error naming its line."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no embeddings file at {path}")
    vectors, dim = {}, None
    with open(path, encoding=encoding, errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec's header: count and dimension
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            elif len(parts) - 1 != dim:
                raise BadInputError(f"{path} line {number} has {len(parts) - 1} values, the lines before it {dim}; "
                                    f"is it a GloVe or word2vec text file?")
            index = vocab.index.get(parts[0])
            if index is not None and index > 1 and index not in vectors:
                try:
                    vectors[index] = torch.tensor([float(v) for v in parts[1:]])
                except ValueError:
                    raise BadInputError(f"{path} line {number} has a value that is not a number") from None
    if dim is None:
        raise BadInputError(f"{path} holds no vectors")
    return vectors, dim


def fill_embedding(weight: torch.Tensor, vectors: dict[int, torch.Tensor], source: str) -> EmbeddingReport:
    """Copy `vectors` into an embedding matrix whose width must be theirs."""
    dim = next(iter(vectors.values())).numel() if vectors else weight.shape[1]
    if dim != weight.shape[1]:
        raise BadInputError(f"{source} has {dim}-dimensional vectors but the embedding has {weight.shape[1]}; "
                            f"set --embedding-dim {dim}")
    with torch.no_grad():
        for index, vector in vectors.items():
            weight[index] = vector
    return EmbeddingReport(source, dim, len(vectors), weight.shape[0] - 2)
