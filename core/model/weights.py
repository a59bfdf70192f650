"""Pretrained weights into a backbone: read the usual checkpoint files, match names, report.

A fine-tune starts from someone else's file: safetensors, a PyTorch state dict or training
checkpoint, a timm or torchvision checkpoint of a whole classifier, or a tk run. Names rarely
agree exactly (a `module.` or `backbone.` prefix, a classifier the backbone lacks), so tensors
are matched by name under the few rules that cover these, the first convolution adapts to
the number of input channels, and everything else must fit: a backbone tensor missing from
the file, or of another shape, is an error naming it. A fine-tune from partly random weights
looks as if it worked and does not.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from taskkit.errors import BadInputError, describe, one_line
from taskkit.storage.files import RUN_RECORD, WEIGHTS

_TRUE = ("1", "true", "yes", "on")
#: Where the usual classifiers keep their last layers; such tensors are skipped as "the old classifier".
CLASSIFIER_PREFIXES = ("fc.", "classifier.", "head.", "heads.", "last_linear.", "aux1.", "aux2.", "AuxLogits.")
#: A backbone's own auxiliary classifiers (GoogLeNet's): sized for the new classes, so they start afresh.
AUXILIARY_PREFIXES = ("aux1.", "aux2.", "AuxLogits.")
#: Prefixes a file may put before the backbone's own names.
FILE_PREFIXES = ("backbone.", "model.", "encoder.", "body.")

KeyOf = Callable[[str, dict[str, Tensor]], "str | None"]


def offline() -> bool:
    """Whether the user asked for no downloads (`TK_OFFLINE=1` or Hugging Face's `HF_HUB_OFFLINE=1`)."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE for var in ("TK_OFFLINE", "HF_HUB_OFFLINE"))


def fetch_refused(label: str, reason: str) -> BadInputError:
    """The one-line error for published weights that cannot be downloaded."""
    return BadInputError(
        f"could not fetch the pretrained weights of {label} ({one_line(reason)}); "
        f"download them where the network is reachable and pass --weights FILE"
    )


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a `.safetensors` file or a `.pth`/`.pt` state dict (read with `weights_only`).

    A training checkpoint that wraps its weights under `state_dict` or `model` is unwrapped,
    and a `module.` prefix left by DataParallel is dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no weights file at {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BadInputError(f"{path} is not a readable weights file ({describe(exc)})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state or not all(isinstance(v, Tensor) for v in state.values()):
        raise BadInputError(f"{path} does not hold a state dict (names to tensors)")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def is_run_dir(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / RUN_RECORD).is_file()


def read_run_weights(run_dir: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """A tk run's trained weights (backbone and head, as saved) and its run.json record."""
    from taskkit.storage.runs import read_run

    run_dir = Path(run_dir)
    record = read_run(run_dir)
    if not isinstance(record.get("model"), dict) or "backbone" not in record["model"]:
        raise BadInputError(f"{run_dir} is not an image run with a backbone (task '{record.get('task')}')")
    weights = run_dir / WEIGHTS
    if not weights.is_file():
        raise BadInputError(f"{run_dir} has no {WEIGHTS}; it has not finished an epoch")
    return read_state_dict(weights), record


def fetch_torchvision_state(model_name: str, label: str) -> dict[str, Tensor]:
    """torchvision's published ImageNet weights of `model_name` (downloaded once into torch's cache)."""
    if offline():
        raise fetch_refused(label, "offline: TK_OFFLINE or HF_HUB_OFFLINE is set")
    from torchvision.models import get_model_weights

    try:
        with quiet_download():
            return get_model_weights(model_name).DEFAULT.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:
        raise fetch_refused(label, describe(exc)) from None


@contextlib.contextmanager
def quiet_download():
    """Silence torch.hub's "Downloading ..." line, which goes to stdout and would break `--json`."""
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
        yield


def adapt_input_weight(weight: Tensor, in_channels: int) -> Tensor:
    """A first convolution's weight for `in_channels` inputs, keeping its response to grey images.

    One channel gets the sum over the original channels (a grey image then excites each
    filter as its colour version did); more channels repeat the originals, scaled down.
    """
    have = weight.shape[1]
    if have == in_channels:
        return weight
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeated = weight.repeat(1, -(-in_channels // have), 1, 1)[:, :in_channels]
    return repeated * (have / in_channels)


@dataclass
class WeightsReport:
    """What a load did: tensors loaded and adapted, and the file's tensors left out with why."""

    source: str
    target: str
    loaded: int
    adapted: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> names in the file

    def summary(self) -> str:
        text = f"loaded {self.loaded} tensors of {self.target} from {self.source}"
        if self.adapted:
            text += f"; adapted {', '.join(self.adapted)} to the input channels"
        for reason, names in self.skipped.items():
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            text += f"; skipped {len(names)} ({reason}): {shown}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "loaded": self.loaded, "adapted": self.adapted,
                "skipped": {reason: names for reason, names in self.skipped.items()}}


def load_into(module: nn.Module, state: dict[str, Tensor], source: str, target: str,
              key_of: KeyOf | None = None, hint: str = "") -> WeightsReport:
    """Fill every tensor of `module` from `state`, or raise naming the first tensor that does not fit.

    Names are looked up through `key_of` (a backbone's own rule, such as timm's flattened
    feature names) or else under the prefix rule that matches the most names. A BatchNorm
    `num_batches_tracked` the file lacks keeps its value. `hint` ends shape errors.
    """
    own = module.state_dict()
    lookup = key_of or _best_prefix_rule(list(own), state)
    first_conv = next((k for k, v in own.items() if v.dim() == 4), None)
    loaded, adapted, missing, used = {}, [], [], set()
    for key, tensor in own.items():
        source_key = lookup(key, state)
        fresh = key.startswith(AUXILIARY_PREFIXES)
        if fresh and (source_key is None or state[source_key].shape != tensor.shape):
            loaded[key] = tensor
            continue
        if source_key is None:
            if key.endswith("num_batches_tracked"):
                loaded[key] = tensor
            else:
                missing.append(key)
            continue
        value = state[source_key]
        if key == first_conv and value.dim() == 4 and value.shape[0] == tensor.shape[0] \
                and value.shape[2:] == tensor.shape[2:] and value.shape[1] != tensor.shape[1]:
            value = adapt_input_weight(value, tensor.shape[1])
            adapted.append(key)
        if value.shape != tensor.shape:
            raise BadInputError(f"{source} does not fit {target}: {key} is {_shape(value)} in the file "
                                f"but {_shape(tensor)} in the backbone{hint}")
        loaded[key] = value
        used.add(source_key)
    if missing:
        count = len([k for k in own if not k.endswith("num_batches_tracked") and not k.startswith(AUXILIARY_PREFIXES)])
        if len(missing) == count:
            raise BadInputError(f"{source} does not fit {target}: none of its {count} tensors is in the file "
                                f"(the file has e.g. {', '.join(list(state)[:3])}); is it another architecture?")
        raise BadInputError(f"{source} does not fit {target}: {len(missing)} of its {count} tensors are not in "
                            f"the file, e.g. {', '.join(missing[:3])}")
    module.load_state_dict(loaded, strict=True)
    return WeightsReport(source, target, len(loaded), adapted, _skipped(state, used))


def _best_prefix_rule(own_keys: list[str], state: dict[str, Tensor]) -> KeyOf:
    """The name rule (identity, a file prefix, or dropping the backbone's own first part) matching most."""
    rules: list[KeyOf] = [lambda k, s: k if k in s else None]
    for prefix in FILE_PREFIXES:
        rules.append(lambda k, s, p=prefix: p + k if p + k in s else None)
    heads = {k.split(".", 1)[0] for k in own_keys}
    if len(heads) == 1 and all("." in k for k in own_keys):
        rules.append(lambda k, s: k.split(".", 1)[1] if k.split(".", 1)[1] in s else None)
    return max(rules, key=lambda rule: sum(rule(k, state) is not None for k in own_keys))


def _skipped(state: dict[str, Tensor], used: set[str]) -> dict[str, list[str]]:
    skipped: dict[str, list[str]] = {}
    for key in state:
        if key in used:
            continue
        bare = next((key[len(p):] for p in FILE_PREFIXES if key.startswith(p)), key)
        reason = ("the old classifier; the head is new" if key.startswith(CLASSIFIER_PREFIXES)
                  or bare.startswith(CLASSIFIER_PREFIXES) else "not in the backbone")
        skipped.setdefault(reason, []).append(key)
    return skipped


def _shape(tensor: Tensor) -> str:
    return "x".join(str(d) for d in tensor.shape) or "a scalar"
