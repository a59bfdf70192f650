"""One training run of a classifier, shared by the tasks that train one.

Given a model, a loss, datasets and options, this builds loaders, optimizer, scheduler and
callbacks, runs `engine.fit` (or resumes it), then evaluates the best weights on the test
split exactly once and writes the report, plots and run.json. The options, the device and
the loaders have modules of their own; their names stay importable from here.
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader

from taskkit import drive
from taskkit.report.metrics import classification_report
from taskkit.report.plots import plot_confusion_matrix, plot_curves, write_confusion_csv
from taskkit.storage.checkpoints import load_fitting, load_training_state, load_weights, restore_rng_state
from taskkit.train import callbacks as cb
from taskkit.train import distributed, fast_paths, ranks
from taskkit.train.device import resolve_device, step_options
from taskkit.train.engine import Evaluation, FitState, evaluate, fit
from taskkit.train.loaders import class_weights, make_loaders
from taskkit.train.optim import build_optimizer, build_scheduler, parameter_groups
from taskkit.train.options import TrainOptions, options_dict
from taskkit.train.regularize import WeightAverage, build_regularizer
from taskkit.train.step import StepOptions
from taskkit.storage.files import LAST_CHECKPOINT, METRICS_CSV, RUN_RECORD, WEIGHTS

__all__ = ["Scoring", "Setup", "TrainOptions", "class_weights", "classification_scores", "make_loaders",
           "options_dict", "resolve_device", "step_options", "train_and_test"]


def classification_scores(result: Evaluation, classes: list[str]) -> dict[str, Any]:
    """The classification report of an evaluation that kept every logit."""
    return classification_report(result.logits, result.targets, classes)


@dataclass(frozen=True)
class Scoring:
    """How a task scores its model: the evaluation run on val and test, the test report built
    from its result, and the validation metric (maximised) that picks the best epoch.

    Classification keeps every logit and reports `classification_report`; segmentation
    counts a pixel confusion matrix instead and picks the epoch of the best mean IoU.
    """

    evaluate: Callable[..., Any] = evaluate
    report: Callable[[Any, list[str]], dict[str, Any]] = classification_scores
    monitor: str = "val_acc"
    #: Called with the model once its best weights are back, before the test: a last choice made
    #: on validation that is not a weight (the text blend's share of each part).
    settle: Callable[[torch.nn.Module], None] | None = None


@dataclass(frozen=True)
class Setup:
    """A run assembled and ready to fit, as a `drive.Drive.probe` receives it (lr-find sweeps it)."""

    model: torch.nn.Module
    loss_fn: Callable
    optimizer: torch.optim.Optimizer
    train_loader: DataLoader
    step: StepOptions
    run_dir: Path
    options: "TrainOptions"


def train_and_test(model: torch.nn.Module, loss_fn: Callable, data: Any, options: TrainOptions,
                   run_dir: Path, record: dict[str, Any], resume: bool = False,
                   freezer: Any = None, loader_factory: Callable | None = None,
                   scoring: Scoring = Scoring()) -> dict[str, Any]:
    """Fit, test the best weights once, write the report; returns the test report.

    A `freezer` (`freezing.StageFreezer`) decides which parameters train and at what rate in
    each epoch; without one, everything trains at `options.lr`. `loader_factory(options,
    generator)` builds the train, val and test loaders where `make_loaders` does not fit
    (text batches by length); the generator is reseeded each epoch either way. `scoring`
    says how validation and test are scored (classification metrics by default).

    Under torchrun every process runs this: each trains a DDP replica on its share of the
    batches and scores its share of val and test, the scores are joined, and rank 0 alone
    writes. `--compile` and DDP wrap the model for training only; checkpoints, the weight
    average and evaluation use `model` itself, so weights keep their names.
    """
    _collect_run(run_dir)
    device = _place(model, loss_fn, options)
    generator = torch.Generator()
    loaders = _loaders(data, options, generator, device, loader_factory)
    evaluator = distributed.combining(scoring.evaluate) if ranks.distributed() else scoring.evaluate
    state, saved = _fit_state(options, run_dir, resume)
    optimizer, scheduler, scaler = _optimization(model, options, freezer, state, len(loaders[0]), device)
    if saved is not None:
        _restore(saved, run_dir, model, optimizer, scheduler, scaler)
    _probe_if_asked(model, loss_fn, optimizer, loaders[0], device, run_dir, options)
    regularizer = build_regularizer(options, model, len(data.classes), saved)
    average = regularizer.average if regularizer is not None else None

    def on_epoch_start(epoch: int) -> None:
        generator.manual_seed(options.seed * 1000 + epoch)
        if freezer is not None:
            freezer.on_epoch_start(epoch, optimizer, scheduler)

    trained = fast_paths.compile_model(model, device) if options.compile else model
    if ranks.distributed():
        trained = distributed.Replicated(trained, device)
    scored = average.module if average is not None else None if trained is model else model
    _before_fit(data, loaders[0], options)
    fit(trained, loss_fn, optimizer, scheduler, loaders[0], loaders[1], step_options(options, device, regularizer, scaler),
        state, _callbacks(options, run_dir, model, optimizer, scheduler, scoring.monitor, average, scaler),
        seed=options.seed, on_epoch_start=on_epoch_start, evaluator=evaluator, scored=scored, process=ranks.rank())
    test = _test_best(model, loss_fn, loaders[2], evaluator, step_options(options, device), run_dir, scoring.settle)
    report = scoring.report(test, data.classes)
    report["loss"] = test.loss
    record.update(processes=ranks.world_size(), evaluated={"val": state.val_samples, "test": test.samples})
    if ranks.is_main():
        _write_results(run_dir, state, report, data.classes, record)
    return report


def _collect_run(run_dir: Path) -> None:
    """Add the run to the drive's runs (once), whatever flow the task trains through: `tk cv`
    and `tk lr-find` read the last of them."""
    driven = drive.current()
    if driven is not None and (not driven.runs or driven.runs[-1] != run_dir):
        driven.runs.append(run_dir)


def _place(model: torch.nn.Module, loss_fn: Callable, options: TrainOptions) -> torch.device:
    """Join the processes training together (if any), and move the model and loss to the run's device."""
    distributed.start()
    device = resolve_device(options.device)
    if options.channels_last:
        fast_paths.to_channels_last(model)
    model.to(device)
    loss_fn.to(device)
    return device


