"""Segmentation scores: a pixel confusion matrix counted on the fly, and IoU, Dice and accuracy from it.

Keeping every logit of a validation set, as classification does, would cost classes x
pixels floats per image; a confusion matrix (torchmetrics', updated per batch on the
device) holds all that the metrics need. From it, per class c with true-positive count
TP, and FP and FN the pixels wrongly given or denied c: IoU = TP / (TP + FP + FN) and
Dice = 2 TP / (2 TP + FP + FN). Means are over the classes that occur in the truth or the
prediction; a class absent from both has no score (None) rather than a perfect one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
from torch import Tensor, nn

from taskkit.train.engine import IGNORE_INDEX, StepOptions, autocast, call_model, to_device


@dataclass
class DenseEvaluation:
    """Loss, image count and pixel confusion matrix (true classes down, predicted across)."""

    loss: float
    images: int
    confusion: Tensor

    @property
    def samples(self) -> int:
        return self.images

    @classmethod
    def combine(cls, parts: list["DenseEvaluation"]) -> "DenseEvaluation":
        """One evaluation of the whole set from those of its shards: counts add up."""
        images = sum(p.images for p in parts)
        loss = sum(p.loss * p.images for p in parts) / max(images, 1)
        return cls(loss, images, sum(p.confusion for p in parts))

    @property
    def accuracy(self) -> float:
        total = self.confusion.sum()
        return float(self.confusion.diag().sum() / total) if total else 0.0

    def extra_metrics(self) -> dict[str, float]:
        return {"val_miou": mean_iou(self.confusion)}


def dense_evaluator(num_classes: int) -> Callable[..., DenseEvaluation]:
    """An `evaluate` for per-pixel logits, with the engine's signature."""

    @torch.no_grad()
    def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, options: StepOptions) -> DenseEvaluation:
        from torchmetrics.classification import MulticlassConfusionMatrix

        model.eval()
        counter = MulticlassConfusionMatrix(num_classes, ignore_index=IGNORE_INDEX, validate_args=False)
        counter = counter.to(options.device)
        total, images = torch.zeros((), device=options.device), 0
        for inputs, targets in loader:
            inputs, targets = to_device(inputs, options.device), targets.to(options.device)
            with autocast(options):
                logits = call_model(model, inputs)
                total += loss_fn(logits, targets).float() * len(targets)
            counter.update(logits.argmax(1), targets)
            images += len(targets)
        confusion = counter.compute().cpu() if images else torch.zeros(num_classes, num_classes, dtype=torch.long)
        return DenseEvaluation(total.item() / max(images, 1), images, confusion)

    return evaluate


def per_class_scores(confusion: Tensor) -> dict[str, Tensor]:
    """IoU, Dice and recall (pixel accuracy within the class) per class; NaN where undefined."""
    confusion = confusion.double()
    hits = confusion.diag()
    truth, predicted = confusion.sum(1), confusion.sum(0)
    union = truth + predicted - hits
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    return {"iou": torch.where(union > 0, hits / union.clamp_min(1), nan),
            "dice": torch.where(truth + predicted > 0, 2 * hits / (truth + predicted).clamp_min(1), nan),
            "accuracy": torch.where(truth > 0, hits / truth.clamp_min(1), nan)}


def mean_iou(confusion: Tensor) -> float:
    iou = per_class_scores(confusion)["iou"]
    present = ~iou.isnan()
    return float(iou[present].mean()) if present.any() else 0.0


def segmentation_report(result: DenseEvaluation, classes: list[str]) -> dict[str, Any]:
    """Every segmentation metric of a run: per class and mean IoU and Dice, pixel accuracy."""
    scores = per_class_scores(result.confusion)
    present = ~scores["iou"].isnan()

    def mean(values: Tensor) -> float:
        return float(values[present].mean()) if present.any() else 0.0

    def value(x: Tensor) -> float | None:
        return None if x.isnan() else float(x)

    support = result.confusion.sum(1)
    return {
        "samples": result.images,
        "pixels": int(result.confusion.sum()),
        "mean_iou": mean(scores["iou"]),
        "mean_dice": mean(scores["dice"]),
        "pixel_accuracy": result.accuracy,
        "mean_class_accuracy": float(scores["accuracy"][~scores["accuracy"].isnan()].mean())
        if (~scores["accuracy"].isnan()).any() else 0.0,
        "per_class": {name: {"iou": value(scores["iou"][i]), "dice": value(scores["dice"][i]),
                             "accuracy": value(scores["accuracy"][i]), "pixels": int(support[i])}
                      for i, name in enumerate(classes)},
        "confusion_matrix": result.confusion.tolist(),
    }


def segmentation_table(report: dict[str, Any], title: str = "test") -> "rich.table.Table":  # noqa: F821
    """A rich table: one row per class (IoU, Dice, accuracy, pixels), then the means (see `summary_line`)."""
    from rich.table import Table

    def shown(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    table = Table(title=f"{title} ({report['samples']} images)", header_style="bold")
    for column in ("class", "IoU", "Dice", "accuracy", "pixels"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, row in report["per_class"].items():
        table.add_row(name, shown(row["iou"]), shown(row["dice"]), shown(row["accuracy"]), f"{row['pixels']:,}")
    table.add_section()
    table.add_row("mean", shown(report["mean_iou"]), shown(report["mean_dice"]),
                  shown(report["mean_class_accuracy"]), f"{report['pixels']:,}")
    return table


def summary_line(report: dict[str, Any]) -> str:
    return (f"mean IoU {report['mean_iou']:.4f}  mean Dice {report['mean_dice']:.4f}  "
            f"pixel accuracy {report['pixel_accuracy']:.4f}")
