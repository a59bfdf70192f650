"""`tk finetune`: a pretrained backbone with its first stages frozen and a new head, trained.

Runs have classify's data, metrics and run directory, so `tk eval`, `tk predict` and
`tk summary` treat them alike. The module is imported to build the CLI, so it imports torch
only inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from taskkit import hookimpl
from taskkit import options as o
from taskkit.tasks.classify import DEFAULTS as CLASSIFY_DEFAULTS
from taskkit.tasks.classify import Classify

DEFAULTS: dict[str, Any] = {
    **{k: v for k, v in CLASSIFY_DEFAULTS.items() if k != "pretrained"},
    "backbone": None, "lr": 1e-3, "epochs": 10,
    "weights": None, "freeze": "0", "bn": "eval", "unfreeze_at": None, "unfreeze_step": "1", "lr_decay": 1.0,
    "dry_run": False,
}


class Finetune(Classify):
    """Fine-tune a pretrained backbone with frozen stages and report test metrics."""

    @staticmethod
    def command(
        ctx: typer.Context,
        data: o.Data = DEFAULTS["data"],
        backbone: o.BackboneOrRuns = None,
        weights: o.Weights = None, freeze: o.Freeze = DEFAULTS["freeze"], bn: o.BatchNormMode = DEFAULTS["bn"],
        unfreeze_at: o.UnfreezeAt = None, unfreeze_step: o.UnfreezeStep = DEFAULTS["unfreeze_step"],
        lr_decay: o.LrDecay = DEFAULTS["lr_decay"], dry_run: o.DryRun = False,
        small_input: o.SmallInput = None, head: o.Head = DEFAULTS["head"], loss: o.Loss = DEFAULTS["loss"],
        optimizer: o.Optimizer = DEFAULTS["optimizer"], lr: o.Lr = DEFAULTS["lr"],
        weight_decay: o.WeightDecay = DEFAULTS["weight_decay"], momentum: o.Momentum = DEFAULTS["momentum"],
        dropout: o.Dropout = DEFAULTS["dropout"], epochs: o.Epochs = DEFAULTS["epochs"],
        batch_size: o.BatchSize = DEFAULTS["batch_size"], img_size: o.ImgSize = None,
        scheduler: o.Scheduler = DEFAULTS["scheduler"], warmup_epochs: o.WarmupEpochs = DEFAULTS["warmup_epochs"],
        label_smoothing: o.LabelSmoothing = None, balance: o.Balance = DEFAULTS["balance"], aug: o.Augment = DEFAULTS["aug"],
        clip_grad: o.ClipGrad = DEFAULTS["clip_grad"], accumulate: o.Accumulate = DEFAULTS["accumulate"],
        patience: o.Patience = DEFAULTS["patience"], seed: o.Seed = DEFAULTS["seed"],
        mixup: o.Mixup = DEFAULTS["mixup"], cutmix: o.CutMix = DEFAULTS["cutmix"],
        l1: o.L1 = DEFAULTS["l1"], ema: o.Ema = DEFAULTS["ema"],
        device: o.Device = DEFAULTS["device"],
        precision: o.Precision = DEFAULTS["precision"], channels_last: o.ChannelsLast = DEFAULTS["channels_last"],
        compile: o.Compile = DEFAULTS["compile"], devices: o.Devices = DEFAULTS["devices"],
        data_root: o.DataRoot = None, val_split: o.ValSplit = DEFAULTS["val_split"],
        test_split: o.TestSplit = DEFAULTS["test_split"], split: o.Split = DEFAULTS["split"],
        time_col: o.TimeCol = DEFAULTS["time_col"], classes: o.Classes = None,
        strict: o.Strict = DEFAULTS["strict"], workers: o.Workers = DEFAULTS["workers"],
        out: o.Out = Path(DEFAULTS["out"]), name: o.Name = None, config: o.Config = None,
        resume: o.Resume = None, tensorboard: o.TensorBoard = False, quiet: o.Quiet = False, json: o.Json = False,
    ) -> None:
        """Fine-tune a pretrained backbone: `--freeze 3` keeps the stem and three stages fixed.

        `tk finetune --weights runs/digits --freeze 3 --data ./photos` starts from a previous
        run's backbone; with no --weights, from the published ImageNet weights (downloads).
        """
        from taskkit.storage.config import command_options
        from taskkit.tasks.classify.run import report_and_print
        from taskkit.tasks.finetune.run import finetune, print_stage_table

        options, _ = command_options(ctx, DEFAULTS)
        outcome = finetune(options, resume=ctx.params["resume"])
        if outcome.dry_run:
            print_stage_table(outcome, as_json=json)
        else:
            report_and_print(outcome.run_dir, outcome.report, as_json=json)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("finetune")(Finetune)
