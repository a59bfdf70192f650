"""The classical baseline beside a network's test score, in one line.

A network is worth its cost only when it beats the simple model that needs no GPU and no
tuning; the line puts the two side by side so that nobody reads the network's score alone.
A task stores its baseline's scores under `baseline` in its test report and in run.json:
`{"method": ..., "accuracy": ..., "macro_f1": ..., "seconds": ...}` (a tagger adds `entity_f1`).
"""

from __future__ import annotations

from typing import Any

#: The scores compared, in the order shown: the report's key and how the line names it.
COMPARED = (("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("entity_f1", "entity F1"))


def baseline_line(report: dict[str, Any]) -> str | None:
    """`baseline (METHOD): accuracy 0.767, macro-F1 0.760; the network: +1.4 and +1.2 points`,
    or None when the report has no baseline (`--no-baseline`)."""
    baseline = report.get("baseline")
    if not baseline:
        return None
    keys = [(key, words) for key, words in COMPARED if baseline.get(key) is not None and report.get(key) is not None]
    scores = ", ".join(f"{words} {baseline[key]:.4f}" for key, words in keys)
    gaps = " and ".join(f"{100 * (report[key] - baseline[key]):+.1f}" for key, _ in keys)
    return f"baseline ({baseline['method']}): {scores}; the network: {gaps} points"
