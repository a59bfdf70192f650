"""The flow every training task shares: claim the run directory, record, train, test, report.

A task assembles its data, model and loss; `fit_and_test` does the rest the same way for all
of them (config.yaml and run.json written, the drive's record added and its runs collected,
Ctrl-C and training failures told in one line), and `report_and_print` shows the result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import typer

from taskkit import drive
from taskkit.errors import BadInputError, Interrupted, TrainingError
from taskkit.storage.config import read_config, write_config
from taskkit.storage.runs import claim_run_dir, versions, write_json
from taskkit.train import ranks
from taskkit.train.training import Scoring, TrainOptions, train_and_test
from taskkit.storage.files import LAST_CHECKPOINT, RUN_CONFIG, RUN_RECORD


def fit_and_test(task: str, options: dict[str, Any], resume: Path | None, model: torch.nn.Module,
                 spec: dict[str, Any], data, train_options: TrainOptions, freezer: Any = None,
                 extra: dict[str, Any] | None = None, loader_factory: Any = None, *,
                 loss_fn: torch.nn.Module, scoring: Scoring = Scoring()) -> tuple[Path, dict[str, Any]]:
    """Claim the run directory, write run.json, train and test the assembled model with `loss_fn`.

    Under torchrun, rank 0 claims the directory and writes in it; the others learn its name."""
    from taskkit.train.distributed import from_main

    if ranks.is_main():
        warn_skipped(data.skipped)
    run_dir = from_main(lambda: _prepare_run_dir(task, options, resume))
    driven = drive.current()
    if driven is not None:
        driven.runs.append(run_dir)
    record = {"task": task, "status": "running", "model": spec, "data": data.source,
              "skipped_files": data.skipped, **(extra or {}), **(driven.record if driven else {}),
              "versions": versions()}
    if ranks.is_main():
        write_json(run_dir / RUN_RECORD, record)
    try:
        report = train_and_test(model, loss_fn, data, train_options, run_dir, record, resume=resume is not None,
                                freezer=freezer, loader_factory=loader_factory, scoring=scoring)
    except TrainingError as exc:
        raise TrainingError(f"{exc}; {_last_good(run_dir)}") from None
    except KeyboardInterrupt:
        raise _interrupted(task, run_dir, record) from None
    return run_dir, report


def _interrupted(task: str, run_dir: Path, record: dict[str, Any]) -> Interrupted:
    """Ctrl-C: the run is marked interrupted, and the error says how to go on from its last checkpoint."""
    from taskkit.storage.checkpoints import load_state

    record["status"] = "interrupted"
    if ranks.is_main():
        write_json(run_dir / RUN_RECORD, record)
    try:
        epoch = load_state(run_dir / LAST_CHECKPOINT)["fit"]["epoch"]
    except BadInputError:
        return Interrupted(f"interrupted before the first checkpoint of {run_dir}; start the run again")
    done = f"after epoch {epoch}" if epoch else "at its start"
    return Interrupted(f"interrupted; {run_dir}/{LAST_CHECKPOINT} holds the run {done}: continue with "
                       f"`tk {task} --resume {run_dir}`")


def warn_skipped(skipped: list[tuple]) -> None:
    """Say on stderr what the data left out, so a count of samples is never silently short."""
    if skipped:
        typer.echo(skipped_warning(skipped), err=True)


def skipped_warning(skipped: list[tuple], shown: int = 3) -> str:
    """One line naming what the data left out: files and why, or the numbers of the rows and why."""
    rows = isinstance(skipped[0][0], int)
    named = [f"{'line ' if rows else ''}{where} ({why})" for where, why in skipped[:shown]]
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    what = "row" if rows else "file"
    return (f"warning: skipped {len(skipped)} {what}{'s' if len(skipped) != 1 else ''}: {', '.join(named)}{more}; "
            f"all are listed in run.json (--strict stops instead)")


def _prepare_run_dir(task: str, options: dict[str, Any], resume: Path | None) -> Path:
    if resume is not None:
        if not (Path(resume) / LAST_CHECKPOINT).is_file():
            raise BadInputError(f"{resume} has no {LAST_CHECKPOINT} to resume from")
        run_dir = Path(resume)
    else:
        run_dir = claim_run_dir(Path(options["out"]), options["name"] or task)
    write_config(run_dir / RUN_CONFIG, {**options, "name": run_dir.name, "out": str(run_dir.parent)})
    return run_dir


def _last_good(run_dir: Path) -> str:
    checkpoint = run_dir / LAST_CHECKPOINT
    if not checkpoint.is_file():
        return "no epoch finished, so there is no checkpoint"
    return f"the last good checkpoint is {checkpoint}"


def report_and_print(run_dir: Path, report: dict[str, Any], as_json: bool, table: Any = None,
                     summary: Any = None) -> None:
    """The test report as JSON, or as `table(report)` (the classification table by default) and
    the line `summary(report)` gives, if any, then where the run is (rank 0 only, under torchrun)."""
    if not ranks.is_main():
        return
    if as_json:
        typer.echo(json.dumps({"run": str(run_dir), "test": report}, indent=2))
        return
    from rich.console import Console

    from taskkit.report.metrics import report_table

    console = Console()
    console.print((table or report_table)(report))
    if summary is not None:
        console.print(summary(report), highlight=False)
    console.print(f"run saved to {run_dir}", highlight=False)


def evaluation_split(run_dir: Path, data: str | None, split: str | None) -> tuple[dict[str, Any], str]:
    """The run's options and the split `tk eval` scores: the test split, or all of other `--data`."""
    options = read_config(run_dir / RUN_CONFIG)
    split = split or ("all" if data else "test")
    if split not in ("train", "val", "test", "all"):
        raise BadInputError(f"--split must be train, val, test or all, got '{split}'")
    return options, split
