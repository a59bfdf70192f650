"""Where a run trains and how its steps are taken: the device `--device` names, and the
`StepOptions` that `--precision`, `--channels-last` and several processes make of it.
"""

from __future__ import annotations

import torch

from taskkit.errors import BadInputError
from taskkit.train import distributed, fast_paths, ranks
from taskkit.train.options import TrainOptions
from taskkit.train.regularize import Regularizer
from taskkit.train.step import StepOptions


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; asking for a missing device is bad input.

    Among processes started by torchrun, CUDA means the GPU of this process's local rank.
    """
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if ranks.distributed() and name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", ranks.local_rank())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": has_mps}
    if name.split(":")[0] not in available:
        raise BadInputError(f"--device must be auto, cpu, cuda or mps, got '{name}'")
    if not available[name.split(":")[0]]:
        raise BadInputError(f"--device {name} is not available on this machine; use --device auto or cpu")
    return torch.device(name)


def step_options(options: TrainOptions, device: torch.device, regularizer: Regularizer | None = None,
                 scaler: torch.amp.GradScaler | None = None) -> StepOptions:
    """How steps run: `--precision` (`auto`: mixed on CUDA, float32 elsewhere), `--channels-last`,
    and, among several processes, their reduction.

    `regularizer` and `scaler` are for training steps only; evaluation never mixes or scales.
    """
    return StepOptions(device=device, amp_dtype=fast_paths.autocast_dtype(options.precision, device), scaler=scaler,
                       channels_last=options.channels_last, accumulate=options.accumulate,
                       clip_grad=options.clip_grad or None, check_every=1 if device.type == "cpu" else 50,
                       regularizer=regularizer, reduce=distributed.reduce_sum if ranks.distributed() else None)
