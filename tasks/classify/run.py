"""What `tk classify` does: assemble the data and model, train, evaluate, predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from taskkit.backbone import BackboneWithHead
from taskkit.components import flag
from taskkit.data import load_image_data, load_image_for_prediction
from taskkit.data.augment import parse_spec
from taskkit.data.options import parse_classes
from taskkit.data.time_order import time_column
from taskkit.model.tta import with_tta
from taskkit.registries import BACKBONES, HEADS, LOSSES
from taskkit.report.answers import print_top_labels
from taskkit.sequence import require_modality
from taskkit.storage.checkpoints import load_run_weights
from taskkit.train.losses import build_loss
from taskkit.train.flow import evaluation_split, fit_and_test, report_and_print, warn_skipped
from taskkit.train.training import TrainOptions, resolve_device, step_options


def build_model(spec: dict[str, Any]) -> BackboneWithHead:
    """The classifier a model spec (stored in run.json) describes."""
    backbone = BACKBONES.build(spec["backbone"], in_channels=spec["in_channels"],
                               context={"img_size": spec["img_size"]}, **spec.get("backbone_options", {}))
    head = HEADS.build(spec["head"], in_channels=backbone.out_channels[-1], num_outputs=len(spec["classes"]),
                       **spec.get("head_options", {}))
    return BackboneWithHead(backbone, head, num_outputs=len(spec["classes"]))


def train(task: str, options: dict[str, Any], resume: Path | None) -> tuple[Path, dict[str, Any]]:
    """Check everything, claim the run directory, train and test; returns (run_dir, test report)."""
    train_options = TrainOptions.from_options(options)
    resolve_device(train_options.device)
    backbone_class = BACKBONES.get(options["backbone"])
    require_modality(BACKBONES, options["backbone"], "image", "backbone")
    require_modality(HEADS, options["head"], "image", "head")
    LOSSES.entry(options["loss"])
    parse_spec(options.get("aug"))
    data = load_data(options, options["img_size"], flag(backbone_class, "min_img_size"))
    backbone_options = {} if options["small_input"] is None else {"small_input": options["small_input"]}
    if options["pretrained"]:
        backbone_options["pretrained"] = True
    spec = model_spec(options, data, options["backbone"], backbone_options)
    torch.manual_seed(options["seed"])
    model = build_model(spec)
    spec["backbone_options"].pop("pretrained", None)  # the run's own weights replace them from now on
    loss = build_loss(options, data.train_targets(), len(data.classes))
    return fit_and_test(task, options, resume, model, spec, data, train_options, loss_fn=loss)


def load_data(options: dict[str, Any], img_size: int | None, min_img_size: int):
    """The run's image data as its options describe it (`--classes` keeps only those classes)."""
    return load_image_data(
        options["data"], data_root=options["data_root"], img_size=img_size, min_img_size=min_img_size,
        val_split=options["val_split"], test_split=options["test_split"], seed=options["seed"],
        strict=options["strict"], keep_classes=parse_classes(options.get("classes")), augment=options.get("aug"),
        time_col=time_column(options), cache=options["cache"], cache_budget=options["cache_budget"],
    )


def model_spec(options: dict[str, Any], data, backbone: str, backbone_options: dict[str, Any]) -> dict[str, Any]:
    """What run.json records to rebuild the model: backbone, head, input and classes."""
    return {"backbone": backbone, "backbone_options": backbone_options,
            "head": options["head"], "head_options": {"dropout": options["dropout"]},
            "in_channels": data.in_channels, "img_size": data.img_size, "classes": data.classes,
            "mean": data.mean, "std": data.std}


def load_model(run_dir: Path, record: dict[str, Any]) -> BackboneWithHead:
    return load_run_weights(build_model(record["model"]), run_dir)


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
