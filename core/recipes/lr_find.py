"""`tk lr-find`: the learning-rate range test (Smith, 2017) on any task's assembled run.

The task's own command assembles its data, model, loss and optimizer (frozen stages and
per-stage rates included), then a `drive` probe takes the place of training: the rate grows
exponentially from `start_lr` to `end_lr` over `steps` optimizer steps while the training
loss is recorded. The sweep stops early once the smoothed loss has blown up to four times its
best. The suggested rate is where the smoothed loss falls fastest against log(rate), before
its minimum: large enough to learn quickly, still well short of divergence.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from pathlib import Path
from typing import Any

from taskkit.storage.atomic import atomic_write
from taskkit.drive import Drive, ProbeFinished
from taskkit.recipes.driver import check_task_args, run_task
from taskkit.errors import BadInputError
from taskkit.storage.runs import read_run, write_json
from taskkit.storage.files import RUN_RECORD

SMOOTHING = 0.9  # about ten steps of memory: less lag behind the rate than 0.98
DIVERGED = 4.0


def find_lr(group: Any, task: str, args: list[str], start_lr: float, end_lr: float, steps: int, out: Path,
            name: str) -> dict[str, Any]:
    """Sweep the task's model; the run directory gets lr_find.csv, lr_find.png and the result in run.json."""
    if not 0 < start_lr < end_lr:
        raise BadInputError(f"--start-lr and --end-lr must satisfy 0 < start < end, got {start_lr} and {end_lr}")
    if steps < 10:
        raise BadInputError(f"--steps must be at least 10 for a sweep to show a trend, got {steps}")
    check_task_args("lr-find", args)
    drive = Drive(probe=lambda setup: sweep(setup, start_lr, end_lr, steps), record={"lr_find": True})
    try:
        run_task(group, task, [*args, "--out", str(out), "--name", name], drive)
    except ProbeFinished as finished:
        result = finished.result
    else:
        raise BadInputError(f"task '{task}' does not train through taskkit's engine, so lr-find cannot sweep it")
    run_dir = drive.runs[-1]
    record = read_run(run_dir)
    write_json(run_dir / RUN_RECORD, {**record, "status": "lr-find", "lr_find": result})
    return {**result, "run": str(run_dir), "plot": str(run_dir / "lr_find.png"), "task": task}


def sweep(setup: Any, start_lr: float, end_lr: float, steps: int) -> dict[str, Any]:
    """Train at exponentially growing rates and record the loss of each step."""
    from torch import nn

    from taskkit.train.engine import autocast, call_model, model_loss, to_device
    from taskkit.report.plots import plot_lr_sweep

    model, optimizer, options = setup.model, setup.optimizer, setup.step
    # Per-stage rates keep their ratios; the scheduler has already scaled `lr` (warm-up), not `initial_lr`.
    ratios = [group.get("initial_lr", group["lr"]) / setup.options.lr for group in optimizer.param_groups]
    rates, losses, smoothed, average, best = [], [], [], 0.0, math.inf
    model.train()
    batches = itertools.chain.from_iterable(itertools.repeat(setup.train_loader))
    for step, (inputs, targets) in zip(range(steps), batches):
        rate = start_lr * (end_lr / start_lr) ** (step / (steps - 1))
        for group, ratio in zip(optimizer.param_groups, ratios):
            group["lr"] = rate * ratio
        inputs, targets = to_device(inputs, options.device), targets.to(options.device)
        with autocast(options):
            _, loss = model_loss(call_model(model, inputs), targets, setup.loss_fn)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if options.clip_grad:
            nn.utils.clip_grad_norm_(model.parameters(), options.clip_grad)
        optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * value
        rates.append(rate)
        losses.append(value)
        smoothed.append(average / (1 - SMOOTHING ** (step + 1)))
        best = min(best, smoothed[-1])
        if smoothed[-1] > DIVERGED * best:
            break
    suggested, minimum = suggest(rates, smoothed)
    _write_csv(setup.run_dir / "lr_find.csv", rates, losses, smoothed)
    plot_lr_sweep(rates, losses, smoothed, suggested, setup.run_dir / "lr_find.png")
    return {"suggested_lr": suggested, "min_loss_lr": minimum, "start_lr": start_lr, "end_lr": end_lr,
            "steps_run": len(rates), "stopped_early": len(rates) < steps}


def suggest(rates: list[float], smoothed: list[float]) -> tuple[float | None, float | None]:
    """(steepest-descent rate, rate of the lowest loss) of a sweep; None where there are too few steps."""
    if len(rates) < 5:
        return None, None
    lowest = min(range(len(smoothed)), key=smoothed.__getitem__)
    skip = max(1, len(rates) // 10)  # the first steps' average is still settling
    window = range(skip, max(lowest, skip + 1))
    slopes = {i: (smoothed[i + 1] - smoothed[i - 1]) / (math.log(rates[i + 1]) - math.log(rates[i - 1]))
              for i in window if 0 < i < len(rates) - 1}
    steepest = min(slopes, key=slopes.__getitem__) if slopes else lowest
    return rates[steepest], rates[lowest]


def print_result(result: dict[str, Any]) -> None:
    import typer

    if result["suggested_lr"] is None:
        typer.echo(f"the loss diverged within {result['steps_run']} steps: no rate to suggest; "
                   f"lower --start-lr (plot: {result['plot']})")
        return
    early = " (stopped early: the loss diverged)" if result["stopped_early"] else ""
    typer.echo(f"swept {result['start_lr']:.1e} to {result['end_lr']:.1e} in {result['steps_run']} steps{early}")
    typer.echo(f"suggested --lr {result['suggested_lr']:.2e} (steepest descent; lowest loss at "
               f"{result['min_loss_lr']:.2e})")
    typer.echo(f"plot: {result['plot']}")


def _write_csv(path: Path, rates: list[float], losses: list[float], smoothed: list[float]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["step", "lr", "loss", "smoothed_loss"])
    writer.writerows((i + 1, r, loss, s) for i, (r, loss, s) in enumerate(zip(rates, losses, smoothed)))
    atomic_write(path, lambda tmp: tmp.write_text(buffer.getvalue()))
