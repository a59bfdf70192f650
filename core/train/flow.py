"""The flow every training task shares: claim the run directory, record, train, test, report.

A task assembles its data, model and loss; `fit_and_test` does the rest the same way for all
of them (config.yaml and run.json written, the drive's record added and its runs collected,
Ctrl-C and training failures told in one line), and `report_and_print` shows the result.
"""

from __future__ import annotations

import json
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
import typer

from taskkit import drive
from taskkit.errors import BadInputError, Interrupted, TrainingError, describe
from taskkit.report.json_output import echo_json
from taskkit.storage.config import read_config, write_config
from taskkit.storage.runs import claim_run_dir, versions, write_json
from taskkit.train import ranks
from taskkit.train.training import Scoring, TrainOptions, train_and_test
from taskkit.storage.atomic import atomic_write
from taskkit.storage.files import LAST_CHECKPOINT, METRICS_CSV, RUN_CONFIG, RUN_RECORD


def fit_and_test(task: str, options: dict[str, Any], resume: Path | None, model: torch.nn.Module,
                 spec: dict[str, Any], data, train_options: TrainOptions, freezer: Any = None,
                 extra: dict[str, Any] | None = None, loader_factory: Any = None, *,
                 loss_fn: torch.nn.Module, scoring: Scoring = Scoring()) -> tuple[Path, dict[str, Any]]:
    """Claim the run directory, write run.json, train and test the assembled model with `loss_fn`.

    A resume is checked (its checkpoint read and fitted to the model) before anything is
    written, and a refusal met later, before an epoch of it has run, puts the run's record back
    as it was. Every run ends finished, failed (the reason in run.json) or interrupted (SIGINT
    or SIGTERM). Under torchrun, rank 0 claims the directory and writes in it; the others learn
    its name."""
    from taskkit.train.distributed import from_main

    if ranks.is_main():
        warn_skipped(data.skipped)
    if resume is not None:
        _check_resumable(Path(resume), model)
    kept = RunFiles(Path(resume)) if resume is not None else None
    run_dir = from_main(lambda: _prepare_run_dir(task, options, resume))
    driven = drive.current()
    if driven is not None:
        driven.runs.append(run_dir)
    record = {**(kept.record() if kept else {}), "task": task, "status": "running", "model": spec,
              "data": data.source, "skipped_files": data.skipped, **(extra or {}),
              **(driven.record if driven else {}), "versions": versions()}
    record.pop("error", None)
    if ranks.is_main():
        write_json(run_dir / RUN_RECORD, record)
    try:
        with terminate_as_interrupt():
            report = train_and_test(model, loss_fn, data, train_options, run_dir, record,
                                    resume=resume is not None, freezer=freezer, loader_factory=loader_factory,
                                    scoring=scoring)
    except KeyboardInterrupt:
        raise _interrupted(task, run_dir, record) from None
    except BadInputError as exc:
        if kept is None or not kept.put_back_if_untouched():
            _failed(run_dir, record, str(exc))
        raise
    except TrainingError as exc:
        _failed(run_dir, record, str(exc))
        raise TrainingError(f"{exc}; {_last_good(run_dir)}") from None
    except drive.ProbeFinished:
        raise  # lr-find's probe ran in place of fitting, as it asked
    except Exception as exc:  # a component's own failure: a plugin's backbone with the wrong output, say
        reason = f"training failed in {_components(spec)}: {describe(exc)}"
        _failed(run_dir, record, reason)
        raise TrainingError(f"{reason}; {_last_good(run_dir)}") from None
    return run_dir, report


