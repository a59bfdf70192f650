"""Faster training steps a run opts into: mixed precision, channels-last memory, torch.compile.

Each is settled once before training and reaches the loop as a field of `StepOptions` or as
the module the loop trains, so a run that asks for none of them runs the plain loop. What
cannot work on this machine is said before training, in one line, rather than at step 1.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

import torch
from torch import nn

from taskkit.errors import BadInputError

log = logging.getLogger("taskkit")

PRECISIONS = ("auto", "32", "bf16-mixed", "16-mixed")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise BadInputError(f"--precision must be auto, 32, bf16-mixed or 16-mixed, got '{precision}'")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of `precision` on `device`; None trains in float32.

    `auto` is mixed precision on CUDA (bfloat16 where the GPU has it, else float16) and full
    precision elsewhere, where mixed precision is often slower than float32.
    """
    check_precision(precision)
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}[precision]


def grad_scaler(dtype: torch.dtype | None, device: torch.device) -> torch.amp.GradScaler | None:
    """A gradient scaler for float16, whose small range would flush small gradients to zero."""
    return torch.amp.GradScaler(device.type) if dtype is torch.float16 else None


def to_channels_last(model: nn.Module) -> nn.Module:
    """Convolution weights in NHWC order, in place; the loop gives the images the same layout."""
    return model.to(memory_format=torch.channels_last)


def compile_model(model: nn.Module, device: torch.device) -> nn.Module:
    """`model` through torch.compile, or `model` itself, with a one-line warning, where it cannot be.

    The compiled module is a wrapper for training only: checkpoints, the weight average and
    evaluation keep using `model`, whose parameters it shares, so their names never change.
    """
    reason = _cannot_compile(device)
    if reason is not None:
        log.warning("--compile: %s; training without compiling", reason)
        return model
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # "no CUDA runtime" on a CPU build
    return CompiledWithFallback(model)


def _cannot_compile(device: torch.device) -> str | None:
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return "torch.compile does not support this Python or platform"
    if device.type == "cpu" and not (os.environ.get("CXX") or any(shutil.which(c) for c in ("c++", "g++", "clang++"))):
        return "compiling for the CPU needs a C++ compiler, and none is on PATH (install g++ or clang, or set CXX)"
    return None


class CompiledWithFallback(nn.Module):
    """The compiled model, which goes back to the plain one, once and with a warning, if compiling fails.

    torch.compile compiles at the first call (and again for a new input shape), so that is
    where an operation it cannot follow shows up; training then goes on without it.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        object.__setattr__(self, "compiled", torch.compile(model))  # not a submodule: its parameters are model's

    def forward(self, *inputs: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*inputs)
            except Exception as exc:  # a backend or tracing failure; a real error recurs below
                object.__setattr__(self, "compiled", None)
                log.warning("--compile: compiling the model failed (%s); training without compiling",
                            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
        return self.model(*inputs)
