"""What `--json` prints: strict JSON, where a number that is not finite becomes null.

Python's `json` writes NaN and infinity as `NaN` and `Infinity`, which no JSON parser is obliged
to read; a model with NaN weights or a zero standard deviation gives such numbers. They are
printed as null instead, and one warning on stderr says how many and where the first was, so
a script reading the output never fails to parse it and a person still learns something is wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

import typer


def echo_json(value: Any) -> None:
    """Print `value` as indented JSON on stdout (any non-finite number as null, with a warning)."""
    typer.echo(json_text(value))


def json_text(value: Any) -> str:
    """`value` as indented JSON; a non-finite number becomes null and is told once on stderr."""
    replaced: list[str] = []
    text = json.dumps(_finite(value, "", replaced), indent=2, ensure_ascii=False, allow_nan=False)
    if replaced:
        count = f"{len(replaced)} numbers were" if len(replaced) > 1 else "1 number was"
        typer.echo(f"warning: {count} not finite (NaN or infinity) and printed as null, the first at "
                   f"{replaced[0] or 'the top'}; check the model's weights and the statistics it normalises with",
                   err=True)
    return text


def _finite(value: Any, where: str, replaced: list[str]) -> Any:
    """`value` with every float that is NaN or infinite replaced by None; where each was goes
    into `replaced`, as a path such as `[0].predictions[1].probability`."""
    if isinstance(value, float) and not math.isfinite(value):
        replaced.append(where)
        return None
    if isinstance(value, dict):
        return {key: _finite(item, f"{where}.{key}" if where else str(key), replaced) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item, f"{where}[{i}]", replaced) for i, item in enumerate(value)]
    return value
