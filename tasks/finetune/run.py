"""What `tk finetune` does: pick the starting weights, assemble and freeze the model, train.

The starting weights decide a few defaults. A previous run gives its backbone, backbone
options and image size, so the stem is the one its weights fit. The published ImageNet
weights need the backbone's ImageNet stem (the built-in small-input stems have other
first-layer shapes) and images of at least 64 pixels, below which little of what those
features detect survives the stem.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import typer

from taskkit.components import flag
from taskkit.errors import BadInputError
from taskkit.model.freezing import FreezePlan, StageFreezer, frozen_entries, parse_unfreeze_step
from taskkit.registries import BACKBONES, HEADS, LOSSES
from taskkit.storage.runs import read_run
from taskkit.sequence import require_modality
from taskkit.tasks.classify.run import build_model, load_data, model_spec
from taskkit.train.losses import build_loss
from taskkit.train.flow import fit_and_test
from taskkit.train.training import TrainOptions, resolve_device
from taskkit.model.weights import (WeightsReport, fetch_torchvision_state, load_into, read_run_weights,
                             read_state_dict)

DEFAULT_BACKBONE = "resnet18"
PUBLISHED_MIN_SIZE = 64


@dataclass
class StartingPoint:
    """Where the backbone's first weights come from: a tk run, a weights file, or the published ones."""

    kind: str  # "run", "file" or "published"
    label: str
    state: dict[str, torch.Tensor] | None = None
    record: dict[str, Any] | None = None  # the run's run.json


@dataclass
class Outcome:
    """A trained run (directory and test report), or for `--dry-run` the stage table."""

    dry_run: bool
    run_dir: Path | None = None
    report: dict[str, Any] | None = None
    backbone: str = ""
    weights: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)


def starting_point(weights: str | None) -> StartingPoint:
    if weights is None:
        return StartingPoint("published", "the published ImageNet weights")
    if Path(weights).is_dir():
        state, record = read_run_weights(weights)
        # The run's head keeps its `head.` names and is skipped as the old classifier.
        state = {k.removeprefix("backbone."): v for k, v in state.items()}
        return StartingPoint("run", f"run {weights}", state, record)
    return StartingPoint("file", weights, read_state_dict(weights))


def finetune(options: dict[str, Any], resume: Path | None) -> Outcome:
    """Check everything, load the starting weights, freeze, then train and test (or preview)."""
    train_options = TrainOptions.from_options(options)
    resolve_device(train_options.device)
    schedule = FreezePlan(0, options["bn"], options["unfreeze_at"], parse_unfreeze_step(options["unfreeze_step"]),
                          options["lr_decay"])
    require_modality(HEADS, options["head"], "image", "head")
    LOSSES.entry(options["loss"])
    start, prior = None, None
    if resume is not None:
        prior = read_run(resume)
        spec = dict(prior["model"])
        data = load_data(options, spec["img_size"], 1)
    else:
        start = starting_point(options["weights"])
        backbone, backbone_options, img_size, min_size = _choices(options, start)
        data = load_data(options, img_size, min_size)
        spec = model_spec(options, data, backbone, backbone_options)
    options = {**options, "backbone": spec["backbone"]}
    torch.manual_seed(options["seed"])
    model, report = _assemble(spec, start, dry_run=options["dry_run"])
    plan = replace(schedule, frozen=frozen_entries(options["freeze"], model.backbone.stage_names, spec["backbone"]))
    freezer = StageFreezer(model, plan, train_options.lr, train_options.weight_decay)
    freezer.apply(0)
    weights_line = report.summary() if report else f"{spec['backbone']} from {start.label if start else 'its run'}"
    if options["dry_run"]:
        return Outcome(True, backbone=spec["backbone"], weights=weights_line, rows=freezer.table())
    typer.echo(weights_line, err=True)
    extra = {"weights": report.as_dict() if report else (prior or {}).get("weights"),
             "freezing": {"freeze": options["freeze"], "bn": plan.bn, "frozen_entries": plan.frozen,
                          "unfreeze_at": plan.unfreeze_at, "unfreeze_step": plan.unfreeze_step,
                          "lr_decay": plan.lr_decay}}
    loss = build_loss(options, data.train_targets(), len(data.classes))
    run_dir, test = fit_and_test("finetune", options, resume, model, spec, data, train_options, freezer, extra,
                                 loss_fn=loss)
    return Outcome(False, run_dir, test)


