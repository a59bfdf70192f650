"""Task options as data: each declared once, with its default, type, help and help panel.

A task lists its own options (and its values for shared defaults); `SHARED` holds what every
task takes. From that one declaration core builds the `tk TASK` command, reads and checks a
config file, checks `tk tune --param`, writes docs/cli.md and takes a plain Python call, so an
option shared by every task is added here and nowhere else. No torch or typer at import.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

from taskkit.errors import BadInputError

TRAINING, DATA, RUN = "Training", "Data", "Run"


@dataclass(frozen=True)
class Option:
    """One option: `name` as Python spells it, `--name-with-dashes` on the command line.

    `kind` is the value's type where the default cannot say (a None default); `flag` spells a
    boolean's pair (`--lowercase/--keep-case`); `meta` options steer a command (`--config`,
    `--resume`, `--json`) and are not part of what a run is, so config.yaml leaves them out.
    """

    name: str
    default: Any
    help: str
    panel: str = TRAINING
    kind: type | None = None
    flag: str | None = None
    metavar: str | None = None
    meta: bool = False

    @property
    def value_type(self) -> type:
        return self.kind or type(self.default)

    @property
    def flags(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")


class Options:
    """An ordered set of options; adding one with a name already present replaces it."""

    def __init__(self, *items: Option | Options | Iterable[Option]) -> None:
        self._options: dict[str, Option] = {}
        for item in items:
            for option in ([item] if isinstance(item, Option) else item):
                self._options[option.name] = option

    def __iter__(self) -> Iterator[Option]:
        return iter(self._options.values())

    def __contains__(self, name: str) -> bool:
        return name in self._options

    def __getitem__(self, name: str) -> Option:
        return self._options[name]

    def __len__(self) -> int:
        return len(self._options)

    def add(self, option: Option) -> None:
        """Add (or replace) an option in place: how a shared option reaches every task."""
        self._options[option.name] = option

    def with_defaults(self, defaults: dict[str, Any]) -> Options:
        """The same options with some defaults changed; a name not declared is a mistake in the task."""
        unknown = sorted(set(defaults) - set(self._options))
        if unknown:
            raise KeyError(f"defaults for undeclared options: {', '.join(unknown)}")
        return Options(replace(o, default=defaults[o.name]) if o.name in defaults else o for o in self)

    def without(self, *names: str) -> Options:
        """The same options less some, for a task that has no use for them."""
        return Options(o for o in self if o.name not in names)

    def defaults(self) -> dict[str, Any]:
        """Every option a run is made of, with its default (the meta options left out)."""
        return {o.name: _plain(o.default) for o in self if not o.meta}

    def resolve(self, explicit: dict[str, Any], from_file: dict[str, Any], source: str = "config") -> dict[str, Any]:
        """Defaults, overridden by the file's values (checked), overridden by what was given explicitly."""
        defaults = self.defaults()
        unknown = sorted(set(explicit) - set(defaults))
        if unknown:
            raise BadInputError(f"unknown option '{unknown[0]}'{_suggestion(unknown[0], defaults)}")
        merged = merge_options(defaults, {}, from_file, source)
        merged.update({k: _coerce(k, _plain(v), defaults[k], "the options given") for k, v in explicit.items()})
        return merged


#: Options a newer one replaced, still read from older config files: old name -> (new name, new value).
RENAMED = {"amp": ("precision", lambda on: "auto" if on else "32")}


def merge_options(defaults: dict[str, Any], explicit: dict[str, Any], from_file: dict[str, Any],
                  source: str = "config") -> dict[str, Any]:
    """Defaults, overridden by the file, overridden by what the command line set explicitly."""
    merged = dict(defaults)
    for key, value in from_file.items():
        if key not in defaults and key in RENAMED and RENAMED[key][0] in defaults:
            key, value = RENAMED[key][0], RENAMED[key][1](value)
        if key not in defaults:
            raise BadInputError(f"unknown option '{key}' in {source}{_suggestion(key, defaults)}")
        merged[key] = _coerce(key, value, defaults[key], source)
    merged.update(explicit)
    return merged


