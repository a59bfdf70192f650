"""Word n-grams of token ids, hashed into a fixed number of rows inside the model.

Both the `ngram` encoder and the linear n-gram part of a blended classifier
(`taskkit.text.wide`) need the n-grams of a text without storing an n-gram vocabulary. The
hash is integer arithmetic on the ids, so an exported model computes the same rows from the
same ids, and the n-grams of a text are the same alone as in a padded batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from taskkit.sequence import PAD_ID, real_positions

#: A prime near a million: multiplying by it before the modulus spreads neighbouring ids apart.
HASH_PRIME = 1_000_003


def ngram_rows(tokens: Tensor, n: int, buckets: int) -> Tensor:
    """`[B, T]` rows (in `[0, buckets)`) of the n-gram of `n` words ending at each position;
    meaningful where the n-gram lies within the text, which `ngram_positions` tells. `n` is
    mixed in, so a word and a bigram rarely share a row."""
    rows = torch.zeros_like(tokens)
    for back in range(n - 1, -1, -1):
        earlier = torch.nn.functional.pad(tokens, (back, 0), value=PAD_ID)[:, : tokens.shape[1]]
        rows = (rows * HASH_PRIME + earlier) % buckets
    return (rows * HASH_PRIME + n) % buckets


def ngram_positions(lengths: Tensor, total_length: int, n: int, device: torch.device) -> Tensor:
    """`[B, T]`: true where an n-gram of `n` words ends at a real token and starts inside the text."""
    position = torch.arange(total_length, device=device)[None, :]
    return real_positions(lengths, total_length, device) & (position >= n - 1)


def bag_of_ngrams(tokens: Tensor, lengths: Tensor, ngrams: int, buckets: int) -> tuple[Tensor, Tensor]:
    """Every word n-gram of 1..`ngrams` words of each text: `(rows [B, ngrams*T], present [B, ngrams*T])`,
    `present` false at padding and at n-grams that would reach before the text."""
    rows, present = [], []
    for n in range(1, ngrams + 1):
        rows.append(ngram_rows(tokens, n, buckets))
        present.append(ngram_positions(lengths, tokens.shape[1], n, tokens.device))
    return torch.cat(rows, dim=1), torch.cat(present, dim=1)
