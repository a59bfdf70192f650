"""A local plugin that prints at import and in its hooks, as a careless plugin does."""

from taskkit import hookimpl

print("noisy: imported")


class NoisyLoss:
    """A loss from a plugin that talks on stdout."""


@hookimpl
def tk_register_losses(losses):
    print("noisy: registering losses")
    losses.register("noisy-loss")(NoisyLoss)


@hookimpl
def tk_register_tasks(tasks):
    print("noisy: registering tasks")


@hookimpl
def tk_add_commands(app):
    print("noisy: adding commands")
