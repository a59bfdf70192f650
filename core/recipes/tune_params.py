"""`tk tune --param NAME=DIST(ARGS)`: the search space, one task option per param.

A param names a task option (as `--help` spells it, with dashes or underscores) and the
distribution optuna samples it from: `loguniform(a,b)`, `uniform(a,b)`, `int(a,b)`,
`intlog(a,b)` or `choice(v1,v2,...)`. Each is checked against the task command's own options
before any trial starts, so a typo costs one line, not a study.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from taskkit.errors import BadInputError

DISTRIBUTIONS = ("loguniform", "uniform", "int", "intlog", "choice")
#: Task options that tk tune sets for each trial, or that steer a command rather than a run.
RESERVED = {"out", "name", "config", "resume", "json"}
SPEC = re.compile(r"^\s*([A-Za-z][\w-]*)\s*=\s*([A-Za-z_]+)\s*\((.*)\)\s*$")


@dataclass(frozen=True)
class Param:
    """One `--param`: the task option it sets (`name`, spelt `flag` on the command line) and the
    distribution its values come from: (low, high) for numbers, the values for `choice`."""

    name: str
    flag: str
    kind: str
    bounds: tuple

    def suggest(self, trial: Any) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.bounds))
        if self.kind in ("int", "intlog"):
            return trial.suggest_int(self.name, *self.bounds, log=self.kind == "intlog")
        return trial.suggest_float(self.name, *self.bounds, log=self.kind == "loguniform")

    def grid_values(self) -> list:
        if self.kind in ("int", "intlog"):
            return list(range(self.bounds[0], self.bounds[1] + 1))
        if self.kind != "choice":
            raise BadInputError(f"--sampler grid takes only choice(...) and int(...) params, and '{self.name}' "
                                f"is {self.kind}(...); use --sampler tpe or random")
        return list(self.bounds)


def parse_param(text: str, command: Any, task_args: list[str]) -> Param:
    """A `--param NAME=DIST(ARGS)` checked against the task command's options; bad input says which."""
    def bad(why: str) -> BadInputError:
        return BadInputError(f"--param '{text}': {why}")

    match = SPEC.match(text)
    if match is None:
        raise bad("expected NAME=DISTRIBUTION(ARGS), e.g. 'lr=loguniform(1e-4,1e-1)'")
    name, kind, inner = match.groups()
    if kind not in DISTRIBUTIONS:
        close = difflib.get_close_matches(kind, DISTRIBUTIONS, n=1)
        raise bad(f"unknown distribution '{kind}'; {f'did you mean {close[0]!r}? ' if close else ''}"
                  f"use {', '.join(DISTRIBUTIONS)}")
    values = [v.strip() for v in inner.split(",")]
    if kind == "choice" and "" in values:
        raise bad("choice needs one or more values separated by commas, none of them empty")
    bounds = tuple(values) if kind == "choice" else _numeric_bounds(kind, values, bad)
    option = _task_option(name, command, bad)
    if {arg.split("=", 1)[0] for arg in task_args} & {*option.opts, *option.secondary_opts}:
        raise bad(f"{option.opts[0]} is also among the task options; give it once, as the param or as an option")
    return Param(option.name, next((o for o in option.opts if o.startswith("--")), option.opts[0]), kind, bounds)


def _numeric_bounds(kind: str, values: list[str], bad: Any) -> tuple:
    whole = kind.startswith("int")
    if len(values) != 2:
        raise bad(f"{kind} takes two bounds, {kind}(LOW,HIGH)")
    try:
        low, high = (int(v) if whole else float(v) for v in values)
    except ValueError:
        raise bad(f"{kind} bounds must be {'whole numbers' if whole else 'numbers'}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise bad(f"the low bound must be below the high one, got {low} and {high}")
    if kind in ("loguniform", "intlog") and low <= 0:
        raise bad(f"{kind} bounds must be positive")
    return low, high


def _task_option(name: str, command: Any, bad: Any) -> Any:
    """The task command's option spelt `name` (dashes or underscores), if tuning it makes sense."""
    spellings = {spelling.replace("-", "_"): param for param in command.params
                 if getattr(param, "param_type_name", "") == "option"
                 for spelling in (param.name, *(o.lstrip("-") for o in param.opts))}
    option = spellings.get(name.replace("-", "_"))
    if option is None:
        known = sorted({p.name.replace("_", "-") for p in spellings.values()} - RESERVED)
        close = difflib.get_close_matches(name.replace("_", "-"), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ";"
        raise bad(f"tk {command.name} has no option '{name}'{hint} see `tk {command.name} --help`")
    if option.name in RESERVED:
        raise bad(f"{option.opts[0]} is not a hyperparameter (tk tune sets it for each trial)")
    if getattr(option, "is_flag", False):
        raise bad(f"{option.opts[0]} is an on/off flag, which tk tune cannot sample; "
                  "compare a study with it and one without")
    return option