def _loaders(data: Any, options: TrainOptions, generator: torch.Generator, device: torch.device,
             loader_factory: Callable | None) -> tuple[DataLoader, ...]:
    """Train, val and test loaders, pinned for a GPU and, among several processes, sharded."""
    loaders = (loader_factory(options, generator) if loader_factory is not None else
               make_loaders(data.train, data.val, data.test, options, data.train_targets(), generator))
    for loader in loaders:
        loader.pin_memory = device.type == "cuda"  # page-locked batches copy to the GPU without a stop
    if ranks.distributed():
        loaders = tuple(distributed.shard_loader(loader, train=i == 0) for i, loader in enumerate(loaders))
    return loaders


def _before_fit(data: Any, train_loader: DataLoader, options: TrainOptions) -> None:
    """Once everything is checked: settle the garbage collector and print the data banner."""
    _settle_garbage_collector()
    if not options.quiet and ranks.is_main():
        print(data_banner(data, train_loader), file=sys.stderr, flush=True)


def data_banner(data: Any, train_loader: DataLoader) -> str:
    """The line a run starts with: how many items each split has, where they are served from
    (the data's `loading`, e.g. its cache), and how many processes load them."""
    sizes = ", ".join(f"{len(getattr(data, split))} {split}" for split in ("train", "val", "test"))
    served = [getattr(data, "loading", ""), f"{train_loader.num_workers} loader workers"]
    return f"data: {sizes}; " + "; ".join(part for part in served if part)


def _fit_state(options: TrainOptions, run_dir: Path, resume: bool) -> tuple[FitState, dict[str, Any] | None]:
    """A new run's state, or the state last.ckpt holds when resuming (with the whole checkpoint)."""
    state = FitState(epochs=options.epochs)
    saved = load_training_state(run_dir / LAST_CHECKPOINT) if resume else None
    if saved is not None:
        for key, value in saved["fit"].items():
            setattr(state, key, value)
    return state, saved