def _suggestion(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _plain(value: Any) -> Any:
    """Paths as strings, so config.yaml and run.json hold plain YAML and JSON values."""
    return str(value) if isinstance(value, Path) else value


def _coerce(key: str, value: Any, default: Any, source: str) -> Any:
    """Check a file's value against the type of the option's default."""
    if default is None or value is None:
        return value
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # `freeze: 3` for an option that also takes words (`all`)
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    raise BadInputError(
        f"option '{key}' in {source} should be {expected.__name__}, got {type(value).__name__} {value!r}"
    )


SHARED_TRAINING = Options(
    Option("optimizer", "adamw", "sgd, nesterov, adagrad, adadelta, rmsprop, adam or adamw."),
    Option("lr", 3e-3, "Peak learning rate."),
    Option("weight_decay", 1e-4, "L2 weight decay (never on norm or bias parameters)."),
    Option("momentum", 0.9, "Momentum for sgd, nesterov."),
    Option("scheduler", "warmup+cosine", "none, step, multistep, exponential, cosine, warmup+cosine, onecycle "
           "or plateau."),
    Option("warmup_epochs", 1.0, "Linear warm-up length for warmup+cosine."),
    Option("epochs", 10, "Number of epochs."),
    Option("batch_size", 32, "Samples per batch."),
    Option("clip_grad", 0.0, "Clip the gradient norm to this value (0: off)."),
    Option("accumulate", 1, "Batches per optimizer step (gradient accumulation)."),
    Option("patience", 0, "Stop after this many epochs without improvement (0: never)."),
    Option("l1", 0.0, "Add LAMBDA times the sum of |w| of the weights to the training loss (never norm or bias "
           "parameters; 0: off).", metavar="LAMBDA"),
    Option("ema", 0.0, "Keep a moving average of the weights, decaying by DECAY each step, and validate, save and "
           "test it (0: off; 0.999 is typical).", metavar="DECAY"),
    Option("seed", 0, "Random seed; CPU runs with the same seed are identical."),
    Option("device", "auto", "auto, cpu, cuda or mps."),
    Option("precision", "auto", "32, bf16-mixed or 16-mixed (fp16 with gradient scaling); auto: mixed on CUDA (bf16 "
           "where supported), 32 elsewhere."),
    Option("compile", False, "Compile the model with torch.compile (slow first steps; falls back to plain PyTorch, "
           "with a warning, where it cannot)."),
    Option("devices", 1, "Train in this many processes on this machine, one per GPU (or CPU processes), started "
      "through torchrun; see docs/distributed.md."),
)

SHARED_DATA = Options(
    Option("val_split", 0.1, "Fraction of the data for validation.", DATA),
    Option("test_split", 0.1, "Fraction of the data for testing.", DATA),
    Option("workers", "auto", "Data-loading worker processes, or auto: none for data held in memory, one per CPU "
           "core (at most 8) for images decoded from files in every epoch.", DATA),
)

SHARED_RUN = Options(
    Option("out", "runs", "Folder that holds run directories.", RUN, kind=Path),
    Option("name", None, "Run name (default: the task's name); a taken name gets -2, -3...", RUN, kind=str),
    Option("config", None, "YAML file of options, e.g. a run's config.yaml.", RUN, kind=Path, meta=True),
    Option("resume", None, "Continue a stopped run from its last checkpoint.", RUN, kind=Path, meta=True),
    Option("tensorboard", False, "Also log to TensorBoard.", RUN),
    Option("quiet", False, "No progress bar.", RUN),
    Option("json", False, "Print machine-readable results.", RUN, meta=True),
)

#: What every task takes; a task's own options come before these in `--help` and may replace one by name.
SHARED = Options(SHARED_TRAINING, SHARED_DATA, SHARED_RUN)
