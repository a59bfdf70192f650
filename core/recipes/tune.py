"""`tk tune`: hyperparameter search over any task's options with optuna.

Each trial is one ordinary run of the task (`drive.run_task`) with the sampled values added as
options, in `<study_dir>/trial-<number>`. A callback reports each epoch's validation metric to
the trial, so the pruner can stop a poor run early. The study lives in an optuna storage
(SQLite in the study folder unless `--storage` says otherwise), so a stopped study resumes where
it left off and several machines can share one. Optuna is an optional extra, imported inside
functions only.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
import yaml

from taskkit import drive
from taskkit.storage.atomic import atomic_write
from taskkit.train.callbacks import Callback
from taskkit.storage.config import read_config, write_config
from taskkit.errors import BadInputError, TrainingError, describe, one_line
from taskkit.recipes.tune_params import Param, parse_param

CHOICES = {"sampler": ("tpe", "random", "grid"), "pruner": ("hyperband", "median", "none"),
           "direction": ("maximize", "minimize")}


@dataclass(frozen=True)
class TuneSettings:
    """What `tk tune` was asked for besides the task and its options; checked on creation."""

    trials: int = 20
    params: list[str] = field(default_factory=list)
    sampler: str = "tpe"
    pruner: str = "hyperband"
    storage: str | None = None
    study_name: str | None = None
    metric: str | None = None
    direction: str | None = None
    sampler_seed: int = 0

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise BadInputError(f"--trials must be at least 1, got {self.trials}")
        if not self.params:
            raise BadInputError("tk tune needs at least one --param, e.g. --param 'lr=loguniform(1e-4,1e-1)'")
        for option, allowed in CHOICES.items():
            value = getattr(self, option)
            if value is not None and value not in allowed:
                raise BadInputError(f"--{option} must be {', '.join(allowed[:-1])} or {allowed[-1]}, got '{value}'")

    def asked_direction(self) -> str | None:
        """--direction, else the one --metric implies (minimize a loss, maximize the rest), else None:
        a new study then maximizes the task's monitor, and a resumed one keeps its own direction."""
        if self.direction or not self.metric:
            return self.direction
        return "minimize" if self.metric.endswith("loss") else "maximize"


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


def tune(task: str, task_args: list[str], settings: TuneSettings, study_dir: Path) -> dict[str, Any]:
    """Run the trials the study still lacks, then write trials.csv, best.yaml and history.png; returns the results."""
    optuna = _import_optuna()
    drive.check_task_args("tune", task_args)
    command = _task_command(task)
    params = [parse_param(text, command, task_args) for text in settings.params]
    if len({p.name for p in params}) < len(params):
        raise BadInputError("each option may be given as --param only once")
    grid = {p.name: p.grid_values() for p in params} if settings.sampler == "grid" else None
    study_dir.mkdir(parents=True, exist_ok=True)
    study, storage = _open_study(optuna, settings, grid, study_dir, _planned_epochs(command, task_args, params))
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    exhausted = settings.sampler == "grid" and study.sampler.is_exhausted(study)
    remaining = 0 if exhausted else max(settings.trials - done, 0)
    typer.echo(f"study {study.study_name}: {done} of {settings.trials} trials done, "
               + (f"running {remaining} more" if remaining else "nothing to run"), err=True)
    if remaining:
        metric = settings.metric or study.user_attrs.get("metric")  # None: the metric the task monitors
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        objective = _objective(optuna, task, task_args, params, metric, maximize, study_dir)
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # its failure warnings would repeat ours, with tracebacks
        try:
            study.optimize(objective, n_trials=remaining, catch=(TrainingError,),
                           callbacks=[optuna.study.MaxTrialsCallback(settings.trials, states=finished), _report_trial])
        finally:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
    return _write_outputs(optuna, study, task, storage, study_dir)


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise BadInputError("tk tune needs optuna: pip install 'taskkit[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _task_command(task: str) -> Any:
    from taskkit.cli.app import build_app
    from taskkit.registries import TASKS

    TASKS.get(task)  # an unknown task gets its suggestion
    command = typer.main.get_command(build_app()).commands.get(task)  # type: ignore[attr-defined]
    if command is None:
        raise BadInputError(f"task '{task}' has no command; see `tk plugins`")
    return command


def _planned_epochs(command: Any, task_args: list[str], params: list[Param]) -> int | None:
    """The epochs each trial trains for, as the task options say (Hyperband's largest budget);
    None when they do not say, or when the epochs are tuned themselves."""
    if any(p.name == "epochs" for p in params):
        return None
    context = command.make_context(command.name, list(task_args), resilient_parsing=True)
    epochs = context.params.get("epochs")
    if context.params.get("config") and context.get_parameter_source("epochs").name != "COMMANDLINE":
        epochs = read_config(context.params["config"]).get("epochs", epochs)
    return epochs if isinstance(epochs, int) and epochs >= 1 else None


def _open_study(optuna: Any, settings: TuneSettings, grid: dict[str, list] | None, study_dir: Path,
                epochs: int | None) -> tuple[Any, str]:
    """Create the study, or load it to resume (going the direction asked for, if any); returns it and
    its storage URL as it may be shown. A resumed TPE or random sampler adds the trials so far to its
    seed so that it draws new values, not the first ones again; the grid keeps its seed and order."""
    storage = settings.storage or f"sqlite:///{(study_dir / 'study.db').resolve()}"
    shown = re.sub(r"//([^/:@]+):[^/@]*@", r"//\1:***@", storage)  # the URL without its password
    name, direction = settings.study_name or study_dir.name, settings.asked_direction()
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=direction or "maximize",
                                    pruner=_pruner(optuna, settings.pruner, epochs), load_if_exists=True)
    except Exception as exc:  # whatever optuna or SQLAlchemy make of a URL they cannot open
        raise BadInputError(f"--storage {shown} cannot be opened: {describe(exc)}") from None
    stored_metric, existing = study.user_attrs.get("metric"), study.direction.name.lower()
    if settings.metric and stored_metric and stored_metric != settings.metric:
        raise BadInputError(f"study '{name}' in {shown} optimises {stored_metric}; pass --metric {stored_metric}, "
                            "or a new --study-name")
    if direction and existing != direction:
        raise BadInputError(f"study '{name}' in {shown} is set to {existing}; pass --direction {existing}, "
                            "or a new --study-name")
    if grid is not None:
        study.sampler = optuna.samplers.GridSampler(grid, seed=settings.sampler_seed)
    else:
        sampler = optuna.samplers.RandomSampler if settings.sampler == "random" else optuna.samplers.TPESampler
        study.sampler = sampler(seed=settings.sampler_seed + len(study.trials))
    return study, shown


