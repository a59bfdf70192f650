"""Tokenizers by name, trained ones included, as training, a saved run and an exported model build them.

Most tokenizers are fixed rules (`words`, `chars`); a trainable one (`bpe`, `wordpiece`, or a
plugin's) learns from the training split, which core recognises by its `fit` method alone, so it
knows no tokenizer by name. What a trainable tokenizer learned is its `state()` (text), saved in
the run's model spec as `tokenizer_state` and in an export's JSON as `tokenizer.state`; every
later use builds the tokenizer from that state, never refits, so a text is cut as training cut
it. No torch here: `tk predict model.onnx` builds its tokenizer through this module.
"""

from __future__ import annotations

from typing import Any, Callable

from taskkit.errors import BadInputError

Tokenize = Callable[[str], list[str]]
RESTORE = "restore the file or train the run again"


def is_trainable(tokenize: Tokenize) -> bool:
    """Whether the tokenizer learns from the training split (it has a `fit(texts)` method)."""
    return callable(getattr(tokenize, "fit", None))


def build_tokenizer(name: str, state: str | None = None, **options: Any) -> Tokenize:
    """The registered tokenizer `name`, given `state` only when there is one (fixed tokenizers take none)."""
    from taskkit.registries import TOKENIZERS

    return TOKENIZERS.build(name, **options, **({} if state is None else {"state": state}))


def saved_tokenizer(name: str, state: str | None, **options: Any) -> Tokenize:
    """A tokenizer as a run or an export recorded it: a trainable one without its state is refused,
    since fitting it again here would learn other pieces than the model was trained on."""
    tokenize = build_tokenizer(name, state, **options)
    if state is None and is_trainable(tokenize):
        raise BadInputError(f"tokenizer '{name}' is trained on a run's data, but its trained state was not saved")
    return tokenize


def run_tokenizer(spec: dict[str, Any]) -> Tokenize:
    """The tokenizer a run's model spec describes (`tokenizer`, and `tokenizer_state` for a trained one),
    a broken state told in one line naming run.json."""
    name, state = spec["tokenizer"], spec.get("tokenizer_state")
    source = getattr(spec, "source", "run.json")
    if state is None:
        tokenize = build_tokenizer(name)
        if is_trainable(tokenize):
            raise BadInputError(f"{source} has no 'model.tokenizer_state' field, which tokenizer '{name}' is "
                                f"built from; {RESTORE}")
        return tokenize
    try:
        return build_tokenizer(name, state)
    except BadInputError as exc:
        raise BadInputError(f"{source}: 'model.tokenizer_state': {exc}; {RESTORE}") from None


def saved_state(tokenize: Tokenize) -> dict[str, str]:
    """What a run's model spec records of a tokenizer: `{"tokenizer_state": ...}` for a trained one, else nothing."""
    return {"tokenizer_state": tokenize.state()} if is_trainable(tokenize) else {}  # type: ignore[attr-defined]
