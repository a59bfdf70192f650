"""The classical baseline beside a network's test score, in one line.

A network is worth its cost only when it beats the simple model that needs no GPU and no
tuning; the line puts the two side by side so that nobody reads the network's score alone.
A task stores its baseline's scores under `baseline` in its test report and in run.json:
`{"method": ..., "accuracy": ..., "macro_f1": ..., "seconds": ...}` (a tagger adds `entity_f1`).
A model made of parts (a text network blended with a linear n-gram model) stores each part's
scores under `parts`, `{name: {"share": ..., "accuracy": ..., "macro_f1": ...}}`, so its line
says what each part weighs and is worth alone.
"""

from __future__ import annotations

from typing import Any

#: The scores compared, in the order shown: the report's key and how the line names it.
COMPARED = (("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("entity_f1", "entity F1"))


def baseline_line(report: dict[str, Any]) -> str | None:
    """`baseline (METHOD): accuracy 0.767, macro-F1 0.760; the model: +1.4 and +1.2 points`,
    or None when the report has no baseline (`--no-baseline`)."""
    baseline = report.get("baseline")
    if not baseline:
        return None
    keys = [(key, words) for key, words in COMPARED if baseline.get(key) is not None and report.get(key) is not None]
    scores = ", ".join(f"{words} {baseline[key]:.4f}" for key, words in keys)
    gaps = " and ".join(f"{100 * (report[key] - baseline[key]):+.1f}" for key, _ in keys)
    return f"baseline ({baseline['method']}): {scores}; the model: {gaps} points"


def parts_line(report: dict[str, Any]) -> str | None:
    """`the model mixes the network (share 0.4: accuracy 0.747, macro-F1 0.741) and ... (share 0.6: ...)`,
    or None when the model is one part."""
    parts = report.get("parts")
    if not parts:
        return None
    shown = []
    for name, scores in parts.items():
        share = f"share {scores['share']:.1f}: " if scores.get("share") is not None else ""
        figures = ", ".join(f"{words} {scores[key]:.4f}" for key, words in COMPARED if scores.get(key) is not None)
        shown.append(f"{name} ({share}{figures})")
    return f"the model mixes {' and '.join(shown)}"
