"""Sequence encoders: recurrent networks (RNN, LSTM, GRU) and Kim's convolutional TextCNN.

Each embeds token ids and returns `(outputs [B, T, H], summary [B, H])` (see
`taskkit.sequence`). Padding never reaches a real position: the recurrent encoders read packed
sequences, so each text stops at its own last token, and TextCNN zeroes the embeddings of
padded positions, which is exactly the zero padding a text alone gets at its end. A text
therefore gets the same outputs alone as inside a padded batch, and predictions do not depend
on what it was batched with.

The encoders also carry a backbone's bookkeeping (`stage_names`, `out_channels`, `reductions`
and `stages()`, the embedding first, as a stem) so `tk info` describes them as it describes a
vision backbone.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from taskkit.sequence import PAD_ID, real_positions


class RecurrentEncoder(nn.Module):
    """An embedding and a stacked, by default bidirectional, recurrent network over packed texts.

    Subclasses name their `cell` (an `nn.RNNBase` class). `dropout` sits between stacked layers
    (when `layers > 1`) and on what the encoder returns; `embedding_dropout` on the embeddings.
    The summary is the last layer's final state: the forward direction at the last real token
    and, when bidirectional, the backward direction after reading back to the first. With
    `packed=False` the network reads the padded tensor as it is, so padding enters the states;
    that mode exists to check that packing changes nothing on a text without padding.
    """

    modality = "sequence"
    cell: type[nn.RNNBase]
    cell_options: dict[str, object] = {}

    def __init__(self, vocab_size: int, embedding_dim: int = 128, hidden: int = 128, layers: int = 1,
                 bidirectional: bool = True, dropout: float = 0.3, embedding_dropout: float = 0.2,
                 packed: bool = True):
        super().__init__()
        self.packed = packed
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.rnn = self.cell(embedding_dim, hidden, num_layers=layers, batch_first=True,
                             bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0,
                             **self.cell_options)
        self.dropout = nn.Dropout(dropout)
        self.out_channels = [embedding_dim, hidden * (2 if bidirectional else 1)]
        self.stage_names = ["embedding", "encoder"]
        self.reductions = [1, 1]

    def stages(self) -> list[nn.Module]:
        return [self.embedding, self.rnn]

    def forward(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        total = tokens.shape[1]
        embedded = self.embedding_dropout(self.embedding(tokens))
        if self.packed:
            packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_outputs, state = self.rnn(packed)
            outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=total)
            exporting = torch.onnx.is_in_onnx_export()
            summary = self._summary_from_outputs(outputs, lengths) if exporting else self._summary(state)
        else:
            outputs, state = self.rnn(embedded)
            padding = ~real_positions(lengths, total, outputs.device)
            outputs = outputs.masked_fill(padding[..., None], 0.0)
            summary = self._summary(state)
        return self.dropout(outputs), self.dropout(summary)

    def _summary(self, state: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        """The last layer's final hidden state, directions side by side: `[B, H]`.

        `nn.LSTM` returns `(h, c)`; the summary is `h`, the state its outputs are made of.
        """
        hidden = state[0] if isinstance(state, tuple) else state
        directions = 2 if self.rnn.bidirectional else 1
        return torch.cat(list(hidden[-directions:]), dim=-1)

    def _summary_from_outputs(self, outputs: Tensor, lengths: Tensor) -> Tensor:
        """The summary read from the padded outputs (forward at each text's last real token,
        backward at its first), which hold the very values of the final state.

        torch's ONNX exporter turns a packed network into ONNX recurrent ops with per-text
        lengths, but fails when nothing reads their outputs, as with the `last` head on one
        layer; read from the outputs, the summary keeps them in the graph.
        """
        at_end = (lengths.to(outputs.device) - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[-1])
        forward = outputs.gather(1, at_end)[:, 0, : self.rnn.hidden_size]
        if not self.rnn.bidirectional:
            return forward
        return torch.cat([forward, outputs[:, 0, self.rnn.hidden_size:]], dim=-1)


class RNNEncoder(RecurrentEncoder):
    """Elman recurrent network (tanh): the simplest recurrent encoder, fine for short texts.

    Its gradients fade over long spans, so it forgets the start of a long text; prefer `lstm`
    or `gru` there, or a pooling head (`max`, `attention`) that reads every position.
    """

    cell = nn.RNN
    cell_options = {"nonlinearity": "tanh"}


class LSTMEncoder(RecurrentEncoder):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997): gated, remembers across long texts.

    The gates and the cell state let gradients cross many steps, which made the LSTM the
    default text encoder before transformers; bidirectional, it reads each word in both contexts.
    """

    cell = nn.LSTM


class GRUEncoder(RecurrentEncoder):
    """Gated recurrent unit (Cho et al., 2014): an LSTM with two gates and no cell state.

    A quarter fewer weights than an LSTM of the same width and about as accurate on most text
    tasks, so it trains a little faster.
    """

    cell = nn.GRU


class TextCNN(nn.Module):
    """Convolutions of several widths over word embeddings, max-pooled over time (Kim, 2014).

    Each width acts as an n-gram detector; the summary keeps each detector's strongest response
    anywhere in the text, so a cue counts wherever it appears. Fast and strong for
    classification, but it sees only local word order. Every convolution keeps the length
    (`(w-1)//2` zeros on the left, `w//2` on the right), giving one output per token, and the
    embeddings of padded positions are zeroed first, so padding looks like the end of the text.
    `dropout` applies to what the encoder returns, `embedding_dropout` to the embeddings.
    """

    modality = "sequence"

    def __init__(self, vocab_size: int, embedding_dim: int = 128, widths: tuple[int, ...] = (3, 4, 5),
                 channels: int = 100, dropout: float = 0.3, embedding_dropout: float = 0.2):
        super().__init__()
        self.widths = tuple(widths)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, channels, width) for width in self.widths)
        self.dropout = nn.Dropout(dropout)
        self.out_channels = [embedding_dim, channels * len(self.widths)]
        self.stage_names = ["embedding", "convolutions"]
        self.reductions = [1, 1]

    def stages(self) -> list[nn.Module]:
        return [self.embedding, self.convs]

    def forward(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        padding = ~real_positions(lengths, tokens.shape[1], tokens.device)[..., None]
        embedded = self.embedding_dropout(self.embedding(tokens)).masked_fill(padding, 0.0).transpose(1, 2)
        maps = [F.relu(conv(F.pad(embedded, ((width - 1) // 2, width // 2))))
                for width, conv in zip(self.widths, self.convs)]
        outputs = torch.cat(maps, dim=1).transpose(1, 2).masked_fill(padding, 0.0)
        summary = outputs.masked_fill(padding, float("-inf")).amax(dim=1)
        return self.dropout(outputs), self.dropout(summary)