class RunFiles:
    """A run's record and config as they were before a resume, to put back if it is refused
    before any epoch of it has run (metrics.csv unchanged)."""

    def __init__(self, run_dir: Path) -> None:
        self.files = {path: path.read_bytes() if path.is_file() else None
                      for path in (run_dir / RUN_RECORD, run_dir / RUN_CONFIG, run_dir / METRICS_CSV)}

    def record(self) -> dict[str, Any]:
        """The earlier record, so that a resumed run keeps its results until it writes new ones."""
        try:
            earlier = json.loads(self.files[next(iter(self.files))] or b"{}")
        except ValueError:
            return {}
        return earlier if isinstance(earlier, dict) else {}

    def put_back_if_untouched(self) -> bool:
        metrics = next(p for p in self.files if p.name == METRICS_CSV)
        now = metrics.read_bytes() if metrics.is_file() else None
        if now != self.files[metrics] or not ranks.is_main():
            return False
        for path, content in self.files.items():
            if content is not None:
                atomic_write(path, lambda tmp, content=content: tmp.write_bytes(content))
        return True


def _check_resumable(run_dir: Path, model: torch.nn.Module) -> None:
    """Read the run's last.ckpt and fit its weights to the assembled model, before writing anything."""
    from taskkit.storage.checkpoints import load_fitting, load_training_state

    if not (run_dir / LAST_CHECKPOINT).is_file():
        raise BadInputError(f"{run_dir} has no {LAST_CHECKPOINT} to resume from")
    saved = load_training_state(run_dir / LAST_CHECKPOINT)
    load_fitting(model, saved["model"], run_dir / LAST_CHECKPOINT, "this run's model")


def _failed(run_dir: Path, record: dict[str, Any], reason: str) -> None:
    record.update(status="failed", error=reason)
    if ranks.is_main():
        write_json(run_dir / RUN_RECORD, record)


def _components(spec: dict[str, Any]) -> str:
    """The registered components a model spec names, each with the plugin that added it."""
    from taskkit.registries import BACKBONES, HEADS

    named = []
    for key, registry in (("backbone", BACKBONES), ("encoder", BACKBONES), ("head", HEADS)):
        name = spec.get(key)
        if isinstance(name, str) and name in registry:
            named.append(f"{key} '{name}' (plugin '{registry.entry(name).plugin}')")
    return ", ".join(named) or "the model"


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler or `kill` stopping the run) handled as Ctrl-C is: a checkpoint kept,
    the run marked interrupted, one line."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    """The test report as JSON, or as `table(report)` (the classification table by default), the
    line `summary(report)` gives, if any, and the classical baseline beside the network's score
    where the report has one, then where the run is (rank 0 only, under torchrun)."""
    if not ranks.is_main():
        return
    if as_json:
        echo_json({"run": str(run_dir), "test": report})
        return
    from rich.console import Console

    from taskkit.report.baseline import baseline_line, parts_line
    from taskkit.report.metrics import report_table

    console = Console()
    console.print((table or report_table)(report))
    for line in (summary(report) if summary is not None else None, parts_line(report), baseline_line(report)):
        if line:
            console.print(line, highlight=False)
    console.print(f"run saved to {run_dir}", highlight=False)


def record_baseline(run_dir: Path, report: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    """Put a classical baseline's test scores beside the network's: in the test report (printed
    and in `--json`) and at `baseline` in run.json, where its test metrics are rewritten too. A
    resume recomputes it; with none (`--no-baseline`) an earlier one is dropped, never left stale."""
    from taskkit.storage.runs import read_run

    report.pop("baseline", None)
    if baseline is not None:
        report["baseline"] = baseline
    if not ranks.is_main():
        return
    record = read_run(run_dir)
    record["metrics"]["test"] = report
    record.pop("baseline", None)
    if baseline is not None:
        record["baseline"] = baseline
    write_json(run_dir / RUN_RECORD, record)


def evaluation_split(run_dir: Path, data: str | None, split: str | None) -> tuple[dict[str, Any], str]:
    """The run's options and the split `tk eval` scores: the test split, or all of other `--data`."""
    options = read_config(run_dir / RUN_CONFIG)
    split = split or ("all" if data else "test")
    if split not in ("train", "val", "test", "all"):
        raise BadInputError(f"--split must be train, val, test or all, got '{split}'")
    return options, split
