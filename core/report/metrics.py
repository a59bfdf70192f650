"""Classification metrics with torchmetrics, as a plain dict a run stores and prints.

Accuracy alone hides what imbalance does to a model, so the report always carries
per-class precision, recall and F1, their macro averages, ROC-AUC and the confusion matrix.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor
from torchmetrics.functional import classification as tmf


def classification_report(logits: Tensor, targets: Tensor, classes: list[str]) -> dict[str, Any]:
    """Every classification metric of the run, from logits and integer targets."""
    n = len(classes)
    probs = logits.float().softmax(1)
    kwargs = {"num_classes": n, "validate_args": False}
    report: dict[str, Any] = {
        "samples": int(len(targets)),
        "accuracy": tmf.multiclass_accuracy(probs, targets, average="micro", **kwargs).item(),
        "macro_precision": tmf.multiclass_precision(probs, targets, average="macro", **kwargs).item(),
        "macro_recall": tmf.multiclass_recall(probs, targets, average="macro", **kwargs).item(),
        "macro_f1": tmf.multiclass_f1_score(probs, targets, average="macro", **kwargs).item(),
        "roc_auc": _roc_auc(probs, targets, n),
    }
    if n > 5:
        report["top5_accuracy"] = tmf.multiclass_accuracy(probs, targets, average="micro", top_k=5, **kwargs).item()
    per_class = {
        "precision": tmf.multiclass_precision(probs, targets, average=None, **kwargs),
        "recall": tmf.multiclass_recall(probs, targets, average=None, **kwargs),
        "f1": tmf.multiclass_f1_score(probs, targets, average=None, **kwargs),
        "support": torch.bincount(targets, minlength=n),
    }
    report["per_class"] = {
        name: {metric: float(values[i]) if metric != "support" else int(values[i])
               for metric, values in per_class.items()}
        for i, name in enumerate(classes)
    }
    report["confusion_matrix"] = tmf.multiclass_confusion_matrix(probs, targets, **kwargs).tolist()
    return report


def _roc_auc(probs: Tensor, targets: Tensor, num_classes: int) -> float | None:
    """Macro one-vs-rest ROC-AUC over the classes present; None when fewer than two are."""
    present = torch.unique(targets)
    if len(present) < 2:
        return None
    if num_classes == 2:
        return tmf.binary_auroc(probs[:, 1], targets).item()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_class = tmf.multiclass_auroc(probs, targets, num_classes=num_classes, average=None)
    return per_class[present].mean().item()


def report_table(report: dict[str, Any], title: str = "test") -> "rich.table.Table":  # noqa: F821
    """A rich table: one row per class, then the averages."""
    from rich.table import Table

    table = Table(title=f"{title} ({report['samples']} samples)", header_style="bold")
    for column in ("class", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, row in report["per_class"].items():
        table.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    table.add_section()
    table.add_row("macro", f"{report['macro_precision']:.3f}", f"{report['macro_recall']:.3f}",
                  f"{report['macro_f1']:.3f}", str(report["samples"]))
    extras = [f"accuracy {report['accuracy']:.4f}"]
    if "top5_accuracy" in report:
        extras.append(f"top-5 {report['top5_accuracy']:.4f}")
    if report["roc_auc"] is not None:
        extras.append(f"ROC-AUC {report['roc_auc']:.4f}")
    if "entity_f1" in report:
        extras.append(f"entity F1 {report['entity_f1']:.4f}")
    table.caption = "  ".join(extras)
    return table
