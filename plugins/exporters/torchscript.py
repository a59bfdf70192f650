"""Traced TorchScript: loads with `torch.jit.load` in Python or libtorch, no taskkit needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from taskkit.export.formats import ExportFormat, quiet_tracing, write_file


class TorchScript(ExportFormat):
    """TorchScript (traced): for libtorch and `torch.jit.load`.

    The trace records the sizes it reads as operations, so a dynamic axis stays dynamic (the
    check runs the file on other sizes to prove it)."""

    suffix = ".torchscript.pt"

    def write(self, model: nn.Module, sample: dict[str, torch.Tensor], target: Path, axes: Any) -> None:
        with quiet_tracing(), torch.no_grad():
            write_file(target, "TorchScript", lambda tmp: torch.jit.trace(
                model, tuple(sample.values()), check_trace=False).save(str(tmp)), instead="onnx")

    def run(self, target: Path, inputs: dict[str, torch.Tensor]) -> Any:
        with quiet_tracing(), torch.no_grad():
            return torch.jit.load(str(target))(*inputs.values())
