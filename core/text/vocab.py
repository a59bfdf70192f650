"""A vocabulary built from the training split only, saved with the run and used to predict.

Building it from all the data would let validation and test words shape the model's inputs,
a quiet leak; so `Vocabulary.build` sees training texts only, and eval and predict load the
saved one, mapping every word it lacks to the unknown token.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from taskkit.storage.atomic import atomic_write
from taskkit.errors import BadInputError
from taskkit.sequence import UNK_ID

PAD, UNK = "<pad>", "<unk>"  # ids PAD_ID and UNK_ID of taskkit.sequence


@dataclass
class Vocabulary:
    """Tokens by id: 0 is padding, 1 the unknown token, then words by falling frequency."""

    tokens: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.tokens[:2] != [PAD, UNK]:
            raise BadInputError(f"a vocabulary starts with {PAD} and {UNK}, not {self.tokens[:2]}")
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], min_freq: int = 1, max_vocab: int | None = None) -> "Vocabulary":
        """Words seen at least `min_freq` times, the `max_vocab` most frequent (ties in alphabetical order)."""
        if min_freq < 1:
            raise BadInputError(f"--min-freq must be at least 1, got {min_freq}")
        if max_vocab is not None and max_vocab < 1:
            raise BadInputError(f"--max-vocab must be positive, got {max_vocab}")
        counts = Counter(token for tokens in token_lists for token in tokens)
        words = sorted((w for w, c in counts.items() if c >= min_freq and w not in (PAD, UNK)),
                       key=lambda w: (-counts[w], w))
        return cls([PAD, UNK, *words[:max_vocab]])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.index.get(token, UNK_ID) for token in tokens]

    def save(self, path: Path) -> None:
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(self.tokens, ensure_ascii=False), encoding="utf-8"))

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        try:
            tokens = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInputError(f"cannot read the vocabulary {path} ({exc})") from None
        return cls(tokens)

