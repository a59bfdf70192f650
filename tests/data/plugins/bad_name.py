"""A local plugin that registers a backbone under a number instead of a name, after one good
backbone, and a loss under a name with a space."""

from taskkit import hookimpl


class TidyNet:
    """Registered under a proper name before the bad one."""


class NumberNet:
    """Registered under 42."""


class SpacedLoss:
    """Registered under 'my loss'."""


@hookimpl
def tk_register_backbones(backbones):
    backbones.register("tidy_net")(TidyNet)
    backbones.register(42)(NumberNet)


@hookimpl
def tk_register_losses(losses):
    losses.register("my loss")(SpacedLoss)
