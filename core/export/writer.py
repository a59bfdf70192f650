"""`tk export RUN --format NAME`: a trained run's model in a standard format, checked.

Nothing here knows a task by name. The run's task declares what its model reads (`inputs`:
images or token ids) and answers (`outputs`: labels, tags or masks); the input kind chooses
the batches the export is traced and checked on and the preprocessing written beside it, and
the output kind says what the logits mean. The format comes from the export-format registry,
so a plugin's task and a plugin's format export like the built-in ones.

The model file gets a JSON beside it with everything a deployment needs to feed it and read
its answer. The export is then run on every check batch and compared with the PyTorch model;
the largest difference is reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from taskkit.components import flag
from taskkit.errors import BadInputError
from taskkit.export.images import image_batches, image_preprocessing
from taskkit.export.tokens import token_batches, token_preprocessing
from taskkit.storage.atomic import atomic_write
from taskkit.storage.runs import read_run

TOLERANCE = 1e-4
#: Per input kind: the check batches with their dynamic axes, and the preprocessing JSON.
INPUTS = {"images": (image_batches, image_preprocessing), "tokens": (token_batches, token_preprocessing)}
#: Per output kind: what the exported `logits` mean.
MEANINGS = {"labels": "class scores [N, classes]; softmax for probabilities",
            "tags": "per-token tag scores [N, length, classes]; the best of each real token is its tag",
            "masks": "per-pixel class scores [N, classes, H, W]"}


def export_run(run_dir: Path, fmt: str, out: Path | None = None, dynamic_batch: bool = False) -> dict[str, Any]:
    """Write the run's model as `fmt` (to `out`, default RUN/model<suffix>) and its preprocessing JSON;
    returns what was written and the largest difference from the PyTorch model."""
    from taskkit.registries import EXPORT_FORMATS, TASKS

    if fmt not in EXPORT_FORMATS:
        raise BadInputError(f"--format must be one of {', '.join(EXPORT_FORMATS.names())}, got '{fmt}'")
    record = read_run(run_dir)
    task = TASKS.get(record["task"])
    reads, answers = _kinds(task, record["task"], run_dir)
    exporter = EXPORT_FORMATS.build(fmt)
    target = Path(out) if out is not None else Path(run_dir) / f"model{exporter.suffix}"
    sidecar = target.with_name(target.name + ".json")  # model.onnx.json: one per exported file
    for path in (target, sidecar):
        if path.exists():
            raise BadInputError(f"{path} already exists; choose another --out (an existing file is never replaced)")
    batches, preprocessing = INPUTS[reads]
    checks, axes = batches(record["model"], answers, dynamic_batch)
    # In eval mode, wrapper and all: a new module starts in training mode, and tracing or exporting
    # it so would record batch statistics instead of BatchNorm's running ones.
    model = _Logits(task.load_model(Path(run_dir), record)).eval()
    exporter.write(model, checks[0], target, axes)
    difference = max(_difference(exporter, target, model, inputs) for inputs in checks)
    info = {"task": record["task"], "format": fmt, "file": target.name, "reads": reads, "answers": answers,
            **preprocessing(record["model"], dynamic_batch),
            "output": {"name": "logits", "meaning": MEANINGS[answers]}, "classes": record["model"]["classes"]}
    atomic_write(sidecar, lambda tmp: tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n",
                                                     encoding="utf-8"))
    result = {"model": str(target), "preprocessing": str(sidecar), "format": fmt, "max_abs_difference": difference,
              "within_tolerance": difference <= TOLERANCE,
              "checked_batches": [len(next(iter(c.values()))) for c in checks]}
    if "lengths" in checks[0]:
        result["checked_lengths"] = [c["lengths"].tolist() for c in checks]
    return result


def _kinds(task: Any, name: str, run_dir: Path) -> tuple[str, str]:
    """What the task's model reads and answers, refused in one line where export cannot follow it."""
    reads, answers = flag(task, "inputs"), flag(task, "outputs")
    if reads not in INPUTS or answers not in MEANINGS or not hasattr(task, "load_model"):
        raise BadInputError(f"tk export takes runs of tasks that declare what their model reads ({', '.join(INPUTS)}) "
                            f"and answers ({', '.join(MEANINGS)}) and can load it; {run_dir} is a {name} run "
                            f"that does not: predict with the run directory itself")
    return reads, answers


class _Logits(nn.Module):
    """The model with its plain logits as the only output, as an exported graph needs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        output = self.model(*inputs)
        return getattr(output, "logits", output)


@torch.no_grad()
def _difference(exporter: Any, target: Path, model: nn.Module, inputs: dict[str, torch.Tensor]) -> float:
    """Largest absolute difference between the exported model's logits and PyTorch's on `inputs`."""
    expected = model(*inputs.values())
    got = exporter.run(target, inputs)
    got = torch.from_numpy(np.asarray(got)) if not isinstance(got, torch.Tensor) else got
    if got.shape != expected.shape:
        return float("inf")
    return float((got.float() - expected.float()).abs().max())
