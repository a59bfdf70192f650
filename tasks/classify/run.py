"""What `tk classify` does: assemble the data and model, train, evaluate, predict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import typer

from taskkit import drive

from taskkit.train import ranks
from taskkit.report.answers import print_top_labels
from taskkit.data.augment import parse_spec
from taskkit.backbone import BackboneWithHead
from taskkit.storage.checkpoints import load_run_weights
from taskkit.storage.config import read_config, write_config
from taskkit.data import load_image_data, load_image_for_prediction
from taskkit.data.time_order import time_column
from taskkit.errors import BadInputError, Interrupted, TrainingError
from taskkit.registries import BACKBONES, HEADS, LOSSES
from taskkit.storage.runs import claim_run_dir, versions, write_json
from taskkit.sequence import require_modality
from taskkit.model.tta import with_tta
from taskkit.train.training import Scoring, TrainOptions, resolve_device, step_options, train_and_test


DEFAULT_LABEL_SMOOTHING = 0.1


def build_model(spec: dict[str, Any]) -> BackboneWithHead:
    """The classifier a model spec (stored in run.json) describes."""
    backbone = BACKBONES.build(spec["backbone"], in_channels=spec["in_channels"],
                               context={"img_size": spec["img_size"]}, **spec.get("backbone_options", {}))
    head = HEADS.build(spec["head"], in_channels=backbone.out_channels[-1], num_outputs=len(spec["classes"]),
                       **spec.get("head_options", {}))
    return BackboneWithHead(backbone, head, num_outputs=len(spec["classes"]))


def build_loss(options: dict[str, Any], train_targets: list[int], num_classes: int) -> torch.nn.Module:
    """The loss by name, with label smoothing and class weights where asked for.

    Label smoothing left unset means 0.1 for a loss that takes it (cross-entropy) and none
    for the others; set explicitly, it is an error on a loss that cannot use it. Smoothing
    applies to the soft targets of mixup and cutmix too; a loss that cannot read soft targets
    is refused with them.
    """
    from taskkit.train.training import class_weights

    takes = LOSSES.entry(options["loss"]).options()
    smoothing_key = next((k for k in ("label_smoothing", "smoothing") if k in takes), None)
    extra: dict[str, Any] = {}
    smoothing = options["label_smoothing"]
    if smoothing is not None and not (isinstance(smoothing, (int, float)) and 0 <= smoothing < 1):
        raise BadInputError(f"--label-smoothing must be a number in [0, 1), got {smoothing!r}")
    if smoothing is not None and smoothing > 0 and smoothing_key is None:
        raise BadInputError(f"loss '{options['loss']}' does not take --label-smoothing; use cross-entropy")
    if smoothing_key is not None:
        extra[smoothing_key] = DEFAULT_LABEL_SMOOTHING if smoothing is None else float(smoothing)
    if options["balance"] == "class-weights":
        key = "weight" if "weight" in takes else "alpha" if "alpha" in takes else None
        if key is None:
            raise BadInputError(f"loss '{options['loss']}' takes no class weights; use cross-entropy or focal")
        extra[key] = class_weights(train_targets, num_classes)
    loss = LOSSES.build(options["loss"], **extra)
    if (options.get("mixup") or options.get("cutmix")) and not getattr(loss, "takes_soft_targets", True):
        raise BadInputError(f"loss '{options['loss']}' cannot learn from the mixed labels of --mixup and --cutmix; "
                            "use cross-entropy, label-smoothing, focal or bce")
    return loss


def train(task: str, options: dict[str, Any], resume: Path | None) -> tuple[Path, dict[str, Any]]:
    """Check everything, claim the run directory, train and test; returns (run_dir, test report)."""
    train_options = TrainOptions.from_options(options)
    resolve_device(train_options.device)
    backbone_class = BACKBONES.get(options["backbone"])
    require_modality(BACKBONES, options["backbone"], "image", "backbone")
    require_modality(HEADS, options["head"], "image", "head")
    LOSSES.entry(options["loss"])
    parse_spec(options.get("aug"))
    data = load_data(options, options["img_size"], getattr(backbone_class, "min_img_size", 1))
    backbone_options = {} if options["small_input"] is None else {"small_input": options["small_input"]}
    if options["pretrained"]:
        backbone_options["pretrained"] = True
    spec = model_spec(options, data, options["backbone"], backbone_options)
    torch.manual_seed(options["seed"])
    model = build_model(spec)
    spec["backbone_options"].pop("pretrained", None)  # the run's own weights replace them from now on
    return fit_and_test(task, options, resume, model, spec, data, train_options)


def load_data(options: dict[str, Any], img_size: int | None, min_img_size: int):
    """The run's image data as its options describe it (`--classes` keeps only those classes)."""
    return load_image_data(
        options["data"], data_root=options["data_root"], img_size=img_size, min_img_size=min_img_size,
        val_split=options["val_split"], test_split=options["test_split"], seed=options["seed"],
        strict=options["strict"], keep_classes=parse_classes(options.get("classes")), augment=options.get("aug"),
        time_col=time_column(options),
    )


def parse_classes(value: str | list | None) -> list[str] | None:
    """`--classes 0,1,2` (or a YAML list) as class names; None keeps every class."""
    if value is None or value == "":
        return None
    names = value if isinstance(value, list) else str(value).split(",")
    names = [str(n).strip() for n in names if str(n).strip()]
    if len(names) < 2:
        raise BadInputError(f"--classes needs at least 2 class names, comma-separated, got {value!r}")
    return names


