"""Embedding tables with sparse gradients, updated by SparseAdam beside the run's own optimizer.

A bag-of-n-grams model is almost all embedding table (millions of rows) of which one batch
touches a few hundred. A dense optimizer still reads and writes every row at every step: on a
CPU that was nine tenths of an epoch. An `nn.Embedding(..., sparse=True)` gives gradients for
the touched rows only, and torch's SparseAdam updates only those rows (lazily: a row's moments
move only when the row is used, as in fastText and word2vec). Such tables take no weight decay
(SparseAdam has none; decaying every row each step is the dense pass this avoids).

`TablesAndRest` is one `torch.optim.Optimizer` over both parts, so every scheduler, the
gradient scaler, the freezer, lr-find and the checkpoint see the single optimizer they expect:
its `param_groups` are the parts' own group dicts (a rate a scheduler sets is the rate the part
uses), the parts share its `state`, and its state dict has the standard shape.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: The group key that marks a group of sparse tables.
SPARSE = "sparse"


def is_sparse_table(module: nn.Module, name: str) -> bool:
    """Whether `module.<name>` is the weight of an embedding table that produces sparse gradients."""
    return isinstance(module, (nn.Embedding, nn.EmbeddingBag)) and module.sparse and name == "weight"


class TablesAndRest(torch.optim.Optimizer):
    """The run's optimizer (`rest`) over dense parameters and SparseAdam (`tables`) over sparse tables."""

    def __init__(self, rest: torch.optim.Optimizer | None, tables: torch.optim.SparseAdam):
        parts = [part for part in (rest, tables) if part is not None]
        super().__init__([group for part in parts for group in part.param_groups], dict(parts[0].defaults))
        self.rest, self.tables = rest, tables
        self._share_with_parts()

    def _share_with_parts(self) -> None:
        """Point each part at this optimizer's group dicts (its own) and at the one shared state."""
        for part, wanted in ((self.rest, False), (self.tables, True)):
            if part is not None:
                part.param_groups = [g for g in self.param_groups if bool(g.get(SPARSE)) == wanted]
                part.state = self.state

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """A group added mid-run (a stage unfrozen) goes to the part that updates its kind too."""
        if hasattr(self, "tables"):
            part = self.tables if param_group.get(SPARSE) else self.rest
            if part is None:
                raise ValueError("no optimizer for dense parameters was built; cannot add a dense group")
            part.add_param_group(param_group)  # fills the part's defaults into the same dict
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for part in (self.rest, self.tables):
            if part is not None:
                part.step()
        return loss

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)  # replaces the group dicts and the state
        self._share_with_parts()


def with_sparse_tables(groups: list[dict], build_rest, lr: float) -> torch.optim.Optimizer:
    """`build_rest(dense_groups)`, joined by SparseAdam (at rate `lr` unless a group has its own)
    when some groups hold sparse tables."""
    tables = [g for g in groups if g.get(SPARSE)]
    dense = [g for g in groups if not g.get(SPARSE)]
    if not tables:
        return build_rest(dense)
    return TablesAndRest(build_rest(dense) if dense else None, torch.optim.SparseAdam(tables, lr=lr))
