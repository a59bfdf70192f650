"""Built-in tokenizers: `words` (lowercased words and punctuation) and `chars`.

A tokenizer factory returns a function from a text to its tokens. These need nothing but the
standard library, so they live in this one module.
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


@hookimpl
def tk_register_tokenizers(tokenizers):
    tokenizers.register("words")(words)
    tokenizers.register("chars")(chars)
