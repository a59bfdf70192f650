"""How a `tk tune` trial is watched: the callback that reports each epoch's metric to optuna
(and stops a run the pruner gives up on), and the line printed as each trial ends.
"""

from __future__ import annotations

from typing import Any

import typer

from taskkit.errors import BadInputError
from taskkit.train.state import Callback


class TrialReporter(Callback):
    """Reports each epoch's metric to the optuna trial, and stops the run when the pruner says so."""

    def __init__(self, trial: Any, metric: str | None, maximize: bool) -> None:
        self.trial, self.metric, self.maximize = trial, metric, maximize
        self.values: list[float] = []
        self.pruned = False

    def callbacks(self, monitor: str) -> list[Callback]:
        """The `Drive.callbacks` factory: the metric the task monitors is the default one."""
        self.metric = self.metric or monitor
        return [self]

    def on_epoch_end(self, state: Any, row: dict[str, float]) -> None:
        if self.metric not in row:
            shown = ", ".join(k for k in row if k != "epoch")
            raise BadInputError(f"--metric {self.metric} is not a metric of this task's epochs; they have {shown}")
        self.values.append(float(row[self.metric]))
        self.trial.report(self.values[-1], state.epoch)
        # After the last epoch the run is complete; pruning it then would only discard its result.
        if state.epoch < state.epochs and self.trial.should_prune():
            self.pruned = True
            state.stop_reason = f"pruned by tk tune after epoch {state.epoch}"

    def best(self) -> float:
        return max(self.values) if self.maximize else min(self.values)


def report_trial(study: Any, trial: Any) -> None:
    """One line on stderr as each trial ends: its number, state, value and params."""
    state = {"FAIL": "failed", "PRUNED": f"pruned after epoch {trial.user_attrs.get('epochs_run')}"}.get(
        trial.state.name, trial.state.name.lower())
    value = "" if trial.value is None else f"  {study.user_attrs.get('metric', 'value')} {trial.value:.4g}"
    error = f"  ({trial.user_attrs['error']})" if "error" in trial.user_attrs else ""
    typer.echo(f"trial {trial.number} {state}{value}  {shown_params(trial.params)}{error}", err=True)


def shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def shown_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={shown(v)}" for k, v in params.items())
