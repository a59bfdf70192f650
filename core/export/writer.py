"""`tk export RUN --format onnx|torchscript`: a trained image or text run in a standard format.

The model file gets a JSON beside it with everything a deployment needs to feed it: for an
image run the input's channels, size and layout, the normalisation (pixels / 255, then
per-channel mean and std), and the class names; for a text run what `taskkit.export.text`
lists (tokenizer, vocabulary, ids, classes). The export is then checked against the PyTorch
model on sample inputs (onnxruntime runs the ONNX file), and the largest difference is
reported. ONNX uses torch's TorchScript-based exporter, which needs no package beyond `onnx`;
onnxruntime is only needed for the check.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from taskkit.storage.atomic import atomic_write
from taskkit.errors import BadInputError, describe
from taskkit.export.text import TEXT_AXES, TEXT_TASKS, text_batches, text_preprocessing
from taskkit.storage.runs import read_run

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
IMAGE_TASKS = ("classify", "finetune", "segment")
OPSET = 17
TOLERANCE = 1e-4


def export_run(run_dir: Path, fmt: str, out: Path | None = None, dynamic_batch: bool = False) -> dict[str, Any]:
    """Write the run's model as `fmt` (to `out`, default RUN/model.<ext>) and its preprocessing JSON;
    returns what was written and the largest difference from the PyTorch model."""
    from taskkit.registries import TASKS

    if fmt not in FORMATS:
        raise BadInputError(f"--format must be onnx or torchscript, got '{fmt}'")
    record = read_run(run_dir)
    if record["task"] not in IMAGE_TASKS + TEXT_TASKS:
        raise BadInputError(f"tk export takes image runs ({', '.join(IMAGE_TASKS)}) and text runs; {run_dir} is a "
                            f"{record['task']} run: predict with the run directory itself")
    target = Path(out) if out is not None else Path(run_dir) / f"model{FORMATS[fmt]}"
    sidecar = target.with_name(target.name + ".json")  # model.onnx.json: one per exported file
    for path in (target, sidecar):
        if path.exists():
            raise BadInputError(f"{path} already exists; choose another --out (an existing file is never replaced)")
    # In eval mode, wrapper and all: a new module starts in training mode, and tracing or exporting
    # it so would record batch statistics instead of BatchNorm's running ones.
    model = _Logits(TASKS.get(record["task"]).load_model(Path(run_dir), record)).eval()
    text = record["task"] in TEXT_TASKS
    checks, axes = _checks(record, dynamic_batch)
    (_onnx if fmt == "onnx" else _torchscript)(model, checks[0], target, axes)
    difference = max(_difference(fmt, target, model, inputs) for inputs in checks)
    info = text_preprocessing(record, fmt, target) if text else preprocessing(record, fmt, target, dynamic_batch)
    atomic_write(sidecar, lambda tmp: tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n",
                                                     encoding="utf-8"))
    result = {"model": str(target), "preprocessing": str(sidecar), "format": fmt, "max_abs_difference": difference,
              "within_tolerance": difference <= TOLERANCE,
              "checked_batches": [len(next(iter(c.values()))) for c in checks]}
    if text:
        result["checked_lengths"] = [c["lengths"].tolist() for c in checks]
    return result


def _checks(record: dict[str, Any], dynamic_batch: bool) -> tuple[list[dict[str, torch.Tensor]], Any]:
    """The named inputs an export is checked on (the first is traced) and the axes it leaves dynamic."""
    spec = record["model"]
    if record["task"] in TEXT_TASKS:
        return text_batches(spec), TEXT_AXES
    checks = [{"images": _sample_inputs(spec, batch=2)}]
    if not dynamic_batch:
        return checks, None
    checks.append({"images": _sample_inputs(spec, batch=3, seed=1)})
    return checks, {"images": {0: "batch"}, "logits": {0: "batch"}}


def preprocessing(record: dict[str, Any], fmt: str, target: Path, dynamic_batch: bool) -> dict[str, Any]:
    """What a deployment needs to feed the model and read its answer, without tk or torch."""
    spec = record["model"]
    height, width = spec.get("input_size") or (spec["img_size"], spec["img_size"])
    return {"task": record["task"], "format": fmt, "file": target.name,
            "input": {"name": "images", "layout": "NCHW", "channels": spec["in_channels"], "height": height,
                      "width": width, "batch": "dynamic" if dynamic_batch else 2, "dtype": "float32",
                      "scale": 1 / 255, "mean": spec["mean"], "std": spec["std"],
                      "how": "resize to height x width, divide by 255, subtract mean and divide by std per channel"},
            "output": {"name": "logits", "meaning": "per-pixel class scores [N, classes, H, W]"
                       if record["task"] == "segment" else "class scores [N, classes]; softmax for probabilities"},
            "classes": spec["classes"]}


def _sample_inputs(spec: dict[str, Any], batch: int, seed: int = 0) -> torch.Tensor:
    height, width = spec.get("input_size") or (spec["img_size"], spec["img_size"])
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, spec["in_channels"], height, width, generator=generator)


class _Logits(nn.Module):
    """The model with its plain logits as the only output, as an exported graph needs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        output = self.model(*inputs)
        return getattr(output, "logits", output)


