"""Sequence heads: logits from an encoder's `(outputs [B, T, H], summary [B, H], lengths [B])`.

The pooling heads reduce a text to one vector and classify it (`[B, num_outputs]`); they differ
in what they keep of a long text. Each reads only the real positions, through a mask built from
`lengths`, so padding changes no prediction even where an encoder leaves it non-zero. The
per-token head (`token`) gives `[B, T, num_outputs]` for sequence labelling.
"""

from __future__ import annotations

from torch import Tensor, nn

from taskkit.sequence import real_positions


class LinearHead(nn.Module):
    """Dropout and one linear layer over the features a subclass picks (`features`)."""

    modality = "sequence"

    def __init__(self, in_channels: int, num_outputs: int, dropout: float = 0.0):
        super().__init__()
        self.in_channels, self.num_outputs = in_channels, num_outputs
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_outputs)

    def features(self, outputs: Tensor, summary: Tensor, lengths: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, outputs: Tensor, summary: Tensor, lengths: Tensor) -> Tensor:
        return self.fc(self.dropout(self.features(outputs, summary, lengths)))


class PoolingHead(LinearHead):
    """Pool the real positions into one vector per text, then dropout and one linear layer.

    Subclasses implement `pool(outputs, summary, lengths) -> [B, in_channels]`.
    """

    def pool(self, outputs: Tensor, summary: Tensor, lengths: Tensor) -> Tensor:
        raise NotImplementedError

    def features(self, outputs: Tensor, summary: Tensor, lengths: Tensor) -> Tensor:
        return self.pool(outputs, summary, lengths)


def padding_of(outputs: Tensor, lengths: Tensor) -> Tensor:
    """A `[B, T, 1]` mask, true at padded positions, on the outputs' device."""
    return ~real_positions(lengths, outputs.shape[1], outputs.device)[..., None]


class LastHead(PoolingHead):
    """Linear layer over the encoder's summary: its final state (recurrent) or max-pool (TextCNN).

    The classic recurrent classifier, and the cheapest head. On long texts a recurrent final
    state holds mostly the last words; `max` or `attention` read every position instead.
    """

    def pool(self, outputs: Tensor, summary: Tensor, lengths: Tensor) -> Tensor:
        return summary


class MeanHead(PoolingHead):
    """Average of the outputs over the real positions, then a linear layer.

    Every word counts equally, which suits texts whose label is spread through them (topic,
    overall tone); a single decisive word is diluted in a long text.
    """

    def pool(self, outputs: Tensor, summary: Tensor, lengths: Tensor) -> Tensor:
        total = outputs.masked_fill(padding_of(outputs, lengths), 0.0).sum(dim=1)
        return total / lengths.to(outputs.device, outputs.dtype)[:, None]


class MaxHead(PoolingHead):
    """Largest value of each feature over the real positions (max-over-time), then a linear layer.

    Keeps each feature's strongest evidence wherever it occurs, so a cue early in a long text
    is not forgotten as it can be by a recurrent final state. Padding never wins, even where
    every real value is negative.
    """

    def pool(self, outputs: Tensor, summary: Tensor, lengths: Tensor) -> Tensor:
        return outputs.masked_fill(padding_of(outputs, lengths), float("-inf")).amax(dim=1)


class AttentionHead(PoolingHead):
    """Additive attention over the real positions (Bahdanau et al., 2015), then a linear layer.

    Scores each position with `v^T tanh(W h_t)`, softmaxes the scores over the real positions
    and classifies the weighted sum: the head learns which words matter, which helps on long
    texts where the final state forgets, and `weights` shows where it looked.
    """

    def __init__(self, in_channels: int, num_outputs: int, dropout: float = 0.0):
        super().__init__(in_channels, num_outputs, dropout)
        self.project = nn.Linear(in_channels, in_channels)
        self.score = nn.Linear(in_channels, 1, bias=False)

    def weights(self, outputs: Tensor, lengths: Tensor) -> Tensor:
        """Attention weights `[B, T]`: summing to one over each text's real positions, zero at padding."""
        scores = self.score(self.project(outputs).tanh())
        return scores.masked_fill(padding_of(outputs, lengths), float("-inf")).softmax(dim=1)[..., 0]

    def pool(self, outputs: Tensor, summary: Tensor, lengths: Tensor) -> Tensor:
        return (self.weights(outputs, lengths)[..., None] * outputs).sum(dim=1)


class TokenHead(LinearHead):
    """One linear layer applied at every position: `[B, T, num_outputs]`, for sequence labelling.

    Gives each token its own logits (tags for named entities or parts of speech). Values at
    padded positions are left as they come; the loss ignores those positions.
    """

    def features(self, outputs: Tensor, summary: Tensor, lengths: Tensor) -> Tensor:
        return outputs
