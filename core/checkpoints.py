"""Weights as safetensors, resumable state as a torch file, every write atomic.

A crash or a full disk in the middle of a write must never leave a half-written file where a
good one was: each file is written beside its destination, flushed to disk, then renamed
over it in one step. Resumable state is read back with `weights_only=True`, so a checkpoint
can hold tensors and plain values but never code.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from taskkit.atomic import atomic_write
from taskkit.errors import BadInputError, describe


def save_weights(state_dict: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write a state dict as safetensors (tensors made contiguous and unshared first)."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors. The format holds tensors and nothing else, so reading it
    never runs code; anything else in its place (a pickle, a cut-off write) is bad input."""
    try:
        return load_file(str(path))
    except Exception as exc:
        raise BadInputError(f"{path} is not a readable safetensors file ({describe(exc)})") from None


def load_run_weights(model: torch.nn.Module, run_dir: Path) -> torch.nn.Module:
    """`model` with a run's best weights (`model.safetensors`), in eval mode.

    A run that never finished an epoch, or weights that do not fit the model its run.json
    describes, are bad input named in one line.
    """
    weights = Path(run_dir) / "model.safetensors"
    if not weights.is_file():
        raise BadInputError(f"{run_dir} has no model.safetensors; it has not finished an epoch")
    try:
        model.load_state_dict(load_weights(weights))
    except RuntimeError as exc:
        raise BadInputError(f"{weights} does not fit the model in run.json ({str(exc).splitlines()[0]})") from None
    return model.eval()


def save_state(state: dict[str, Any], path: Path) -> None:
    """Write resumable training state (model, optimizer, scheduler, RNG, epoch)."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_state(path: Path) -> dict[str, Any]:
    """Read resumable state safely; a file that is not a checkpoint is a bad-input error."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BadInputError(f"no checkpoint at {path}") from None
    except Exception as exc:
        raise BadInputError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})") from None


def rng_state() -> dict[str, Any]:
    """Every random generator a training step touches, in a form `weights_only` can load."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_as_tuple(state["python"]))
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["keys"].numpy().astype(np.uint32), numpy["pos"],
                         numpy["has_gauss"], numpy["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    """`random.setstate` needs tuples where a round trip may have produced lists."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value
