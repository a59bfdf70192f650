"""How predictions are shown: one line per input with its top labels (or its tagged tokens), or JSON.

`tk predict` on a run and on an exported ONNX file answer in the same words, so a script
reading either output does not need to know which one produced it; the JSON is strict
(`taskkit.report.json_output`), so a NaN probability reads as null.
"""

from __future__ import annotations

from typing import Any

import typer

from taskkit.report.json_output import echo_json


def print_top_labels(results: list[dict[str, Any]], as_json: bool) -> None:
    """`results` are `{"file": ..., "predictions": [{"label": ..., "probability": ...}, ...]}`,
    with `"text"` in place of `"file"` for a text."""
    if as_json:
        echo_json(results)
        return
    for item in results:
        shown = ", ".join(f"{p['label']} {p['probability']:.2f}" for p in item["predictions"])
        typer.echo(f"{item['text'] if 'text' in item else item['file']}: {shown}")


def print_tags(texts: list[str], tagged: list[tuple[list[str], list[str]]], as_json: bool) -> None:
    """Each text's tokens with their tags, `John/B-PER lives/O`, or JSON `{"text", "tokens", "tags"}`."""
    if as_json:
        echo_json([{"text": text, "tokens": tokens, "tags": tags[: len(tokens)]}
                   for text, (tokens, tags) in zip(texts, tagged)])
        return
    for tokens, tags in tagged:
        typer.echo(" ".join(f"{token}/{tag}" for token, tag in zip(tokens, tags)))
