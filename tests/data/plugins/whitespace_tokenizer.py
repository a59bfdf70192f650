"""A local plugin that adds a tokenizer, to show text tasks take tokenizers from plugins."""

from taskkit import hookimpl


def whitespace(lowercase: bool = True):
    """Split on whitespace only, so punctuation stays on its word."""
    return lambda text: (text.lower() if lowercase else text).split()


@hookimpl
def tk_register_tokenizers(tokenizers):
    tokenizers.register("whitespace")(whitespace)