def _choices(options: dict[str, Any], start: StartingPoint) -> tuple[str, dict[str, Any], int | None, int]:
    """Backbone, its options, image size and minimum size, from the options and the starting weights."""
    backbone = options["backbone"]
    backbone_options: dict[str, Any] = {} if options["small_input"] is None else {"small_input": options["small_input"]}
    img_size = options["img_size"]
    if start.record is not None:
        trained = start.record["model"]
        if backbone is None:
            backbone = trained["backbone"]
        elif BACKBONES.entry(backbone).name != BACKBONES.entry(trained["backbone"]).name:
            raise BadInputError(f"{start.label} trained backbone '{trained['backbone']}', not '{backbone}'; "
                                f"leave --backbone out to fine-tune its backbone")
        backbone_options = {**trained.get("backbone_options", {}), **backbone_options}
        img_size = img_size or trained["img_size"]
    backbone = backbone or DEFAULT_BACKBONE
    require_modality(BACKBONES, backbone, "image", "backbone")
    entry = BACKBONES.entry(backbone)
    min_size = flag(entry.factory, "min_img_size")
    if start.kind == "published":
        takes = entry.options()
        if "pretrained" not in takes and not flag(entry.factory, "published_weights"):
            raise BadInputError(f"backbone '{backbone}' has no published pretrained weights; pass --weights FILE "
                                f"(a state dict or .safetensors) or a tk run directory")
        if "small_input" in takes:
            backbone_options.setdefault("small_input", False)
        min_size = max(min_size, PUBLISHED_MIN_SIZE)
    return backbone, backbone_options, img_size, min_size


def _assemble(spec: dict[str, Any], start: StartingPoint | None, dry_run: bool) -> tuple[Any, WeightsReport | None]:
    """The model with its starting weights in the backbone; None for the report when none were loaded."""
    entry = BACKBONES.entry(spec["backbone"])
    library_download = start is not None and start.kind == "published" and "pretrained" in entry.options()
    if library_download and not dry_run:
        model = build_model({**spec, "backbone_options": {**spec["backbone_options"], "pretrained": True}})
        return model, WeightsReport("its library's published weights", spec["backbone"],
                                    len(model.backbone.state_dict()))
    model = build_model(spec)
    if start is None or (dry_run and start.kind == "published"):
        return model, None
    backbone = model.backbone
    if start.kind == "published":
        state = fetch_torchvision_state(backbone.published_weights, spec["backbone"])
        source = f"torchvision's {backbone.published_weights} weights"
    else:
        state, source = start.state, start.label
    hint = ("; its small-input stem differs from the ImageNet one: try --no-small-input"
            if flag(backbone, "small_input") else "")
    return model, load_into(backbone, state, source, spec["backbone"], flag(backbone, "weight_key"), hint)


def print_stage_table(outcome: Outcome, as_json: bool) -> None:
    """The `--dry-run` preview: every stage, its parameters, when it trains, its BatchNorm mode and rate."""
    if as_json:
        from taskkit.report.json_output import echo_json

        echo_json({"backbone": outcome.backbone, "weights": outcome.weights, "stages": outcome.rows})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{outcome.backbone}: what --freeze leaves training")
    for column, justify in (("stage", "left"), ("parameters", "right"), ("trainable", "left"),
                            ("BatchNorm", "left"), ("lr x", "right")):
        table.add_column(column, justify=justify)
    for row in outcome.rows:
        table.add_row(row["stage"], f"{row['parameters']:,}", row["trainable"], row["bn"], f"{row['lr_scale']:g}")
    console = Console()
    console.print(table)
    training = sum(r["parameters"] for r in outcome.rows if r["trainable"] == "yes")
    total = sum(r["parameters"] for r in outcome.rows)
    console.print(f"{training:,} of {total:,} parameters train from the first epoch; weights: {outcome.weights}",
                  highlight=False)
    console.print("dry run: nothing was trained", highlight=False)
