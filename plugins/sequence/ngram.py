"""A bag of word n-grams, fastText style (Joulin et al., 2016): fast, and hard to beat on small data.

Word order barely matters for much of sentiment and topic classification, and a linear model
over word uni- and bigrams is the classical answer; fastText showed the same model trained as
a network (embeddings averaged, then a linear layer) is as accurate and trains in seconds. This
encoder gives each word an embedding (the `embedding` a pretrained file can fill) and each word
n-gram up to `ngrams` words a vector in a table of `buckets` rows chosen by hashing its word
ids, so no n-gram vocabulary is built or stored. A position's output is its word's vector plus
those of the n-grams ending at it; the summary is the mean over the real positions, which with
the `last` or `mean` head is fastText's averaged bag of features and a linear classifier.

The hashing is `taskkit.text.ngrams`'s, shared with the linear n-gram part of a blended
classifier.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from taskkit.sequence import PAD_ID, real_positions
from taskkit.text.ngrams import ngram_positions, ngram_rows


class NGramEncoder(nn.Module):
    """Word vectors plus hashed word n-gram vectors (2..`ngrams` words), averaged (fastText).

    `embedding_dim` is the width of every vector; `ngram_buckets` the rows of the n-gram table (more
    means fewer n-grams sharing a row, and more weights to train); `ngrams=1` leaves words alone.
    `dropout` applies to what the encoder returns, `embedding_dropout` to each vector before it
    is summed. The model has no recurrence or attention, and both tables have sparse gradients:
    a step updates only the rows its batch used (SparseAdam, no weight decay; see
    taskkit.train.sparse_tables), so the table's size costs memory, not time.
    """

    modality = "sequence"

    def __init__(self, vocab_size: int, embedding_dim: int = 64, ngrams: int = 2, ngram_buckets: int = 2 ** 16,
                 dropout: float = 0.5, embedding_dropout: float = 0.0):
        super().__init__()
        if ngrams < 1 or ngram_buckets < 1:
            from taskkit.errors import BadInputError

            raise BadInputError(f"the ngram encoder needs --ngrams and --ngram-buckets of at least 1, got {ngrams} "
                                f"and {ngram_buckets}")
        self.ngrams, self.buckets = ngrams, ngram_buckets
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID, sparse=True)
        self.ngram_embedding = nn.Embedding(ngram_buckets, embedding_dim, sparse=True)
        for table in (self.embedding.weight, self.ngram_embedding.weight):
            nn.init.uniform_(table, -1 / embedding_dim, 1 / embedding_dim)  # fastText's: small, so it learns fast
        with torch.no_grad():
            self.embedding.weight[PAD_ID] = 0.0
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.dropout = nn.Dropout(dropout)
        self.out_channels = [embedding_dim, embedding_dim]
        self.stage_names = ["embedding", "ngrams"]
        self.reductions = [1, 1]

    def stages(self) -> list[nn.Module]:
        return [self.embedding, self.ngram_embedding]

    def ngram_rows(self, tokens: Tensor, n: int) -> Tensor:
        """`[B, T]` table rows of the n-gram of `n` words ending at each position (meaningful where
        the n-gram lies within the text; the caller masks the rest)."""
        return ngram_rows(tokens, n, self.buckets)

    def forward(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        real = real_positions(lengths, tokens.shape[1], tokens.device)
        outputs = self.embedding_dropout(self.embedding(tokens))
        for n in range(2, self.ngrams + 1):
            inside = ngram_positions(lengths, tokens.shape[1], n, tokens.device)[..., None]
            vectors = self.embedding_dropout(self.ngram_embedding(self.ngram_rows(tokens, n)))
            outputs = outputs + vectors.masked_fill(~inside, 0.0)
        outputs = outputs.masked_fill(~real[..., None], 0.0)
        summary = outputs.sum(dim=1) / lengths.to(outputs.device, outputs.dtype)[:, None]
        return self.dropout(outputs), self.dropout(summary)
