"""The callbacks `fit` calls: progress, CSV and TensorBoard logs, checkpoints, early stopping.

Each keeps its own state in `FitState` or on disk, never in memory alone, so a resumed run
continues every one of them where it stopped.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Callable

from taskkit.storage.atomic import atomic_write
from taskkit.storage.checkpoints import rng_state, save_state, save_weights
from taskkit.train.state import Callback, FitState
from taskkit.errors import BadInputError
from taskkit.storage.files import LAST_CHECKPOINT, WEIGHTS

__all__ = ["CSVLogger", "Callback", "Checkpointer", "EarlyStopping", "ProgressBar", "TensorBoardLogger", "format_row"]


def format_row(row: dict[str, float]) -> str:
    """One short line per epoch: paired train/val values, then the learning rate and time."""
    parts = []
    for key, value in row.items():
        metric = key.removeprefix("train_")
        if key.startswith("train_") and f"val_{metric}" in row:
            parts.append(f"{metric} {value:.4f}/{row[f'val_{metric}']:.4f}")
        elif key == "lr":
            parts.append(f"lr {value:.2e}")
        elif key == "time":
            parts.append(f"{value:.1f}s")
        elif key != "epoch" and not (key.startswith("val_") and f"train_{key[4:]}" in row):
            parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    return "  ".join(parts)


class ProgressBar(Callback):
    """A rich progress bar per epoch and one summary line after it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=self.console, transient=True)
        self.task = None

    def on_step(self, state: FitState, step: int, steps: int) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("train", total=steps, epoch=f"{state.epoch + 1}/{state.epochs}")
        self.progress.update(self.task, completed=step)

    def on_epoch_end(self, state: FitState, row: dict[str, float]) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        self.progress.stop()
        self.console.print(f"epoch {state.epoch}/{state.epochs} (train/val)  {format_row(row)}",
                           highlight=False, soft_wrap=True)

    def on_fit_end(self, state: FitState) -> None:
        self.progress.stop()


class CSVLogger(Callback):
    """metrics.csv, rewritten whole from the history each epoch so a resume never duplicates rows."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_epoch_end(self, state: FitState, row: dict[str, float]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(state.history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(state.history)
        atomic_write(self.path, lambda tmp: tmp.write_text(buffer.getvalue()))


class TensorBoardLogger(Callback):
    """Scalars for TensorBoard under `<run>/tensorboard` (needs the `tensorboard` extra)."""

    def __init__(self, log_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise BadInputError("--tensorboard needs TensorBoard: pip install 'taskkit[tensorboard]'") from None
        self.writer = SummaryWriter(str(log_dir))

    def on_epoch_end(self, state: FitState, row: dict[str, float]) -> None:
        for key, value in row.items():
            if key != "epoch":
                self.writer.add_scalar(key, value, state.epoch)
        self.writer.flush()

    def on_fit_end(self, state: FitState) -> None:
        self.writer.close()


class Checkpointer(Callback):
    """Best weights (chosen on a validation metric) and the last resumable state, each epoch.

    The best weights are those of `weights` where given (the weight average, which is what
    validation scored), else of `objects["model"]`; every object's state goes into last.ckpt.
    Without `write` (ranks other than 0) it only keeps the best epoch in the state. A new
    run's last.ckpt is written before its first step as well: whenever training stops, there
    is a checkpoint to resume from.
    """

    def __init__(self, run_dir: Path, objects: dict[str, Any], monitor: str = "val_acc", mode: str = "max",
                 extra: Callable[[], dict[str, Any]] | None = None, weights: Any = None, write: bool = True) -> None:
        self.run_dir, self.objects, self.monitor, self.mode, self.write = run_dir, objects, monitor, mode, write
        self.extra = extra or dict
        self.weights = weights if weights is not None else objects["model"]

    def on_fit_start(self, state: FitState) -> None:
        """A checkpoint before the first step, so a run stopped in its first epoch resumes too."""
        if self.write and not (self.run_dir / LAST_CHECKPOINT).exists():
            save_state(self.state_dict(state), self.run_dir / LAST_CHECKPOINT)

    def improved(self, value: float, best: float | None) -> bool:
        return best is None or (value > best if self.mode == "max" else value < best)

    def on_epoch_end(self, state: FitState, row: dict[str, float]) -> None:
        value = row[self.monitor]
        if self.improved(value, state.best_value):
            state.best_value, state.best_epoch = value, state.epoch
            if self.write:
                save_weights(self.weights.state_dict(), self.run_dir / WEIGHTS)
        if self.write:
            save_state(self.state_dict(state), self.run_dir / LAST_CHECKPOINT)

    def state_dict(self, state: FitState) -> dict[str, Any]:
        saved = {name: obj.state_dict() for name, obj in self.objects.items() if obj is not None}
        fit_state = {k: getattr(state, k) for k in ("epoch", "global_step", "history", "best_value", "best_epoch")}
        return {**saved, "fit": fit_state, "rng": rng_state(), **self.extra()}


class EarlyStopping(Callback):
    """Stop when the monitored metric has not improved for `patience` epochs."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_epoch_end(self, state: FitState, row: dict[str, float]) -> None:
        if state.best_epoch is not None and state.epoch - state.best_epoch >= self.patience:
            state.stop_reason = f"early stopping: no improvement for {self.patience} epochs"