def model_spec(options: dict[str, Any], data, backbone: str, backbone_options: dict[str, Any]) -> dict[str, Any]:
    """What run.json records to rebuild the model: backbone, head, input and classes."""
    return {"backbone": backbone, "backbone_options": backbone_options,
            "head": options["head"], "head_options": {"dropout": options["dropout"]},
            "in_channels": data.in_channels, "img_size": data.img_size, "classes": data.classes,
            "mean": data.mean, "std": data.std}


def fit_and_test(task: str, options: dict[str, Any], resume: Path | None, model: torch.nn.Module,
                 spec: dict[str, Any], data, train_options: TrainOptions, freezer: Any = None,
                 extra: dict[str, Any] | None = None, loader_factory: Any = None,
                 loss_fn: torch.nn.Module | None = None, scoring: Scoring = Scoring()) -> tuple[Path, dict[str, Any]]:
    """Claim the run directory, write run.json, train and test the assembled model.

    Under torchrun, rank 0 claims the directory and writes in it; the others learn its name."""
    from taskkit.train.distributed import from_main

    loss_fn = loss_fn or build_loss(options, data.train_targets(), len(data.classes))
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
        write_json(run_dir / "run.json", record)
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
        write_json(run_dir / "run.json", record)
    try:
        epoch = load_state(run_dir / "last.ckpt")["fit"]["epoch"]
    except BadInputError:
        return Interrupted(f"interrupted before the first checkpoint of {run_dir}; start the run again")
    done = f"after epoch {epoch}" if epoch else "at its start"
    return Interrupted(f"interrupted; {run_dir}/last.ckpt holds the run {done}: continue with "
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
        if not (Path(resume) / "last.ckpt").is_file():
            raise BadInputError(f"{resume} has no last.ckpt to resume from")
        run_dir = Path(resume)
    else:
        run_dir = claim_run_dir(Path(options["out"]), options["name"] or task)
    write_config(run_dir / "config.yaml", {**options, "name": run_dir.name, "out": str(run_dir.parent)})
    return run_dir


def _last_good(run_dir: Path) -> str:
    checkpoint = run_dir / "last.ckpt"
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


def load_model(run_dir: Path, record: dict[str, Any]) -> BackboneWithHead:
    return load_run_weights(build_model(record["model"]), run_dir)


def evaluation_split(run_dir: Path, data: str | None, split: str | None) -> tuple[dict[str, Any], str]:
    """The run's options and the split `tk eval` scores: the test split, or all of other `--data`."""
    options = read_config(run_dir / "config.yaml")
    split = split or ("all" if data else "test")
    if split not in ("train", "val", "test", "all"):
        raise BadInputError(f"--split must be train, val, test or all, got '{split}'")
    return options, split


def evaluate_run(run_dir: Path, record: dict[str, Any], data: str | None, split: str | None, as_json: bool,
                 tta: str | None = None) -> None:
    """Metrics of a trained run on a split of its own data, or on other labelled data (all of it);
    `tta` (`--tta hflip`) averages the model over flipped images."""
    from torch.utils.data import ConcatDataset, DataLoader

    from taskkit.train.engine import evaluate
    from taskkit.report.metrics import classification_report

    options, split = evaluation_split(run_dir, data, split)
    spec = record["model"]
    model = with_tta(load_model(run_dir, record), tta)  # weights that do not fit fail before any data is read
    fractions = {"val_split": 0.0, "test_split": 0.0} if split == "all" else {
        "val_split": options.get("val_split", 0.1), "test_split": options.get("test_split", 0.1)}
    loaded = load_image_data(data or options["data"], data_root=options.get("data_root"), img_size=spec["img_size"],
                             in_channels=spec["in_channels"], classes=spec["classes"], seed=options.get("seed", 0),
                             mean=spec["mean"], std=spec["std"], **fractions,
                             keep_classes=None if data else parse_classes(options.get("classes")),
                             time_col=None if data else time_column(options))
    warn_skipped(loaded.skipped)
    dataset = ConcatDataset([loaded.train, loaded.val, loaded.test]) if split == "all" else getattr(loaded, split)
    result = evaluate(model, DataLoader(dataset, batch_size=256), LOSSES.build("cross-entropy"),
                      step_options(TrainOptions(), resolve_device("cpu")))
    report = classification_report(result.logits, result.targets, spec["classes"])
    report_and_print(run_dir, report, as_json)


def predict_files(run_dir: Path, record: dict[str, Any], files: list[str], top_k: int, as_json: bool,
                  tta: str | None = None) -> None:
    """Top-k labels with probabilities for each image file."""
    from taskkit.train.engine import predict

    spec = record["model"]
    model = with_tta(load_model(run_dir, record), tta)
    images = torch.stack([
        load_image_for_prediction(f, in_channels=spec["in_channels"], img_size=spec["img_size"],
                                  mean=spec["mean"], std=spec["std"])
        for f in files
    ])
    probs = predict(model, images, step_options(TrainOptions(), resolve_device("cpu")))
    k = max(1, min(top_k, len(spec["classes"])))
    results = []
    for path, row in zip(files, probs):
        values, indices = row.topk(k)
        results.append({"file": path, "predictions": [
            {"label": spec["classes"][i], "probability": round(float(v), 4)} for v, i in zip(values, indices)]})
    print_top_labels(results, as_json)
