"""`tk tune`: hyperparameter search over any task's options with optuna.

Each trial is one ordinary run of the task (`driver.run_task`) with the sampled values added as
options, in `<study_dir>/trial-<number>`. A callback reports each epoch's validation metric to
the trial, so the pruner can stop a poor run early. The study lives in an optuna storage
(SQLite in the study folder unless `--storage` says otherwise), so a stopped study resumes where
it left off and several machines can share one. Optuna is an optional extra, imported inside
functions only. The study's settings and storage (`tune_study`), the trial's reporter
(`tune_trial`) and the files and table of results (`tune_results`) have modules of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from taskkit import drive
from taskkit.storage.config import read_config
from taskkit.errors import BadInputError, TrainingError, one_line
from taskkit.recipes.driver import check_task_args, run_task, task_command
from taskkit.recipes.tune_params import Param, parse_param
from taskkit.recipes.tune_results import print_results, write_outputs
from taskkit.recipes.tune_study import CHOICES, TuneSettings, open_study
from taskkit.recipes.tune_trial import TrialReporter, report_trial

__all__ = ["CHOICES", "TrialReporter", "TuneSettings", "print_results", "tune"]


def tune(group: Any, task: str, task_args: list[str], settings: TuneSettings, study_dir: Path) -> dict[str, Any]:
    """Run the trials the study still lacks, then write trials.csv, best.yaml and history.png; returns the results."""
    optuna = _import_optuna()
    check_task_args("tune", task_args)
    command = task_command(group, task)
    params = [parse_param(text, command, task_args) for text in settings.params]
    if len({p.name for p in params}) < len(params):
        raise BadInputError("each option may be given as --param only once")
    grid = {p.name: p.grid_values() for p in params} if settings.sampler == "grid" else None
    study_dir.mkdir(parents=True, exist_ok=True)
    study, storage = open_study(optuna, settings, grid, study_dir, _planned_epochs(command, task_args, params))
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    exhausted = settings.sampler == "grid" and study.sampler.is_exhausted(study)
    remaining = 0 if exhausted else max(settings.trials - done, 0)
    typer.echo(f"study {study.study_name}: {done} of {settings.trials} trials done, "
               + (f"running {remaining} more" if remaining else "nothing to run"), err=True)
    if remaining:
        metric = settings.metric or study.user_attrs.get("metric")  # None: the metric the task monitors
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        objective = _objective(optuna, group, task, task_args, params, metric, maximize, study_dir)
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # its failure warnings would repeat ours, with tracebacks
        try:
            study.optimize(objective, n_trials=remaining, catch=(TrainingError,),
                           callbacks=[optuna.study.MaxTrialsCallback(settings.trials, states=finished), report_trial])
        finally:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
    return write_outputs(optuna, study, task, storage, study_dir)


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise BadInputError("tk tune needs optuna: pip install 'taskkit[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


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


def _objective(optuna: Any, group: Any, task: str, task_args: list[str], params: list[Param], metric: str | None,
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
            run_task(group, task, args, run)
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
