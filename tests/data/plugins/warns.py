"""A local plugin whose losses warn as a library would, one of them then refusing its options."""

import warnings

from taskkit import hookimpl
from taskkit.errors import BadInputError


def warns_then_refuses():
    """Warns, then refuses: the refusal alone must reach the user."""
    warnings.warn("a library's caution about something", UserWarning)
    raise BadInputError("this loss refuses the run's options")


def warns():
    """Warns, then works: cross-entropy."""
    import torch

    warnings.warn("a library's caution about something", UserWarning)
    return torch.nn.CrossEntropyLoss()


@hookimpl
def tk_register_losses(losses):
    losses.register("warns-then-refuses")(warns_then_refuses)
    losses.register("warns")(warns)
