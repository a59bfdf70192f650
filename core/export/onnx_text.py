"""Texts into the inputs of an exported text model, as its JSON says, without torch.

The tokenizer comes from the tokenizer registry by the name the JSON records (the registry
and the built-in tokenizers import no torch), and the ids follow `taskkit.text.ids`, the rule
training used, so a text reaches the ONNX file as the same ids it reached the run with.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from taskkit.text.ids import text_ids

BATCH = 256  # texts per session call, as `tk predict RUN` batches them


def text_batches(info: dict[str, Any], texts: list[str]) -> Iterator[dict[str, np.ndarray]]:
    """`{"tokens": [B, T], "lengths": [B]}` int64 arrays for each batch of texts, in order."""
    tokenize = tokenizer(info["tokenizer"])
    index = {token: i for i, token in enumerate(info["vocabulary"])}
    ids = [text_ids(tokenize(text), index, info["unknown_id"], info["max_len"]) for text in texts]
    for start in range(0, len(ids), BATCH):
        yield padded(ids[start:start + BATCH], info["padding_id"])


def padded(rows: list[list[int]], padding_id: int) -> dict[str, np.ndarray]:
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    tokens = np.full((len(rows), int(lengths.max())), padding_id, dtype=np.int64)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = row
    return {"tokens": tokens, "lengths": lengths}


def tokenizer(settings: dict[str, Any]) -> Callable[[str], list[str]]:
    """The registered tokenizer, with the lowercase setting the run had where it has one."""
    from taskkit.registries import TOKENIZERS

    options = {} if settings.get("lowercase") is None else {"lowercase": settings["lowercase"]}
    return TOKENIZERS.build(settings["name"], **options)


def text_logits(session: Any, info: dict[str, Any], texts: list[str]) -> np.ndarray:
    return np.concatenate([session.run(["logits"], batch)[0] for batch in text_batches(info, texts)])
