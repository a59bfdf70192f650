"""The sequence-model interface every text task relies on, and the encoder-with-head model.

A sequence encoder (registered with the backbones, `modality = "sequence"`) embeds token ids
and returns `(outputs [B, T, H], summary [B, H])` from `forward(tokens [B, T], lengths [B])`,
with outputs zero at padded positions. A sequence head (registered with the heads, also
`modality = "sequence"`) reads `(outputs, summary, lengths)`: pooling heads return
`[B, classes]`, the per-token head `[B, T, classes]`. Padding is the id 0 in every batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from taskkit.components import flag
from taskkit.errors import BadInputError

if TYPE_CHECKING:
    from taskkit.registry import Registry

PAD_ID = 0
UNK_ID = 1


def real_positions(lengths: Tensor, total_length: int, device: torch.device) -> Tensor:
    """A `[B, T]` boolean mask, true at each text's real tokens and false at its padding."""
    return torch.arange(total_length, device=device)[None, :] < lengths.to(device)[:, None]


#: How a message names what components of each modality are for.
MODALITY_WORDS = {"image": "images", "sequence": "sequences", "segmentation": "segmentation"}


def modality(component) -> str:
    """`image`, `sequence` or `segmentation` (decoders): what a backbone or head is for (image
    unless it says otherwise)."""
    return flag(component, "modality")


def require_modality(registry: "Registry", name: str, wanted: str, role: str) -> None:
    """Refuse, in one line, a component of the other kind: an image backbone for texts, or the reverse.

    Without this check the mismatch surfaces as a shape or argument error deep in the first
    training step; the line names a few components that fit instead.
    """
    found = modality(registry.get(name))
    if found == wanted:
        return
    fits = [n for n in registry.names() if not n.startswith(("timm/", "tv/")) and modality(registry.get(n)) == wanted]
    more = f", ... (see `tk list {registry.plural}`)" if len(fits) > 6 else ""
    words = {m: MODALITY_WORDS.get(m, f"{m}s") for m in (found, wanted)}
    raise BadInputError(f"{role} '{name}' is for {words[found]}, not {words[wanted]}; "
                        f"choose one of: {', '.join(fits[:6])}{more}")


class EncoderWithHead(nn.Module):
    """An encoder and a head read as one model: `model(tokens, lengths) -> logits`."""

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        outputs, summary = self.encoder(tokens, lengths)
        return self.head(outputs, summary, lengths)