def _pruner(optuna: Any, name: str, epochs: int | None) -> Any:
    """Steps are epochs counted from 1. Hyperband's budget is the planned epochs, so its first rung
    ends after epoch 1 and each bracket whose rungs end before the last epoch can stop a run."""
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs or "auto", reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def _objective(optuna: Any, task: str, task_args: list[str], params: list[Param], metric: str | None,
               maximize: bool, study_dir: Path) -> Any:
    """One trial: a run of the task with the sampled options; its value is its best epoch's metric."""
    def objective(trial: Any) -> float:
        sampled = {p.name: p.suggest(trial) for p in params}
        reporter = TrialReporter(trial, metric, maximize)
        args = [*task_args, "--out", str(study_dir), "--name", f"trial-{trial.number}",
                *(f"{p.flag}={sampled[p.name]}" for p in params)]
        run = drive.Drive(callbacks=reporter.callbacks,
                          record={"tune": {"study": trial.study.study_name, "trial": trial.number, "params": sampled}})
        try:
            drive.run_task(task, args, run)
        except TrainingError as exc:
            trial.set_user_attr("error", one_line(exc))
            raise
        finally:
            trial.set_user_attr("epochs_run", len(reporter.values))
            if run.runs:
                trial.set_user_attr("run_dir", str(run.runs[-1]))
            if reporter.metric and "metric" not in trial.study.user_attrs:
                trial.study.set_user_attr("metric", reporter.metric)
        if reporter.pruned:
            raise optuna.TrialPruned(f"pruned after epoch {len(reporter.values)}")
        return reporter.best()

    return objective


def _report_trial(study: Any, trial: Any) -> None:
    """One line on stderr as each trial ends: its number, state, value and params."""
    state = {"FAIL": "failed", "PRUNED": f"pruned after epoch {trial.user_attrs.get('epochs_run')}"}.get(
        trial.state.name, trial.state.name.lower())
    value = "" if trial.value is None else f"  {study.user_attrs.get('metric', 'value')} {trial.value:.4g}"
    error = f"  ({trial.user_attrs['error']})" if "error" in trial.user_attrs else ""
    typer.echo(f"trial {trial.number} {state}{value}  {_shown_params(trial.params)}{error}", err=True)


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _shown_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_shown(v)}" for k, v in params.items())


