"""What the training loop keeps between epochs (`FitState`) and the callbacks that read it.

Its own module so that the loop (`engine`) and the callbacks it calls (`callbacks`) both
stand on it without either importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FitState:
    """What the loop knows between epochs; callbacks read and update it."""

    epochs: int
    epoch: int = 0  # epochs completed
    global_step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    stop_reason: str | None = None
    val_samples: int | None = None  # inputs the last validation scored, over every process


class Callback:
    """No-op base of what `fit` calls: subclasses override the moments they care about."""

    def on_fit_start(self, state: FitState) -> None: ...
    def on_step(self, state: FitState, step: int, steps: int) -> None: ...
    def on_epoch_end(self, state: FitState, row: dict[str, float]) -> None: ...
    def on_fit_end(self, state: FitState) -> None: ...
