"""`tk cv`: K-fold cross-validation of any task, one ordinary run per fold.

Each fold is a normal run of the task's own command (so it can be evaluated, predicted with
or rerun like any other), started under a `drive.Fold` that makes the task's split put that
fold of the data outside the test split into validation. The test split is the one a plain
run has, the same in every fold. The summary gives, per metric, each fold's value, the mean
and the sample standard deviation: of the best epoch's validation metrics (the
cross-validation estimate) and of the test metrics (how much the model varies with its
training data).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import statistics
from pathlib import Path
from typing import Any

import typer

from taskkit.storage.atomic import atomic_write
from taskkit.drive import Drive, Fold
from taskkit.recipes.driver import check_task_args, run_task
from taskkit.errors import BadInputError
from taskkit.storage.runs import claim_run_dir, read_run, write_json


def cross_validate(group: Any, task: str, args: list[str], folds: int, cv_dir: Path) -> dict[str, Any]:
    """Run the task (a command of `group`, the `tk` command group) once per fold under `cv_dir`
    (a fresh folder) and write the summary there."""
    if folds < 2:
        raise BadInputError(f"--folds must be at least 2 (one fold validates, the others train), got {folds}")
    check_task_args("cv", args)
    cv_dir = claim_run_dir(cv_dir.parent, cv_dir.name)
    runs = []
    for index in range(folds):
        drive = Drive(fold=Fold(index, folds), record={"fold": {"index": index + 1, "folds": folds}})
        try:
            run_task(group, task, [*args, "--out", str(cv_dir), "--name", f"fold-{index + 1}"], drive)
        except BadInputError:
            with contextlib.suppress(OSError):
                cv_dir.rmdir()  # only when nothing was written, e.g. the options were refused
            raise
        run_dir = drive.runs[-1]
        runs.append(fold_metrics(run_dir))
        typer.echo(f"fold {index + 1}/{folds}: {_headline(runs[-1])}  ({run_dir})", err=True)
    summary = {"task": task, "folds": folds, "args": args, "dir": str(cv_dir), "runs": runs,
               "metrics": summarize([r["metrics"] for r in runs])}
    write_json(cv_dir / "cv.json", summary)
    _write_csv(cv_dir / "summary.csv", summary["metrics"], folds)
    return summary


def fold_metrics(run_dir: Path) -> dict[str, Any]:
    """A fold run's scalar metrics: `val_*` of its best epoch and `test_*` of its test report."""
    record = read_run(run_dir)
    metrics: dict[str, float] = {}
    history = record.get("metrics", {}).get("history") or []
    best = record.get("best_epoch")
    if best:
        row = history[best - 1]
        metrics.update({k: float(v) for k, v in row.items() if k.startswith("val_") and _number(v)})
    test = record.get("metrics", {}).get("test", {})
    metrics.update({f"test_{k}": float(v) for k, v in test.items() if _number(v) and k != "samples"})
    return {"run": str(run_dir), "best_epoch": best, "metrics": metrics}


def summarize(per_fold: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Each metric every fold has: the fold values, their mean and sample standard deviation."""
    names = [n for n in per_fold[0] if all(n in m for m in per_fold)]
    return {name: {"values": [m[name] for m in per_fold], "mean": statistics.fmean(m[name] for m in per_fold),
                   "std": statistics.stdev(m[name] for m in per_fold)} for name in names}


def print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    folds = summary["folds"]
    table = Table("metric", "mean", "std", *(f"fold {i + 1}" for i in range(folds)), box=None, header_style="bold",
                  title=f"{summary['task']}: {folds}-fold cross-validation")
    for name, row in summary["metrics"].items():
        table.add_row(name, f"{row['mean']:.4f}", f"{row['std']:.4f}", *(f"{v:.4f}" for v in row["values"]))
    console = Console()
    console.print(table)
    console.print(f"folds saved to {summary['dir']} (summary in cv.json and summary.csv)", highlight=False)


def _headline(run: dict[str, Any]) -> str:
    shown = [(k, v) for k, v in run["metrics"].items() if k in ("val_acc", "val_miou", "test_accuracy", "test_mean_iou")]
    return "  ".join(f"{k} {v:.4f}" for k, v in shown) or json.dumps(run["metrics"])[:120]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _write_csv(path: Path, metrics: dict[str, dict[str, Any]], folds: int) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["metric", "mean", "std", *(f"fold_{i + 1}" for i in range(folds))])
    for name, row in metrics.items():
        writer.writerow([name, row["mean"], row["std"], *row["values"]])
    atomic_write(path, lambda tmp: tmp.write_text(buffer.getvalue()))
