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

from taskkit.storage.atomic import atomic_write
from taskkit.errors import BadInputError, describe
from taskkit.storage.files import WEIGHTS
from taskkit.storage.runs import COUNT, INDEX, LIST, NUMBER, OBJECT, check_fields


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
    weights = Path(run_dir) / WEIGHTS
    if not weights.is_file():
        raise BadInputError(f"{run_dir} has no {WEIGHTS}; it has not finished an epoch")
    load_fitting(model, load_weights(weights), weights, "the model in run.json")
    return model.eval()


def load_fitting(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Path | str, expected: str) -> None:
    """Load `state` into `model`, or say in one line how it differs: a file copied from another
    task's or another architecture's run would otherwise fail in torch's many-line message."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if len(missing) == len(own):
        detail = f"none of its {len(own)} tensors is in the file (which has e.g. {', '.join(list(state)[:3]) or 'nothing'})"
    elif missing:
        detail = f"{len(missing)} of its {len(own)} tensors are not in the file, e.g. {', '.join(missing[:3])}"
    elif extra:
        detail = f"the file has {len(extra)} tensors it does not, e.g. {', '.join(extra[:3])}"
    else:
        wrong = next((k for k, t in own.items() if tuple(state[k].shape) != tuple(t.shape)), None)
        if wrong is None:
            model.load_state_dict(state)
            return
        shape = lambda t: "x".join(map(str, t.shape)) or "a scalar"  # noqa: E731
        detail = f"{wrong} is {shape(state[wrong])} in the file but {shape(own[wrong])} in the model"
    raise BadInputError(f"{source} does not fit {expected}: {detail}; was it written by another run?")


def save_state(state: dict[str, Any], path: Path) -> None:
    """Write resumable training state (model, optimizer, scheduler, RNG, epoch)."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


#: What `_restore` needs from a last.ckpt, besides the optional EMA and gradient scaler.
RESUMABLE_KEYS = ("model", "optimizer", "scheduler", "rng", "fit")


def load_state(path: Path) -> dict[str, Any]:
    """Read resumable state safely; a file that is not a checkpoint is a bad-input error."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BadInputError(f"no checkpoint at {path}") from None
    except Exception as exc:
        raise BadInputError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})") from None


def load_training_state(path: Path) -> dict[str, Any]:
    """A run's last.ckpt, checked to hold everything resuming restores, each of the kind it
    restores into (another file put in its place, or one edited, would otherwise fail on a
    missing key or deep inside torch's loaders)."""
    saved = load_state(path)
    absent = [k for k in RESUMABLE_KEYS if not isinstance(saved, dict) or k not in saved]
    if absent:
        raise BadInputError(f"{path} is not a tk training checkpoint (it has no '{absent[0]}'); {RESUME_ADVICE}")
    check_fields(saved, CHECKPOINT_FIELDS, path, RESUME_ADVICE)
    _check_rng(saved["rng"], path)
    return saved


RESUME_ADVICE = "resume from the last.ckpt a run wrote"
_TENSOR = ("a tensor", lambda v: isinstance(v, torch.Tensor))
_TENSORS = ("an object of tensors", lambda v: isinstance(v, dict) and all(isinstance(t, torch.Tensor) for t in v.values()))
_SEQUENCE = ("a list", lambda v: isinstance(v, (list, tuple)))
_OPTIONAL_NUMBER = ("a number or null", lambda v: v is None or NUMBER[1](v))
_OPTIONAL_COUNT = ("a whole number above 0 or null", lambda v: v is None or COUNT[1](v))
#: The fields `_restore` and the fit state read from a last.ckpt (see `Checkpointer.state_dict`).
CHECKPOINT_FIELDS = (
    ("model", _TENSORS, True), ("optimizer", OBJECT, True), ("optimizer.state", OBJECT, True),
    ("optimizer.param_groups", LIST, True), ("scheduler", OBJECT, True), ("ema", OBJECT, False),
    ("scaler", OBJECT, False), ("fit", OBJECT, True), ("fit.epoch", INDEX, True), ("fit.global_step", INDEX, True),
    ("fit.history", LIST, True), ("fit.best_value", _OPTIONAL_NUMBER, True), ("fit.best_epoch", _OPTIONAL_COUNT, True),
    ("rng", OBJECT, True), ("rng.python", _SEQUENCE, True), ("rng.numpy", OBJECT, True), ("rng.torch", _TENSOR, True),
)


def _check_rng(state: dict[str, Any], path: Path) -> None:
    """The random states set on throwaway generators first, so one that does not fit is named
    before resuming touches the real ones."""
    numpy = state["numpy"]
    try:
        random.Random().setstate(_as_tuple(state["python"]))
        np.random.RandomState().set_state(("MT19937", numpy["keys"].numpy().astype(np.uint32), numpy["pos"],
                                           numpy["has_gauss"], numpy["gauss"]))
        torch.Generator().set_state(state["torch"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise BadInputError(f"{path}: 'rng' does not hold the random states tk saves ({describe(exc)}); "
                            f"{RESUME_ADVICE}") from None


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
