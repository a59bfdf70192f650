"""Test-time augmentation (`--tta hflip`): average the model's probabilities over flipped inputs.

`FlipAveraged` wraps a trained model for `tk eval` and `tk predict` only; training never sees
it. A classifier's outputs are averaged as they are; a dense output (`[B, C, H, W]`, a
segmentation) is flipped back first so every pixel is averaged with itself. The wrapper
returns log-probabilities, so whatever takes a softmax or an argmax of its output gets the
averaged probabilities.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from taskkit.errors import BadInputError

#: name -> the image dims it flips, for [B, C, H, W] tensors
FLIPS = {"hflip": (3,), "vflip": (2,)}


def parse_tta(spec: str | None) -> list[str]:
    """The flips a `--tta` spec names (`hflip`, `vflip` or both, comma-separated); [] for none."""
    if spec is None or spec.strip().lower() in ("", "none"):
        return []
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for name in names:
        if name not in FLIPS:
            from difflib import get_close_matches

            close = get_close_matches(name, list(FLIPS), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise BadInputError(f"unknown --tta '{name}'; {hint}choose from {', '.join(FLIPS)} (comma-separated)")
    return list(dict.fromkeys(names))


class FlipAveraged(nn.Module):
    """The model's mean softmax over the identity and each flip, as log-probabilities."""

    def __init__(self, model: nn.Module, flips: list[str]):
        super().__init__()
        self.model, self.flips = model, list(flips)

    def forward(self, images: Tensor) -> Tensor:
        total = self.model(images).float().softmax(1)
        for name in self.flips:
            dims = FLIPS[name]
            output = self.model(torch.flip(images, dims)).float()
            if output.dim() == 4:
                output = torch.flip(output, dims)
            total = total + output.softmax(1)
        return (total / (1 + len(self.flips))).clamp_min(1e-12).log()


def with_tta(model: nn.Module, spec: str | None) -> nn.Module:
    """`model` itself when `spec` names no flip, else wrapped to average over the flips."""
    flips = parse_tta(spec)
    return FlipAveraged(model, flips).eval() if flips else model
