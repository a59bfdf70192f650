"""What `tk export` needs for a task whose model reads token ids: the batches it is checked on,
the axes left dynamic, and the JSON a deployment feeds the model by.

A text model reads `tokens [batch, length]` (ids padded with the padding id) and `lengths
[batch]` (each text's real token count), and texts differ in length, so both axes are always
dynamic; `--dynamic-batch` changes nothing here. Each recurrent encoder reads packed
sequences, which torch's TorchScript-based ONNX exporter writes as ONNX recurrent ops given
each text's length, so the backward direction starts at each text's own end; tracing for
TorchScript records sizes as they are read, so the traced file follows any length too. Both
claims are checked on every export: the batches differ from the traced one in size and
length, mix lengths within a batch, and one is padded past its longest text.

The JSON holds everything needed to feed the model without tk: the tokenizer and its lowercase
setting (a tagger splits on words and keeps their case, looking each up in lower case when
its run did), a trained tokenizer's state (`bpe`, `wordpiece`: the Hugging Face `tokenizers`
JSON, which `tokenizers.Tokenizer.from_str` reads), the maximum length, the padding and
unknown ids and the vocabulary.
"""

from __future__ import annotations

from typing import Any

import torch

from taskkit.sequence import PAD_ID, UNK_ID

TOKEN_AXES = {"tokens": {0: "batch", 1: "length"}, "lengths": {0: "batch"}}
#: Text lengths of the check batches (each capped at the run's maximum length); the first is traced.
LENGTHS = ((7, 3, 5), (2, 9, 4, 1), (1,), (12, 6, 12, 3, 8))
#: Padding past each batch's longest text, as a deployment padding to a fixed width would add.
EXTRA_PADDING = (0, 0, 0, 3)


def token_batches(spec: dict[str, Any], outputs: str, dynamic_batch: bool) -> tuple[list[dict[str, torch.Tensor]], Any]:
    """The check batches and the dynamic axes: batch and length always, and for per-token
    answers (`tags`) the length of the logits too. `dynamic_batch` changes nothing here."""
    logits = {0: "batch", 1: "length"} if outputs == "tags" else {0: "batch"}
    return text_batches(spec), {**TOKEN_AXES, "logits": logits}


def text_batches(spec: dict[str, Any], seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """The check batches: random ids (the unknown one included) of mixed lengths, padded."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for lengths, extra in zip(LENGTHS, EXTRA_PADDING):
        capped = torch.tensor([min(n, spec["max_len"]) for n in lengths])
        tokens = torch.full((len(capped), int(capped.max()) + extra), PAD_ID, dtype=torch.long)
        for row, n in enumerate(capped.tolist()):
            tokens[row, :n] = torch.randint(UNK_ID, len(spec["vocabulary"]), (n,), generator=generator)
        batches.append({"tokens": tokens, "lengths": capped})
    return batches


def token_preprocessing(spec: dict[str, Any], dynamic_batch: bool) -> dict[str, Any]:
    """What a deployment needs to turn texts into the model's inputs."""
    tokenizer = tokenizer_settings(spec["tokenizer"]) if "tokenizer" in spec else {"name": "words",
                                                                                     "lowercase": False}
    if "tokenizer_state" in spec:  # a trained tokenizer (bpe, wordpiece) is rebuilt from what it learned
        tokenizer["state"] = spec["tokenizer_state"]
    return {"inputs": [{"name": "tokens", "shape": ["batch", "length"], "dtype": "int64",
                        "how": "each text's ids, padded with padding_id to the longest text of the batch"},
                       {"name": "lengths", "shape": ["batch"], "dtype": "int64",
                        "how": "each text's number of ids before the padding (at least 1)"}],
            "tokenizer": tokenizer, "lowercase_lookup": bool(spec.get("lowercase", False)),
            "max_len": spec["max_len"], "padding_id": PAD_ID, "unknown_id": UNK_ID,
            "how": "tokenize, keep the first max_len tokens, replace each by its position in vocabulary "
                   "(lower-cased first where lowercase_lookup is true; unknown_id where it is absent); "
                   "a text with no token is one unknown_id",
            "vocabulary": spec["vocabulary"]}


def tokenizer_settings(name: str) -> dict[str, Any]:
    """The tokenizer's registered name and the lowercase default the run tokenized with (None
    where the tokenizer has no such option)."""
    from taskkit.registries import TOKENIZERS

    lowercase = TOKENIZERS.entry(name).options().get("lowercase")
    return {"name": name, "lowercase": lowercase if isinstance(lowercase, bool) else None}
