"""`tk classify`: train an image classifier from scratch, evaluate it, predict with it.

The module is imported to build the CLI, so it imports torch and the data layer only
inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from taskkit import hookimpl
from taskkit import options as o
from taskkit.task import RunModuleTask

DEFAULTS: dict[str, Any] = {
    "data": "digits", "data_root": None, "val_split": 0.1, "test_split": 0.1, "img_size": None,
    "strict": False, "workers": 0, "balance": "none", "classes": None, "aug": "none", "split": "random", "time_col": None,
    "backbone": "lenet", "small_input": None, "pretrained": False, "head": "linear", "loss": "cross-entropy", "dropout": 0.0, "label_smoothing": None,
    "optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4, "momentum": 0.9, "scheduler": "warmup+cosine",
    "warmup_epochs": 1.0, "epochs": 15, "batch_size": 32, "clip_grad": 0.0, "accumulate": 1, "patience": 0,
    "mixup": 0.0, "cutmix": 0.0, "l1": 0.0, "ema": 0.0,
    "seed": 0, "device": "auto", "precision": "auto", "channels_last": False, "compile": False, "devices": 1, "out": "runs", "name": None, "tensorboard": False, "quiet": False,
}


class Classify(RunModuleTask):
    """Train an image classifier from scratch and report test metrics."""

    run_module = "taskkit.tasks.classify.run"
    inputs = "images"
    outputs = "labels"
    test_time_augmentation = True

    @staticmethod
    def command(
        ctx: typer.Context,
        data: o.Data = DEFAULTS["data"], backbone: o.Backbone = DEFAULTS["backbone"],
        small_input: o.SmallInput = DEFAULTS["small_input"], pretrained: o.Pretrained = DEFAULTS["pretrained"],
        head: o.Head = DEFAULTS["head"], loss: o.Loss = DEFAULTS["loss"],
        optimizer: o.Optimizer = DEFAULTS["optimizer"], lr: o.Lr = DEFAULTS["lr"],
        weight_decay: o.WeightDecay = DEFAULTS["weight_decay"], momentum: o.Momentum = DEFAULTS["momentum"],
        dropout: o.Dropout = DEFAULTS["dropout"], epochs: o.Epochs = DEFAULTS["epochs"],
        batch_size: o.BatchSize = DEFAULTS["batch_size"], img_size: o.ImgSize = DEFAULTS["img_size"],
        scheduler: o.Scheduler = DEFAULTS["scheduler"], warmup_epochs: o.WarmupEpochs = DEFAULTS["warmup_epochs"],
        label_smoothing: o.LabelSmoothing = DEFAULTS["label_smoothing"], balance: o.Balance = DEFAULTS["balance"], aug: o.Augment = DEFAULTS["aug"],
        clip_grad: o.ClipGrad = DEFAULTS["clip_grad"], accumulate: o.Accumulate = DEFAULTS["accumulate"],
        patience: o.Patience = DEFAULTS["patience"], seed: o.Seed = DEFAULTS["seed"],
        mixup: o.Mixup = DEFAULTS["mixup"], cutmix: o.CutMix = DEFAULTS["cutmix"],
        l1: o.L1 = DEFAULTS["l1"], ema: o.Ema = DEFAULTS["ema"],
        device: o.Device = DEFAULTS["device"],
        precision: o.Precision = DEFAULTS["precision"], channels_last: o.ChannelsLast = DEFAULTS["channels_last"],
        compile: o.Compile = DEFAULTS["compile"], devices: o.Devices = DEFAULTS["devices"],
        data_root: o.DataRoot = DEFAULTS["data_root"], val_split: o.ValSplit = DEFAULTS["val_split"],
        test_split: o.TestSplit = DEFAULTS["test_split"], split: o.Split = DEFAULTS["split"],
        time_col: o.TimeCol = DEFAULTS["time_col"], classes: o.Classes = DEFAULTS["classes"],
        strict: o.Strict = DEFAULTS["strict"],
        workers: o.Workers = DEFAULTS["workers"], out: o.Out = Path(DEFAULTS["out"]), name: o.Name = None,
        config: o.Config = None, resume: o.Resume = None, tensorboard: o.TensorBoard = False,
        quiet: o.Quiet = False, json: o.Json = False,
    ) -> None:
        """Train an image classifier from scratch; `tk classify` alone trains LeNet on digits."""
        from taskkit.storage.config import command_options
        from taskkit.tasks.classify.run import report_and_print, train

        options, _ = command_options(ctx, DEFAULTS)
        run_dir, report = train("classify", options, resume=ctx.params["resume"])
        report_and_print(run_dir, report, as_json=json)

    @staticmethod
    def predict(run_dir: Path, record: dict, files: list[str], top_k: int | None, as_json: bool,
                tta: str | None = None) -> None:
        from taskkit.tasks.classify.run import predict_files

        predict_files(run_dir, record, files, 3 if top_k is None else top_k, as_json, tta=tta)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("classify")(Classify)