def _optimization(model: torch.nn.Module, options: TrainOptions, freezer: Any, state: FitState, batches: int,
                  device: torch.device) -> tuple[torch.optim.Optimizer, Any, torch.amp.GradScaler | None]:
    """Optimizer, scheduler and gradient scaler, over the parameters that train where the run stands."""
    if freezer is not None:
        freezer.apply(max(state.epoch - 1, 0))  # the frozen set the checkpoint's optimizer was saved with
    groups = freezer.param_groups() if freezer is not None else parameter_groups(model, options.weight_decay)
    optimizer = build_optimizer(options.optimizer, groups, options.lr, options.momentum)
    scheduler = build_scheduler(options.scheduler, optimizer, epochs=options.epochs,
                                steps_per_epoch=-(-batches // options.accumulate),
                                warmup_epochs=options.warmup_epochs)
    scaler = fast_paths.grad_scaler(fast_paths.autocast_dtype(options.precision, device), device)
    return optimizer, scheduler, scaler


def _probe_if_asked(model: torch.nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                    train_loader: DataLoader, device: torch.device, run_dir: Path, options: TrainOptions) -> None:
    """Hand the assembled run to the drive's probe (lr-find) instead of fitting, where it has one."""
    driven = drive.current()
    if driven is not None and driven.probe is not None:
        setup = Setup(model, loss_fn, optimizer, train_loader, step_options(options, device), run_dir, options)
        raise drive.ProbeFinished(driven.probe(setup))


def _test_best(model: torch.nn.Module, loss_fn: Callable, loader: DataLoader, evaluator: Callable,
               step: StepOptions, run_dir: Path, settle: Callable | None = None) -> Any:
    """The best epoch's weights (read by rank 0, sent to the others), settled, evaluated on the test split."""
    if ranks.is_main():
        model.load_state_dict(load_weights(run_dir / WEIGHTS))
    distributed.broadcast_module(model)
    if settle is not None:
        settle(model)
    return evaluator(model, loader, loss_fn, step)


def _settle_garbage_collector() -> None:
    """Move everything alive before training out of the collector's sight.

    The CLI, torch and the plugins leave hundreds of thousands of long-lived objects; without
    this, each full collection during training walks them all again for nothing.
    """
    gc.collect()
    gc.freeze()


def _callbacks(options: TrainOptions, run_dir: Path, model, optimizer, scheduler, monitor: str,
               average: WeightAverage | None = None, scaler: torch.amp.GradScaler | None = None) -> list[cb.Callback]:
    """Progress and logs on rank 0 only; the best epoch and early stopping in every process,
    which see the same joined scores and so decide alike."""
    main = ranks.is_main()
    chosen: list[cb.Callback] = [] if options.quiet or not main else [cb.ProgressBar()]
    if main:
        chosen.append(cb.CSVLogger(run_dir / METRICS_CSV))
    if options.tensorboard and main:
        chosen.append(cb.TensorBoardLogger(run_dir / "tensorboard"))
    objects = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "ema": average, "scaler": scaler}
    chosen.append(cb.Checkpointer(run_dir, objects, monitor=monitor, weights=average and average.module, write=main))
    if options.patience:
        chosen.append(cb.EarlyStopping(options.patience))
    driven = drive.current()
    if driven is not None and driven.callbacks is not None:
        chosen.extend(driven.callbacks(monitor))
    return chosen


def _restore(saved: dict[str, Any], run_dir: Path, model, optimizer, scheduler, scaler=None) -> None:
    """Load the last resumable state; the epoch loop reseeds itself, RNG is restored for completeness."""
    load_fitting(model, saved["model"], run_dir / LAST_CHECKPOINT, "this run's model")
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    if scaler is not None and "scaler" in saved:
        scaler.load_state_dict(saved["scaler"])
    restore_rng_state(saved["rng"])


def _write_results(run_dir: Path, state: FitState, report: dict[str, Any], classes: list[str],
                   record: dict[str, Any]) -> None:
    from taskkit.storage.runs import write_json

    if state.history:
        plot_curves(state.history, run_dir / "curves.png")
    write_confusion_csv(report["confusion_matrix"], classes, run_dir / "confusion_matrix.csv")
    plot_confusion_matrix(report["confusion_matrix"], classes, run_dir / "confusion_matrix.png")
    record.update(status="finished", epochs_run=state.epoch, best_epoch=state.best_epoch,
                  stopped=state.stop_reason, metrics={"test": report, "history": state.history})
    write_json(run_dir / RUN_RECORD, record)
