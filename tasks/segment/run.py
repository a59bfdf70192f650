"""What `tk segment` does: check the pairs, assemble backbone and decoder, train, score pixels.

The engine and the run directory are the classifier's; what differs is the model (a
decoder reading every stage's map), the data (image/mask pairs) and the scoring: a pixel
confusion matrix each validation, the best epoch picked by mean IoU, and a test report
of per-class IoU, Dice and accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from taskkit.backbone import BackboneWithDecoder, spatial_stage_count
from taskkit.components import flag
from taskkit.storage.checkpoints import load_run_weights
from taskkit.train.engine import IGNORE_INDEX
from taskkit.errors import BadInputError
from taskkit.registries import BACKBONES, HEADS, LOSSES
from taskkit.segmentation.data import load_segmentation_data
from taskkit.segmentation.metrics import dense_evaluator, segmentation_report, segmentation_table, summary_line
from taskkit.sequence import require_modality
from taskkit.data.options import parse_classes
from taskkit.train.flow import evaluation_split, fit_and_test, report_and_print, warn_skipped
from taskkit.train.training import Scoring, TrainOptions, resolve_device, step_options


def build_model(spec: dict[str, Any]) -> BackboneWithDecoder:
    """The backbone and decoder a model spec (stored in run.json) describes.

    The decoder reads the stages that still are maps at this input size (a VGG's dense
    layers are left out) and, for `segnet`, the encoder's convolutions per block to mirror.
    """
    backbone = BACKBONES.build(spec["backbone"], in_channels=spec["in_channels"],
                               context={"img_size": spec["img_size"]}, **spec.get("backbone_options", {}))
    height, width = spec["input_size"]
    count = spatial_stage_count(backbone.reductions, height, width)
    if count == 0:
        raise BadInputError(f"backbone '{spec['backbone']}' has no feature map finer than {width}x{height} images; "
                            f"use a larger --img-size or another backbone")
    options = dict(spec.get("head_options", {}))
    depths = flag(backbone, "stage_depths")
    if flag(HEADS.get(spec["head"]), "needs_pool_indices") and depths is not None:
        options.setdefault("depths", list(depths[:count]))
    decoder = HEADS.build(spec["head"], in_channels=backbone.out_channels[:count],
                          reductions=backbone.reductions[:count], num_outputs=len(spec["classes"]), **options)
    return BackboneWithDecoder(backbone, decoder)


def check_parts(backbone: str, head: str, upsample: str | None) -> None:
    """Refuse in one line a backbone or head of another kind, and pairings that cannot work."""
    require_modality(BACKBONES, backbone, "image", "backbone")
    require_modality(HEADS, head, "segmentation", "head")
    if flag(HEADS.get(head), "needs_pool_indices") and not flag(BACKBONES.get(backbone), "records_pool_indices"):
        fits = [n for n in BACKBONES.names() if not n.startswith(("timm/", "tv/"))
                and flag(BACKBONES.get(n), "records_pool_indices")]
        raise BadInputError(f"head '{head}' unpools with the encoder's max-pooling indices, which backbone "
                            f"'{backbone}' does not record; use --backbone {' or '.join(fits)}")
    if upsample is not None and "upsample" not in HEADS.entry(head).options():
        takes = [n for n in HEADS.names() if flag(HEADS.get(n), "modality") == "segmentation"
                 and "upsample" in HEADS.entry(n).options()]
        raise BadInputError(f"head '{head}' takes no --upsample (it has its own way up); "
                            f"--upsample applies to {', '.join(takes)}")


def build_loss(name: str) -> torch.nn.Module:
    """The loss by name, told to leave unlabelled pixels out.

    A loss fit for per-pixel classes takes `ignore_index`; one that does not (bce, mse) was
    written for other targets and would fail on the first batch, so it is refused now.
    """
    if "ignore_index" not in LOSSES.entry(name).options():
        fits = [n for n in LOSSES.names() if "ignore_index" in LOSSES.entry(n).options()]
        raise BadInputError(f"loss '{name}' cannot score per-pixel classes; use one of: {', '.join(fits)}")
    return LOSSES.build(name, ignore_index=IGNORE_INDEX)


def scoring(classes: list[str]) -> Scoring:
    return Scoring(evaluate=dense_evaluator(len(classes)), report=segmentation_report, monitor="val_miou")


def train(options: dict[str, Any], explicit: set[str], resume: Path | None) -> tuple[Path, dict[str, Any]]:
    """Check everything, read and check the pairs, train, and score the test split."""
    train_options = TrainOptions.from_options(options)
    resolve_device(train_options.device)
    if not options["data"]:
        raise BadInputError("pass --data DIR, a folder of images/ and masks/ (`tk data shapes DIR` writes an example)")
    check_parts(options["backbone"], options["head"], options["upsample"])
    loss = build_loss(options["loss"])
    backbone_class = BACKBONES.get(options["backbone"])
    data = load_segmentation_data(
        options["data"], img_size=options["img_size"], min_img_size=flag(backbone_class, "min_img_size"),
        val_split=options["val_split"], test_split=options["test_split"], seed=options["seed"],
        strict=options["strict"], classes=parse_classes(options["classes"]), ignore_value=options["ignore_index"],
        augment=options["aug"])
    backbone_options = {} if options["small_input"] is None else {"small_input": options["small_input"]}
    if options["pretrained"]:
        backbone_options["pretrained"] = True
    head_options = {"dropout": options["dropout"]}
    if options["upsample"] is not None:
        head_options["upsample"] = options["upsample"]
    spec = {"backbone": options["backbone"], "backbone_options": backbone_options, "head": options["head"],
            "head_options": head_options, "in_channels": data.in_channels, "img_size": min(data.size),
            "input_size": list(data.size), "classes": data.classes, "mean": data.mean, "std": data.std,
            "ignore_index": options["ignore_index"]}
    torch.manual_seed(options["seed"])
    model = build_model(spec)
    spec["backbone_options"].pop("pretrained", None)  # the run's own weights replace them from now on
    return fit_and_test("segment", options, resume, model, spec, data, train_options, loss_fn=loss,
                        scoring=scoring(data.classes))


def load_model(run_dir: Path, record: dict[str, Any]) -> BackboneWithDecoder:
    return load_run_weights(build_model(record["model"]), run_dir)


def print_report(run_dir: Path, report: dict[str, Any], as_json: bool) -> None:
    report_and_print(run_dir, report, as_json, table=segmentation_table, summary=summary_line)


def evaluate_run(run_dir: Path, record: dict[str, Any], data: str | None, split: str | None, as_json: bool,
                 tta: str | None = None) -> None:
    """Pixel metrics of a trained run on a split of its own data, or on another folder of pairs (all of
    it); `tta` (`--tta hflip`) averages the model over flipped images, each flipped back."""
    from torch.utils.data import DataLoader

    from taskkit.model.tta import with_tta

    options, split = evaluation_split(run_dir, data, split)
    spec = record["model"]
    model = with_tta(load_model(run_dir, record), tta)  # weights that do not fit fail before any data is read
    loaded = load_segmentation_data(
        data or options["data"], val_split=options.get("val_split", 0.1), test_split=options.get("test_split", 0.1),
        seed=options.get("seed", 0), ignore_value=spec.get("ignore_index"), run=spec, whole=split == "all")
    warn_skipped(loaded.skipped)
    dataset = loaded.test if split == "all" else getattr(loaded, split)
    evaluate = dense_evaluator(len(spec["classes"]))
    result = evaluate(model, DataLoader(dataset, batch_size=16),
                      build_loss(options.get("loss", "cross-entropy")), step_options(TrainOptions(), resolve_device("cpu")))
    print_report(run_dir, segmentation_report(result, spec["classes"]), as_json)
