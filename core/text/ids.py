"""A text's token ids as a model reads them, with no torch: shared by training and deployment.

Training, `tk predict` on a run and `tk predict` on an exported ONNX file must turn a text into
the same ids, or the deployed model answers for a different input than the one it was checked
on; so the rule lives here once, in terms of a token-to-id mapping that an export records.
"""

from __future__ import annotations

from typing import Mapping


def text_ids(tokens: list[str], index: Mapping[str, int], unknown_id: int, max_len: int) -> list[int]:
    """Ids of the first `max_len` tokens, `unknown_id` for a token not in `index`; a text with no
    token becomes one unknown token, since a model reads at least one position."""
    return [index.get(token, unknown_id) for token in tokens[:max_len]] or [unknown_id]
