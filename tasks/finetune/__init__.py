"""`tk finetune`: a pretrained backbone with its first stages frozen and a new head, trained.

Runs have classify's data, metrics and run directory, so `tk eval`, `tk predict` and
`tk summary` treat them alike. The module is imported to build the CLI, so it imports torch
only inside functions.
"""

from __future__ import annotations

from typing import Any

from taskkit import hookimpl
from taskkit.data.options import IMAGE_DATA, IMAGE_MODEL, IMAGE_TRAINING
from taskkit.options import POSITIVE, Option, Options
from taskkit.task import TaskCall
from taskkit.tasks.classify import Classify

FINETUNE = "Fine-tuning"

FREEZING = Options(
    Option("backbone", None, "Backbone name (default: the --weights run's, else resnet18); see `tk list backbones`.",
           "", kind=str),
    Option("weights", None, "Start from this .safetensors/.pth state dict (tk, timm or torchvision) or a tk run "
           "directory (default: the published ImageNet weights; downloads).", FINETUNE, kind=str),
    Option("freeze", "0", "Freeze the stem and the first N stages (0: none; all: the whole backbone).", FINETUNE),
    Option("bn", "eval", "BatchNorm of frozen stages: eval (running statistics kept), train (they adapt), or "
           "frozen (every BatchNorm fixed).", FINETUNE),
    Option("unfreeze_at", None, "From this epoch (counted from 1), unfreeze stages, latest first.", FINETUNE,
           kind=int, range=POSITIVE),
    Option("unfreeze_step", "1", "Stages unfrozen per epoch from --unfreeze-at, or all at once.", FINETUNE),
    Option("lr_decay", 1.0, "Each earlier stage learns this many times slower than the next (1: one rate).",
           FINETUNE, range=POSITIVE),
    Option("dry_run", False, "Print the stages with what is frozen and exit without training.", FINETUNE),
)


class Finetune(Classify):
    """Fine-tune a pretrained backbone with frozen stages and report test metrics."""

    options = (IMAGE_DATA, IMAGE_MODEL.without("pretrained"), FREEZING, IMAGE_TRAINING)
    defaults = {"lr": 1e-3, "epochs": 10}

    @classmethod
    def run(cls, call: TaskCall) -> Any:
        from taskkit.tasks.finetune.run import finetune

        return finetune(call.options, resume=call.resume)

    @classmethod
    def show(cls, outcome: Any, as_json: bool) -> None:
        from taskkit.tasks.finetune.run import print_stage_table
        from taskkit.train.flow import report_and_print

        if outcome.dry_run:
            print_stage_table(outcome, as_json=as_json)
        else:
            report_and_print(outcome.run_dir, outcome.report, as_json=as_json)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("finetune")(Finetune)
