"""Task options as data: each declared once, with its default, type, help and help panel.

A task lists its own options (and its values for shared defaults); `SHARED` holds what every
task takes. From that one declaration core builds the `tk TASK` command, reads and checks a
config file, checks `tk tune --param`, writes docs/cli.md and takes a plain Python call, so an
option shared by every task is added here and nowhere else. No torch or typer at import.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

from taskkit.errors import BadInputError

TRAINING, DATA, RUN = "Training", "Data", "Run"


@dataclass(frozen=True)
class Range:
    """The numbers an option takes: from `low` to `high`, each end included unless it is open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def admits(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        """What a value must do, to follow "must": "be positive", "not be negative", "be in [0, 1)"."""
        if self.low == 0 and self.high is None:
            return "be positive" if self.low_open else "not be negative"
        if self.high is None:
            return f"be at least {_number(self.low)}"
        return (f"be in {'(' if self.low_open else '['}{_number(self.low)}, {_number(self.high)}"
                f"{')' if self.high_open else ']'}")


def _number(value: float | None) -> str:
    """A bound or value as a person writes it: 4294967295, not 4.29497e+09; 0.5, not 0.500000."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


POSITIVE = Range(0, low_open=True)
NOT_NEGATIVE = Range(0)
FRACTION = Range(0, 1, high_open=True)  # dropout, smoothing, a split's share: 1 would leave nothing
#: What NumPy's and torch's generators take as a seed.
SEED = Range(0, 2**32 - 1)


@dataclass(frozen=True)
class Option:
    """One option: `name` as Python spells it, `--name-with-dashes` on the command line.

    `kind` is the value's type where the default cannot say (a None default); `flag` spells a
    boolean's pair (`--lowercase/--keep-case`); `meta` options steer a command (`--config`,
    `--resume`, `--json`) and are not part of what a run is, so config.yaml leaves them out;
    `range` bounds a number.
    """

    name: str
    default: Any
    help: str
    panel: str = TRAINING
    kind: type | None = None
    flag: str | None = None
    metavar: str | None = None
    meta: bool = False
    range: Range | None = None
    #: Whether `--resume` may take a new value of it: how long and how verbosely to go on, not
    #: what the run is (its model, data and optimizer are in its checkpoint).
    resumable: bool = False

    def check(self, value: Any) -> None:
        """Refuse a value outside the option's range, and any number that is not finite (a NaN
        rate or decay would otherwise surface epochs later as a NaN loss)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        if not math.isfinite(value):
            raise BadInputError(f"{self.flags.split('/')[0]} must be a finite number, got {value}")
        if self.range is not None and not self.range.admits(value):
            raise BadInputError(f"{self.flags.split('/')[0]} must {self.range}, got {_number(value)}")

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

    def resolve(self, explicit: dict[str, Any], from_file: dict[str, Any], source: str = "config",
                resuming: bool = False) -> dict[str, Any]:
        """Defaults, overridden by the file's values (checked), overridden by what was given explicitly;
        `resuming` (the file is the resumed run's config.yaml) refuses a new value for what the run is."""
        defaults = self.defaults()
        unknown = sorted(set(explicit) - set(defaults))
        if unknown:
            raise BadInputError(f"unknown option '{unknown[0]}'{_suggestion(unknown[0], defaults)}")
        fixed = [name for name in explicit if resuming and not self._options[name].resumable]
        if fixed:
            flag = self._options[fixed[0]].flags.split("/")[0]
            raise BadInputError(f"{flag} cannot change when resuming (the run's checkpoint holds what it was); "
                                f"start a new run from its options with --config {Path(source).parent}/config.yaml "
                                f"{flag} ...")
        merged = merge_options(defaults, {}, from_file, source)
        merged.update({k: _coerce(k, _plain(v), defaults[k], "the options given") for k, v in explicit.items()})
        for name, value in merged.items():
            self._options[name].check(value)
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
    Option("lr", 3e-3, "Peak learning rate.", range=POSITIVE),
    Option("weight_decay", 1e-4, "L2 weight decay (never on norm or bias parameters).", range=NOT_NEGATIVE),
    Option("momentum", 0.9, "Momentum for sgd, nesterov.", range=FRACTION),
    Option("scheduler", "warmup+cosine", "none, step, multistep, exponential, cosine, warmup+cosine, onecycle "
           "or plateau."),
    Option("warmup_epochs", 1.0, "Linear warm-up length for warmup+cosine.", range=NOT_NEGATIVE),
    Option("epochs", 10, "Number of epochs.", range=POSITIVE, resumable=True),
    Option("batch_size", 32, "Samples per batch.", range=POSITIVE),
    Option("clip_grad", 0.0, "Clip the gradient norm to this value (0: off).", range=NOT_NEGATIVE),
    Option("accumulate", 1, "Batches per optimizer step (gradient accumulation).", range=POSITIVE),
    Option("patience", 0, "Stop after this many epochs without improvement (0: never).", range=NOT_NEGATIVE,
           resumable=True),
    Option("l1", 0.0, "Add LAMBDA times the sum of |w| of the weights to the training loss (never norm or bias "
           "parameters; 0: off).", metavar="LAMBDA", range=NOT_NEGATIVE),
    Option("ema", 0.0, "Keep a moving average of the weights, decaying by DECAY each step, and validate, save and "
           "test it (0: off; 0.999 is typical).", metavar="DECAY", range=FRACTION),
    Option("seed", 0, "Random seed; CPU runs with the same seed are identical.", range=SEED),
    Option("device", "auto", "auto, cpu, cuda or mps.", resumable=True),
    Option("precision", "auto", "32, bf16-mixed or 16-mixed (fp16 with gradient scaling); auto: mixed on CUDA (bf16 "
           "where supported), 32 elsewhere."),
    Option("compile", False, "Compile the model with torch.compile (slow first steps; falls back to plain PyTorch, "
           "with a warning, where it cannot)."),
    Option("devices", 1, "Train in this many processes on this machine, one per GPU (or CPU processes), started "
      "through torchrun; see docs/distributed.md.", resumable=True),
)

SHARED_DATA = Options(
    Option("val_split", 0.1, "Fraction of the data for validation.", DATA, range=FRACTION),
    Option("test_split", 0.1, "Fraction of the data for testing.", DATA, range=FRACTION),
    Option("workers", "auto", "Data-loading worker processes, or auto: none for data held in memory, one per CPU "
           "core (at most 8) for images decoded from files in every epoch.", DATA, resumable=True),
)

SHARED_RUN = Options(
    Option("out", "runs", "Folder that holds run directories.", RUN, kind=Path),
    Option("name", None, "Run name (default: the task's name); a taken name gets -2, -3...", RUN, kind=str),
    Option("config", None, "YAML file of options, e.g. a run's config.yaml.", RUN, kind=Path, meta=True),
    Option("resume", None, "Continue a stopped run from its last checkpoint.", RUN, kind=Path, meta=True),
    Option("tensorboard", False, "Also log to TensorBoard.", RUN, resumable=True),
    Option("quiet", False, "No progress bar.", RUN, resumable=True),
    Option("json", False, "Print machine-readable results.", RUN, meta=True),
)

#: What every task takes; a task's own options come before these in `--help` and may replace one by name.
SHARED = Options(SHARED_TRAINING, SHARED_DATA, SHARED_RUN)
