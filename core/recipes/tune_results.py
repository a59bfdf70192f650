"""What a `tk tune` study leaves behind: trials.csv, best.yaml (the best run's options, to rerun
it) and history.png, and the table of trials printed at the end.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml

from taskkit.recipes.tune_trial import shown, shown_params
from taskkit.storage.atomic import atomic_write
from taskkit.storage.config import write_config
from taskkit.storage.files import RUN_CONFIG


def write_outputs(optuna: Any, study: Any, task: str, storage: str, study_dir: Path) -> dict[str, Any]:
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
    source = Path(run_dir or "") / RUN_CONFIG
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
        points = [(t.number, _last_value(t)) for t in study.get_trials(deepcopy=False) if t.state.name == state]
        points = [(n, v) for n, v in points if v is not None]
        if points:
            ax.scatter(*zip(*points), linestyle="none", **style)
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
        table.add_row(str(t["number"]), t["state"].lower(), "" if t["value"] is None else shown(t["value"]),
                      *(shown(t["params"].get(n, "")) for n in names), str(t["epochs_run"]), t["run_dir"] or "")
    console = Console(width=max(120, Console().width), soft_wrap=True)
    console.print(table)
    best = results["best"]
    if best is None:
        console.print(f"no trial of study {results['study']} has completed yet", highlight=False)
        return
    console.print(f"best: trial {best['number']}, {results['metric'] or 'value'} {best['value']:.4g} "
                  f"({shown_params(best['params'])})", highlight=False)
    if best["config"]:
        console.print(f"rerun: tk {results['task']} --config {best['config']}", highlight=False)
