"""Subword tokenizers (`bpe`, `wordpiece`) trained with Hugging Face `tokenizers` on a run's training texts.

A word tokenizer maps every word it never saw in training to one unknown token, so rare words,
misspellings and inflections lose what they share with known ones. A subword tokenizer learns
pieces from the training split (frequent words stay whole, rare ones split into smaller pieces,
down to single characters), so an unseen word still reaches the model as pieces it knows.

Unlike `words` and `chars`, these must be fitted before they tokenize: core calls `fit` on the
training split's texts only (what tells it so is the `fit` method), then keeps `state()` in the
run and in an exported model's JSON, and builds the tokenizer back from that state to evaluate
and predict, so every later text is cut exactly as training cut it. `tokenizers` is imported
only here, inside functions: the CLI loads the tokenizer plugin at start-up for every command.
"""

from __future__ import annotations

import json
import os
from typing import Any

from taskkit.errors import BadInputError, describe

#: The subword models this module trains, by registered name: the `tokenizers` model class.
MODELS = {"bpe": "BPE", "wordpiece": "WordPiece"}
UNKNOWN = "[UNK]"  # the piece for a character training never saw; the run's vocabulary lacks it, so it gets unknown_id
END_OF_WORD = "</w>"  # BPE marks a word's last piece, so "low" ending a word and "low" starting "lower" differ


class SubwordTokenizer:
    """Text -> subword pieces; untrained until `fit` (a new run) or built from a saved `state`."""

    def __init__(self, kind: str, vocab_size: int = 8000, lowercase: bool = True, min_frequency: int = 2,
                 state: str | None = None) -> None:
        if kind not in MODELS:
            raise BadInputError(f"unknown subword model '{kind}'; choose one of {', '.join(MODELS)}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            raise BadInputError(f"a {kind} tokenizer's vocab_size must be a whole number of at least 2, "
                                f"got {vocab_size!r}")
        if isinstance(min_frequency, bool) or not isinstance(min_frequency, int) or min_frequency < 1:
            raise BadInputError(f"a {kind} tokenizer's min_frequency must be at least 1, got {min_frequency!r}")
        self.kind, self.vocab_size, self.lowercase, self.min_frequency = kind, vocab_size, lowercase, min_frequency
        self._tokenizer: Any = None if state is None else _from_state(kind, state)

    def __call__(self, text: str) -> list[str]:
        return self._trained().encode(text, add_special_tokens=False).tokens

    def fit(self, texts: list[str]) -> None:
        """Learn the pieces from `texts` (the training split's, so no validation or test word shapes them)."""
        from tokenizers import trainers

        texts = list(texts)
        if not any(text.strip() for text in texts):
            raise BadInputError(f"the {self.kind} tokenizer has no training text to learn pieces from")
        tokenizer = _untrained(self.kind, self.lowercase)
        trainer_class = trainers.BpeTrainer if self.kind == "bpe" else trainers.WordPieceTrainer
        extra = {"end_of_word_suffix": END_OF_WORD} if self.kind == "bpe" else {}
        trainer = trainer_class(vocab_size=self.vocab_size, min_frequency=self.min_frequency,
                                special_tokens=[UNKNOWN], show_progress=False, **extra)
        tokenizer.train_from_iterator(texts, trainer, length=len(texts))
        # Training ran on a thread pool; a data loader forking workers after it would otherwise make
        # `tokenizers` print a warning in each worker. Saying how it should behave silences it.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self._tokenizer = tokenizer

    def state(self) -> str:
        """The trained tokenizer as JSON text (`tokenizers.Tokenizer.to_str`), to save and build it back from."""
        return self._trained().to_str()

    def _trained(self) -> Any:
        if self._tokenizer is None:
            raise BadInputError(f"the {self.kind} tokenizer has not been trained: fit it on the training texts "
                                f"first, or build it from a run's saved tokenizer state")
        return self._tokenizer

    def __repr__(self) -> str:
        trained = "trained" if self._tokenizer is not None else "untrained"
        return f"SubwordTokenizer({self.kind!r}, vocab_size={self.vocab_size}, {trained})"


def _untrained(kind: str, lowercase: bool) -> Any:
    """An empty `tokenizers.Tokenizer`: NFKC (and lowercase) normalisation, words and punctuation split apart."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    model = (models.BPE(unk_token=UNKNOWN, end_of_word_suffix=END_OF_WORD) if kind == "bpe"
             else models.WordPiece(unk_token=UNKNOWN))
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = (normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]) if lowercase
                            else normalizers.NFKC())
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def _from_state(kind: str, state: str) -> Any:
    """The tokenizer a `state()` saved, refused in one line when it is not text, not a tokenizer's
    JSON, or another model's (a hand-edited or swapped state would otherwise cut texts differently)."""
    from tokenizers import Tokenizer

    if not isinstance(state, str) or not state.strip():
        raise BadInputError(f"a {kind} tokenizer's state must be the JSON text it saved, not {type(state).__name__}")
    try:
        found = json.loads(state).get("model", {}).get("type")
    except (ValueError, AttributeError) as exc:
        raise BadInputError(f"the saved {kind} tokenizer state is not a tokenizer's JSON ({describe(exc, 80)})") from None
    if found != MODELS[kind]:
        raise BadInputError(f"the saved tokenizer state holds a {found or 'unknown'} model, not the {kind} "
                            f"({MODELS[kind]}) model the run names")
    try:
        return Tokenizer.from_str(state)
    except Exception as exc:  # `tokenizers` raises plain Exception for every unreadable state
        raise BadInputError(f"the saved {kind} tokenizer state cannot be read ({describe(exc, 80)})") from None
