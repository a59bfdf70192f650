"""`tk segment`: train a semantic segmentation model (a backbone and a decoder), evaluate it, predict masks.

The module is imported to build the CLI, so it imports torch only inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from taskkit import hookimpl
from taskkit import options as o
from taskkit.task import RunModuleTask

DEFAULTS: dict[str, Any] = {
    "data": None, "val_split": 0.1, "test_split": 0.1, "img_size": None, "strict": False, "workers": 0,
    "classes": None, "ignore_index": None, "aug": "basic",
    "backbone": "resnet18", "small_input": None, "pretrained": False, "head": "unet", "upsample": None,
    "loss": "ce+dice", "dropout": 0.0,
    "optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4, "momentum": 0.9, "scheduler": "warmup+cosine",
    "warmup_epochs": 1.0, "epochs": 20, "batch_size": 8, "clip_grad": 0.0, "accumulate": 1, "patience": 0,
    "l1": 0.0, "ema": 0.0,
    "seed": 0, "device": "auto", "precision": "auto", "channels_last": False, "compile": False, "devices": 1, "out": "runs", "name": None, "tensorboard": False, "quiet": False,
}


class Segment(RunModuleTask):
    """Train a semantic segmentation model and report per-class IoU and Dice."""

    run_module = "taskkit.tasks.segment.run"
    inputs = "images"
    outputs = "masks"
    test_time_augmentation = True

    @staticmethod
    def command(
        ctx: typer.Context,
        data: o.SegData = None, classes: o.SegClasses = None, ignore_index: o.IgnoreIndex = None,
        img_size: o.SegImgSize = None, aug: o.SegAugment = DEFAULTS["aug"],
        val_split: o.ValSplit = DEFAULTS["val_split"], test_split: o.TestSplit = DEFAULTS["test_split"],
        strict: o.Strict = False, workers: o.Workers = DEFAULTS["workers"],
        backbone: o.Backbone = DEFAULTS["backbone"], small_input: o.SmallInput = None,
        pretrained: o.Pretrained = False, head: o.SegHead = DEFAULTS["head"], upsample: o.Upsample = None,
        loss: o.SegLoss = DEFAULTS["loss"], dropout: o.SegDropout = DEFAULTS["dropout"],
        optimizer: o.Optimizer = DEFAULTS["optimizer"], lr: o.Lr = DEFAULTS["lr"],
        weight_decay: o.WeightDecay = DEFAULTS["weight_decay"], momentum: o.Momentum = DEFAULTS["momentum"],
        scheduler: o.Scheduler = DEFAULTS["scheduler"], warmup_epochs: o.WarmupEpochs = DEFAULTS["warmup_epochs"],
        epochs: o.Epochs = DEFAULTS["epochs"], batch_size: o.BatchSize = DEFAULTS["batch_size"],
        clip_grad: o.ClipGrad = DEFAULTS["clip_grad"], accumulate: o.Accumulate = DEFAULTS["accumulate"],
        patience: o.Patience = DEFAULTS["patience"], seed: o.Seed = DEFAULTS["seed"],
        l1: o.L1 = DEFAULTS["l1"], ema: o.Ema = DEFAULTS["ema"],
        device: o.Device = DEFAULTS["device"],
        precision: o.Precision = DEFAULTS["precision"], channels_last: o.ChannelsLast = DEFAULTS["channels_last"],
        compile: o.Compile = DEFAULTS["compile"], devices: o.Devices = DEFAULTS["devices"],
        out: o.Out = Path(DEFAULTS["out"]), name: o.Name = None, config: o.Config = None, resume: o.Resume = None,
        tensorboard: o.TensorBoard = False, quiet: o.Quiet = False, json: o.Json = False,
    ) -> None:
        """Train a segmentation model: `tk segment --data DIR` fits a U-Net on ResNet-18 to DIR's images and masks."""
        from taskkit.storage.config import command_options
        from taskkit.tasks.segment.run import print_report, train

        options, explicit = command_options(ctx, DEFAULTS)
        run_dir, report = train(options, explicit, resume=ctx.params["resume"])
        print_report(run_dir, report, as_json=json)

    @staticmethod
    def predict(run_dir: Path, record: dict, files: list[str], top_k: int | None, as_json: bool,
                out: Path | None = None, tta: str | None = None) -> None:
        from taskkit.tasks.segment.predict import predict_masks

        predict_masks(run_dir, record, files, out, as_json, tta=tta)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("segment")(Segment)
