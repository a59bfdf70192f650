"""Texts into the inputs of an exported token model, and its answers back, as its JSON says, without torch.

The tokenizer comes from the tokenizer registry by the name the JSON records (the registry
and the built-in tokenizers import no torch), a trained one (`bpe`, `wordpiece`) built from the
state the JSON holds, and the ids follow `taskkit.text.ids`, the rule training used, so a text
reaches the ONNX file as the same ids it reached the run with. A
tagger's JSON asks for the lookup in lower case (`lowercase_lookup`) while its tokens keep
their case, as `tk predict` on its run shows them.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from taskkit.text.ids import text_ids
from taskkit.text.tokenizing import saved_tokenizer

BATCH = 256  # texts per session call, as `tk predict RUN` batches them


def token_rows(info: dict[str, Any], texts: list[str]) -> list[list[str]]:
    """Each text's tokens as the model reads them: tokenized and cut at the maximum length."""
    tokenize = tokenizer(info["tokenizer"])
    return [tokenize(text)[: info["max_len"]] for text in texts]


def token_ids(info: dict[str, Any], rows: list[list[str]]) -> list[list[int]]:
    index = {token: i for i, token in enumerate(info["vocabulary"])}
    lower = bool(info.get("lowercase_lookup", False))
    return [text_ids([t.lower() for t in row] if lower else row, index, info["unknown_id"], info["max_len"])
            for row in rows]


def padded(rows: list[list[int]], padding_id: int) -> dict[str, np.ndarray]:
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    tokens = np.full((len(rows), int(lengths.max())), padding_id, dtype=np.int64)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = row
    return {"tokens": tokens, "lengths": lengths}


def tokenizer(settings: dict[str, Any]) -> Callable[[str], list[str]]:
    """The registered tokenizer, with the lowercase setting the run had where it has one, and a
    trained tokenizer built from its saved `state` (refused without one: refitting is impossible here)."""
    options = {} if settings.get("lowercase") is None else {"lowercase": settings["lowercase"]}
    return saved_tokenizer(settings["name"], settings.get("state"), **options)


def text_logits(session: Any, info: dict[str, Any], texts: list[str]) -> np.ndarray:
    """`[N, classes]` scores of a text classifier, in the order given."""
    ids = token_ids(info, token_rows(info, texts))
    return np.concatenate([session.run(["logits"], padded(ids[start:start + BATCH], info["padding_id"]))[0]
                           for start in range(0, len(ids), BATCH)])


def text_tags(session: Any, info: dict[str, Any], texts: list[str]) -> list[tuple[list[str], list[str]]]:
    """Each text's tokens and the best tag of each, in the order given."""
    rows = token_rows(info, texts)
    ids, classes, tags = token_ids(info, rows), info["classes"], []
    for start in range(0, len(ids), BATCH):
        best = session.run(["logits"], padded(ids[start:start + BATCH], info["padding_id"]))[0].argmax(-1)
        tags += [[classes[j] for j in best[i, :len(row)].tolist()] for i, row in enumerate(rows[start:start + BATCH])]
    return list(zip(rows, tags))
