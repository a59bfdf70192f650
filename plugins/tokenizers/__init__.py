"""Built-in tokenizers: `words` (lowercased words and punctuation), `chars`, and the subword `bpe` and `wordpiece`.

A tokenizer factory returns a function from a text to its tokens. `words` and `chars` need
nothing but the standard library; `bpe` and `wordpiece` are trained on a run's training split
with Hugging Face `tokenizers`, which `subword` imports only when one is built, since the CLI
loads this module at start-up for every command.
"""

from __future__ import annotations

import re
from typing import Callable

from taskkit import hookimpl

#: Words (with inner apostrophes: don't, l'été), numbers, and each other visible character alone.
WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def words(lowercase: bool = True) -> Callable[[str], list[str]]:
    """Words and punctuation marks, lowercased: "Don't!" -> ["don't", "!"]."""
    def tokenize(text: str) -> list[str]:
        return WORD.findall(text.lower() if lowercase else text)

    return tokenize


def chars(lowercase: bool = False) -> Callable[[str], list[str]]:
    """Every character but whitespace runs, which become one space: for misspelt or unsegmented text."""
    def tokenize(text: str) -> list[str]:
        text = " ".join(text.split())
        return list(text.lower() if lowercase else text)

    return tokenize


def bpe(vocab_size: int = 8000, lowercase: bool = True, state: str | None = None) -> Callable[[str], list[str]]:
    """Byte-pair-encoding subwords learned from the training split: rare and unseen words as known pieces.

    Trained by the run (`fit`) on its training texts only, or built back from the `state` a run
    saved; `lowercase` and `vocab_size` shape training alone, as the state holds both."""
    from taskkit.plugins.tokenizers.subword import SubwordTokenizer

    return SubwordTokenizer("bpe", vocab_size, lowercase, state=state)


def wordpiece(vocab_size: int = 8000, lowercase: bool = True,
              state: str | None = None) -> Callable[[str], list[str]]:
    """WordPiece subwords (BERT's: "##" marks a piece inside a word) learned from the training split.

    Trained by the run (`fit`) on its training texts only, or built back from the `state` a run
    saved; `lowercase` and `vocab_size` shape training alone, as the state holds both."""
    from taskkit.plugins.tokenizers.subword import SubwordTokenizer

    return SubwordTokenizer("wordpiece", vocab_size, lowercase, state=state)


@hookimpl
def tk_register_tokenizers(tokenizers):
    tokenizers.register("words")(words)
    tokenizers.register("chars")(chars)
    tokenizers.register("bpe")(bpe)
    tokenizers.register("wordpiece")(wordpiece)