def _onnx(model: nn.Module, sample: dict[str, torch.Tensor], target: Path, axes: Any) -> None:
    if importlib.util.find_spec("onnx") is None:  # the exporter writes through it
        raise BadInputError("--format onnx needs onnx: pip install 'taskkit[onnx]'")
    if any(isinstance(m, nn.MaxUnpool2d) for m in model.modules()):  # the exporter would print its graph, then fail
        raise BadInputError("torch's ONNX exporter has no max-unpooling, which this model's segnet decoder uses; "
                            "use --format torchscript")
    with _quiet_tracing(), _quiet_native_warnings(), warnings.catch_warnings():
        # The exporter's cautions (that a recurrent network's batch size may be baked in, that
        # it folded no constant) are answered by the check after the export, which runs other sizes.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        _write(target, "ONNX", lambda tmp: torch.onnx.export(
            model, tuple(sample.values()), str(tmp), dynamo=False, input_names=list(sample),
            output_names=["logits"], dynamic_axes=axes, opset_version=OPSET))


def _torchscript(model: nn.Module, sample: dict[str, torch.Tensor], target: Path, axes: Any) -> None:
    """Traced: the trace records the sizes it reads as operations, so a dynamic axis stays dynamic
    (the check runs the file on other sizes to prove it)."""
    with _quiet_tracing(), torch.no_grad():
        _write(target, "TorchScript", lambda tmp: torch.jit.trace(
            model, tuple(sample.values()), check_trace=False).save(str(tmp)))


def _write(target: Path, what: str, write: Any) -> None:
    """Write atomically; a model the exporter cannot follow is bad input, told in one line."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(target, write)
    except Exception as exc:  # an operator without a counterpart, control flow a trace cannot record
        other = "torchscript" if what == "ONNX" else "onnx"
        raise BadInputError(f"this model cannot be exported to {what}: {describe(exc)}; try --format {other}") from None


def _quiet_tracing() -> Any:
    """Tracing warns about shapes it records as constants, as the fixed input size intends, and
    that it is deprecated in favour of torch.export; neither is for the user to act on."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore", torch.jit.TracerWarning)
    warnings.simplefilter("ignore", FutureWarning)
    return stack


@contextlib.contextmanager
def _quiet_native_warnings() -> Any:
    """Silence what torch's C++ side prints straight to stderr while exporting: for packed
    sequences, that shape inference of its packing nodes is missing, which the check after the
    export shows to be harmless. Errors still arrive, as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@torch.no_grad()
def _difference(fmt: str, target: Path, model: nn.Module, inputs: dict[str, torch.Tensor]) -> float:
    """Largest absolute difference between the exported model's logits and PyTorch's on `inputs`."""
    expected = model(*inputs.values())
    if fmt == "torchscript":
        with _quiet_tracing():
            got = torch.jit.load(str(target))(*inputs.values())
        return float((got - expected).abs().max())
    try:
        import onnxruntime as ort
    except ImportError:
        raise BadInputError("checking an ONNX export needs onnxruntime: pip install 'taskkit[onnx]'") from None
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {name: value.numpy() for name, value in inputs.items()})[0]
    return float((torch.from_numpy(got) - expected).abs().max())