def _write_outputs(optuna: Any, study: Any, task: str, storage: str, study_dir: Path) -> dict[str, Any]:
    """trials.csv always; best.yaml and history.png once a trial has completed. Returns the results."""
    trials = [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
               "epochs_run": t.user_attrs.get("epochs_run", 0), "run_dir": t.user_attrs.get("run_dir")}
              for t in study.get_trials(deepcopy=False)]
    names = list(dict.fromkeys(name for t in trials for name in t["params"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "state", "value", *names, "epochs_run", "run_dir"])
    writer.writerows([t["number"], t["state"], t["value"], *(t["params"].get(n) for n in names), t["epochs_run"],
                      t["run_dir"]] for t in trials)
    atomic_write(study_dir / "trials.csv", lambda tmp: tmp.write_text(buffer.getvalue(), encoding="utf-8"))
    metric = study.user_attrs.get("metric")
    results = {"task": task, "study": study.study_name, "storage": storage, "study_dir": str(study_dir),
               "metric": metric, "direction": study.direction.name.lower(), "trials": trials, "best": None}
    if any(t["state"] == "COMPLETE" for t in trials):
        best = study.best_trial
        _plot_history(optuna, study, metric, study_dir / "history.png")
        results["best"] = {"number": best.number, "value": best.value, "params": best.params,
                           "run_dir": best.user_attrs.get("run_dir"),
                           "config": _write_best_config(best.user_attrs.get("run_dir"), study_dir / "best.yaml")}
    return results


def _write_best_config(run_dir: str | None, path: Path) -> str | None:
    """The best run's config.yaml without its name and folder, so `tk TASK --config` reruns it afresh."""
    source = Path(run_dir or "") / "config.yaml"
    if not run_dir or not source.is_file():
        return None  # a trial that another machine ran, whose folder is not here
    options = {k: v for k, v in (yaml.safe_load(source.read_text(encoding="utf-8")) or {}).items()
               if k not in ("name", "out")}
    write_config(path, options)
    return str(path)


def _plot_history(optuna: Any, study: Any, metric: str | None, path: Path) -> None:
    """Each trial's value by trial number, pruned ones at the value they were stopped at, and the
    best so far; optuna's own history plot leaves pruned trials out, which hides what the pruner did."""
    from taskkit.report.plots import pyplot

    plt = pyplot()
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    fig, ax = plt.subplots(figsize=(9, 5))
    for state, style in (("COMPLETE", {"color": "tab:blue", "marker": "o", "label": "complete"}),
                         ("PRUNED", {"color": "tab:gray", "marker": "x", "label": "pruned (last value)"})):
        shown = [(t.number, _last_value(t)) for t in study.get_trials(deepcopy=False) if t.state.name == state]
        shown = [(n, v) for n, v in shown if v is not None]
        if shown:
            ax.scatter(*zip(*shown), linestyle="none", **style)
    complete = sorted((t.number, t.value) for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE")
    best, steps = None, []
    for number, value in complete:
        best = value if best is None or (value > best if maximize else value < best) else best
        steps.append((number, best))
    steps.append((max(t.number for t in study.get_trials(deepcopy=False)), best))  # on to the last trial
    ax.step(*zip(*steps), where="post", color="tab:red", label="best so far")
    ax.set(xlabel="trial", ylabel=metric or "objective", title=f"study {study.study_name}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def _last_value(trial: Any) -> float | None:
    if trial.value is not None:
        return trial.value
    return trial.intermediate_values[max(trial.intermediate_values)] if trial.intermediate_values else None


def print_results(results: dict[str, Any]) -> None:
    """A table of the trials, then the best trial and the command that reruns it."""
    from rich.console import Console
    from rich.table import Table

    names = list(dict.fromkeys(name for t in results["trials"] for name in t["params"]))
    table = Table("trial", "state", results["metric"] or "value", *names, "epochs", "run",
                  box=None, header_style="bold")
    for t in results["trials"]:
        table.add_row(str(t["number"]), t["state"].lower(), "" if t["value"] is None else _shown(t["value"]),
                      *(_shown(t["params"].get(n, "")) for n in names), str(t["epochs_run"]), t["run_dir"] or "")
    console = Console(width=max(120, Console().width), soft_wrap=True)
    console.print(table)
    best = results["best"]
    if best is None:
        console.print(f"no trial of study {results['study']} has completed yet", highlight=False)
        return
    console.print(f"best: trial {best['number']}, {results['metric'] or 'value'} {best['value']:.4g} "
                  f"({_shown_params(best['params'])})", highlight=False)
    if best["config"]:
        console.print(f"rerun: tk {results['task']} --config {best['config']}", highlight=False)
