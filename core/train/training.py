"""One training run of a classifier, shared by the tasks that train one.

Given a model, a loss, datasets and options, this builds loaders, optimizer, scheduler and
callbacks, runs `engine.fit` (or resumes it), then evaluates the best weights on the test
split exactly once and writes the report, plots and run.json.
"""

from __future__ import annotations

import gc
import importlib.util
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from taskkit.train import callbacks as cb
from taskkit import drive
from taskkit.train import distributed
from taskkit.train import fast_paths
from taskkit.train import ranks
from taskkit.storage.checkpoints import load_fitting, load_training_state, load_weights, restore_rng_state
from taskkit.train.engine import Evaluation, FitState, StepOptions, evaluate, fit
from taskkit.errors import BadInputError
from taskkit.report.metrics import classification_report
from taskkit.train.optim import build_optimizer, build_scheduler, parameter_groups
from taskkit.report.plots import plot_confusion_matrix, plot_curves, write_confusion_csv
from taskkit.train.regularize import Regularizer, WeightAverage, build_regularizer


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


@dataclass
class TrainOptions:
    """The options every training task shares, checked before any work starts."""

    epochs: int = 15
    batch_size: int = 64
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    scheduler: str = "warmup+cosine"
    warmup_epochs: float = 1.0
    clip_grad: float = 0.0
    accumulate: int = 1
    patience: int = 0
    balance: str = "none"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = False
    compile: bool = False
    devices: int = 1  # processes started through torchrun (taskkit.train.launch); the processes themselves see 1 each
    workers: int = 0
    tensorboard: bool = False
    quiet: bool = False
    mixup: float = 0.0  # Beta alpha; 0: off
    cutmix: float = 0.0
    l1: float = 0.0
    ema: float = 0.0  # decay of the weight average; 0: off

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "TrainOptions":
        chosen = cls(**{f.name: options[f.name] for f in fields(cls) if f.name in options})
        chosen.validate()
        return chosen

    def validate(self) -> None:
        positive = {"lr": self.lr, "epochs": self.epochs, "batch_size": self.batch_size, "accumulate": self.accumulate,
                    "devices": self.devices}
        for name, value in positive.items():
            if not value > 0:
                raise BadInputError(f"--{name.replace('_', '-')} must be positive, got {value}")
        for name in ("weight_decay", "clip_grad", "patience", "workers", "warmup_epochs", "momentum", "mixup",
                     "cutmix", "l1"):
            if getattr(self, name) < 0:
                raise BadInputError(f"--{name.replace('_', '-')} must not be negative, got {getattr(self, name)}")
        if self.balance not in ("none", "oversample", "class-weights"):
            raise BadInputError(f"--balance must be none, oversample or class-weights, got '{self.balance}'")
        fast_paths.check_precision(self.precision)
        if not 0 <= self.ema < 1:
            raise BadInputError(f"--ema must be in [0, 1) (0: off; 0.999 is typical), got {self.ema}")
        if self.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise BadInputError("--tensorboard needs TensorBoard: pip install 'taskkit[tensorboard]'")


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; asking for a missing device is bad input.

    Among processes started by torchrun, CUDA means the GPU of this process's local rank.
    """
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if ranks.distributed() and name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", ranks.local_rank())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": has_mps}
    if name.split(":")[0] not in available:
        raise BadInputError(f"--device must be auto, cpu, cuda or mps, got '{name}'")
    if not available[name.split(":")[0]]:
        raise BadInputError(f"--device {name} is not available on this machine; use --device auto or cpu")
    return torch.device(name)


def step_options(options: TrainOptions, device: torch.device, regularizer: Regularizer | None = None,
                 scaler: torch.amp.GradScaler | None = None) -> StepOptions:
    """How steps run: `--precision` (`auto`: mixed on CUDA, float32 elsewhere), `--channels-last`,
    and, among several processes, their reduction.

    `regularizer` and `scaler` are for training steps only; evaluation never mixes or scales.
    """
    return StepOptions(device=device, amp_dtype=fast_paths.autocast_dtype(options.precision, device), scaler=scaler,
                       channels_last=options.channels_last, accumulate=options.accumulate,
                       clip_grad=options.clip_grad or None, check_every=1 if device.type == "cpu" else 50,
                       regularizer=regularizer, reduce=distributed.reduce_sum if ranks.distributed() else None)


def class_weights(targets: list[int], num_classes: int) -> list[float]:
    """Inverse-frequency weights, normalised to average 1 over the classes present."""
    counts = torch.bincount(torch.tensor(targets), minlength=num_classes).float()
    present = int((counts > 0).sum())
    weights = torch.where(counts > 0, counts.sum() / (present * counts.clamp_min(1)), torch.zeros(()))
    return weights.tolist()


def make_loaders(train: Dataset, val: Dataset, test: Dataset, options: TrainOptions,
                 train_targets: list[int], generator: torch.Generator) -> tuple[DataLoader, ...]:
    """Loaders; training shuffles with `generator`, or samples classes evenly with `--balance oversample`."""
    common = {"batch_size": options.batch_size, "num_workers": options.workers,
              "persistent_workers": options.workers > 0}  # pinned memory: set in train_and_test, for every loader
    if options.balance == "oversample":
        per_sample = torch.tensor(class_weights(train_targets, max(train_targets) + 1))[train_targets]
        sampler = WeightedRandomSampler(per_sample, len(train_targets), generator=generator)
        train_loader = DataLoader(train, sampler=sampler, generator=generator, **common)
    else:
        train_loader = DataLoader(train, shuffle=True, generator=generator, **common)
    return train_loader, DataLoader(val, **common), DataLoader(test, **common)


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
    distributed.start()
    device = resolve_device(options.device)
    if options.channels_last:
        fast_paths.to_channels_last(model)
    model.to(device)
    loss_fn.to(device)
    generator = torch.Generator()
    loaders = (loader_factory(options, generator) if loader_factory is not None else
               make_loaders(data.train, data.val, data.test, options, data.train_targets(), generator))
    for loader in loaders:
        loader.pin_memory = device.type == "cuda"  # page-locked batches copy to the GPU without a stop
    if ranks.distributed():
        loaders = tuple(distributed.shard_loader(loader, train=i == 0) for i, loader in enumerate(loaders))
    evaluator = distributed.combining(scoring.evaluate) if ranks.distributed() else scoring.evaluate
    state = FitState(epochs=options.epochs)
    saved = load_training_state(run_dir / "last.ckpt") if resume else None
    if saved is not None:
        for key, value in saved["fit"].items():
            setattr(state, key, value)
    if freezer is not None:
        freezer.apply(max(state.epoch - 1, 0))  # the frozen set the checkpoint's optimizer was saved with
    groups = freezer.param_groups() if freezer is not None else parameter_groups(model, options.weight_decay)
    optimizer = build_optimizer(options.optimizer, groups, options.lr, options.momentum)
    scheduler = build_scheduler(options.scheduler, optimizer, epochs=options.epochs,
                                steps_per_epoch=-(-len(loaders[0]) // options.accumulate),
                                warmup_epochs=options.warmup_epochs)
    scaler = fast_paths.grad_scaler(fast_paths.autocast_dtype(options.precision, device), device)
    if saved is not None:
        _restore(saved, run_dir, model, optimizer, scheduler, scaler)
    driven = drive.current()
    if driven is not None and driven.probe is not None:
        setup = Setup(model, loss_fn, optimizer, loaders[0], step_options(options, device), run_dir, options)
        raise drive.ProbeFinished(driven.probe(setup))
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
    _settle_garbage_collector()
    fit(trained, loss_fn, optimizer, scheduler, loaders[0], loaders[1], step_options(options, device, regularizer, scaler),
        state, _callbacks(options, run_dir, model, optimizer, scheduler, scoring.monitor, average, scaler),
        seed=options.seed, on_epoch_start=on_epoch_start, evaluator=evaluator, scored=scored, process=ranks.rank())
    if ranks.is_main():
        model.load_state_dict(load_weights(run_dir / "model.safetensors"))
    distributed.broadcast_module(model)
    test = evaluator(model, loaders[2], loss_fn, step_options(options, device))
    report = scoring.report(test, data.classes)
    report["loss"] = test.loss
    record.update(processes=ranks.world_size(), evaluated={"val": state.val_samples, "test": test.samples})
    if ranks.is_main():
        _write_results(run_dir, state, report, data.classes, record)
    return report


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
        chosen.append(cb.CSVLogger(run_dir / "metrics.csv"))
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
    load_fitting(model, saved["model"], run_dir / "last.ckpt", "this run's model")
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
    write_json(run_dir / "run.json", record)


def options_dict(options: TrainOptions) -> dict[str, Any]:
    return asdict(options)
