"""ONNX through torch's TorchScript-based exporter, which needs no package beyond `onnx`;
onnxruntime runs the file for the check after the export."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from taskkit.errors import BadInputError
from taskkit.export.formats import ExportFormat, quiet_native_warnings, quiet_tracing, write_file

OPSET = 17


class Onnx(ExportFormat):
    """ONNX (opset 17): runs in onnxruntime and most serving stacks, with no torch."""

    suffix = ".onnx"

    def write(self, model: nn.Module, sample: dict[str, torch.Tensor], target: Path, axes: Any) -> None:
        if importlib.util.find_spec("onnx") is None:  # the exporter writes through it
            raise BadInputError("--format onnx needs onnx: pip install 'taskkit[onnx]'")
        if any(isinstance(m, nn.MaxUnpool2d) for m in model.modules()):  # the exporter would print its graph, then fail
            raise BadInputError("torch's ONNX exporter has no max-unpooling, which this model's segnet decoder "
                                "uses; use --format torchscript")
        with quiet_tracing(), quiet_native_warnings(), warnings.catch_warnings():
            # The exporter's cautions (that a recurrent network's batch size may be baked in, that
            # it folded no constant) are answered by the check after the export, which runs other sizes.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
            write_file(target, "ONNX", lambda tmp: torch.onnx.export(
                model, tuple(sample.values()), str(tmp), dynamo=False, input_names=list(sample),
                output_names=["logits"], dynamic_axes=axes, opset_version=OPSET), instead="torchscript")

    def run(self, target: Path, inputs: dict[str, torch.Tensor]) -> Any:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BadInputError("checking an ONNX export needs onnxruntime: pip install 'taskkit[onnx]'") from None
        session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
        return session.run(["logits"], {name: value.numpy() for name, value in inputs.items()})[0]
