"""A small Transformer encoder (Vaswani et al., 2017), trained from scratch on the task's texts.

Self-attention lets every token read every other one in a single step, so a cue anywhere in
the text is one hop from every position, and word order enters through position encodings.
Padding is masked out of every attention (a key padding mask built from `lengths`), so a real
position never reads a padded one; the outputs are zeroed at padded positions afterwards, and
the summary averages the real positions only. A text therefore gets the same outputs alone as
inside a padded batch, however far the batch is padded.

The layers are written out here (`scaled_dot_product_attention` with a boolean key mask)
rather than taken from `nn.TransformerEncoder`, whose eval-mode fast path (nested tensors,
fused kernels) runs other code than training and tracing do; written out, the model runs the
same operations in training, evaluation and export, and torch's TorchScript-based ONNX
exporter writes it with both the batch and the length left dynamic.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from taskkit.errors import BadInputError
from taskkit.sequence import PAD_ID, real_positions

POSITIONS = ("sinusoidal", "learned")


class SinusoidalPositions(nn.Module):
    """Fixed sines and cosines of geometrically spaced frequencies (Vaswani et al., 2017),
    computed for whatever length arrives, so no text is too long for them.

    Even features hold `sin(p / 10000^(2i/d))`, odd ones the matching cosine, written as a sine
    shifted by a quarter turn so any width, odd ones included, needs no index assignment.
    """

    def __init__(self, width: int):
        super().__init__()
        index = torch.arange(width)
        frequency = torch.exp(-(index - index % 2).float() * (math.log(10000.0) / width))
        self.register_buffer("frequency", frequency, persistent=False)
        self.register_buffer("phase", (index % 2).float() * (math.pi / 2), persistent=False)

    def forward(self, length: int, device: torch.device) -> Tensor:
        position = torch.arange(length, device=device).float()[:, None]
        return torch.sin(position * self.frequency + self.phase)


class LearnedPositions(nn.Module):
    """One trained vector per position, up to `max_positions`; a longer text is refused."""

    def __init__(self, width: int, max_positions: int):
        super().__init__()
        self.max_positions = max_positions
        self.table = nn.Embedding(max_positions, width)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, length: int, device: torch.device) -> Tensor:
        if length > self.max_positions:
            raise BadInputError(f"the transformer encoder's learned positions cover {self.max_positions} tokens but "
                                f"a batch has {length}; lower --max-len, raise max_positions or use sinusoidal "
                                f"positions")
        return self.table(torch.arange(length, device=device))


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention over the real positions only."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: Tensor, keys: Tensor) -> Tensor:
        """`x [B, T, W]`, `keys [B, 1, 1, T]` true where a position may be attended to."""
        batch, length, width = x.shape
        split = self.qkv(x).view(batch, length, 3, self.heads, width // self.heads)
        q, k, v = split.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, T, W / heads]
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keys,
                                                  dropout_p=self.dropout if self.training else 0.0)
        return self.out(attended.transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    """One pre-norm layer: `x + attention(norm(x))`, then `x + feed_forward(norm(x))` (GELU)."""

    def __init__(self, width: int, heads: int, hidden: int, dropout: float):
        super().__init__()
        self.attention_norm, self.attention = nn.LayerNorm(width), SelfAttention(width, heads, dropout)
        self.feed_forward_norm = nn.LayerNorm(width)
        self.feed_forward = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout),
                                          nn.Linear(hidden, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, keys: Tensor) -> Tensor:
        x = x + self.dropout(self.attention(self.attention_norm(x), keys))
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))


class TransformerStack(nn.Module):
    """Positions added to the embeddings, dropout, the pre-norm layers and a final LayerNorm."""

    def __init__(self, width: int, heads: int, hidden: int, layers: int, dropout: float, embedding_dropout: float,
                 positions: nn.Module):
        super().__init__()
        self.positions = positions
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.layers = nn.ModuleList(Block(width, heads, hidden, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(width)

    def forward(self, embedded: Tensor, real: Tensor) -> Tensor:
        x = self.embedding_dropout(embedded + self.positions(embedded.shape[1], embedded.device))
        keys = real[:, None, None, :]
        for layer in self.layers:
            x = layer(x, keys)
        return self.norm(x)


class TransformerEncoder(nn.Module):
    """A Transformer encoder (Vaswani et al., 2017) with pre-norm layers, trained from scratch.

    `embedding_dim` is the model width (every layer's input and output, and `out_channels`);
    `heads` must divide it. For this encoder `hidden` (`--hidden`) is the feed-forward width of
    each layer, and `layers` the number of layers. Each layer normalizes its input before the
    attention and before the feed-forward network, and adds the result back (pre-norm, as in
    GPT-2 and Xiong et al., 2020): the residual path stays an identity, so training is stable
    without the learning-rate warm-up the original post-norm layers need. A final LayerNorm
    follows the last layer. `positions` is `sinusoidal` (fixed, any length) or `learned` (one
    vector per position up to `max_positions`). `dropout` applies to the attention weights,
    inside the feed-forward network, on each residual branch and on what the encoder returns;
    `embedding_dropout` to the embeddings with their positions.

    The summary is the mean of the outputs over the real positions: a transformer has no final
    state, and the mean lets every token shape it (and get gradient) where a masked max would
    pass gradient to one position per feature; the `max` and `attention` heads pool otherwise.
    """

    modality = "sequence"

    def __init__(self, vocab_size: int, embedding_dim: int = 128, hidden: int = 256, layers: int = 2,
                 heads: int = 4, dropout: float = 0.1, embedding_dropout: float = 0.1,
                 positions: str = "sinusoidal", max_positions: int = 512):
        super().__init__()
        check_shape(embedding_dim, heads, positions)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        table = (SinusoidalPositions(embedding_dim) if positions == "sinusoidal"
                 else LearnedPositions(embedding_dim, max_positions))
        self.encoder = TransformerStack(embedding_dim, heads, hidden, layers, dropout, embedding_dropout, table)
        self.dropout = nn.Dropout(dropout)
        self.out_channels = [embedding_dim, embedding_dim]
        self.stage_names = ["embedding", "encoder"]
        self.reductions = [1, 1]

    def stages(self) -> list[nn.Module]:
        return [self.embedding, self.encoder]

    def forward(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        real = real_positions(lengths, tokens.shape[1], tokens.device)
        outputs = self.encoder(self.embedding(tokens), real).masked_fill(~real[..., None], 0.0)
        summary = outputs.sum(dim=1) / lengths.to(outputs.device, outputs.dtype)[:, None]
        return self.dropout(outputs), self.dropout(summary)


def check_shape(width: int, heads: int, positions: str) -> None:
    """Refuse, in one line, heads that do not divide the width or an unknown kind of positions."""
    if heads < 1 or width % heads:
        raise BadInputError(f"the transformer encoder needs --embedding-dim ({width}) divisible by --heads "
                            f"({heads}); pick heads that divide {width}")
    if positions not in POSITIONS:
        raise BadInputError(f"unknown positions '{positions}' for the transformer encoder; "
                            f"choose {' or '.join(POSITIONS)}")
