"""A local plugin whose hooks end the process: `sys.exit(7)` after registering one loss, and a
bare `SystemExit` while tasks are registered, which every `tk` command reads."""

import sys

from taskkit import hookimpl


class ExitLoss:
    """Registered just before the hook calls sys.exit."""


@hookimpl
def tk_register_losses(losses):
    losses.register("exit-loss")(ExitLoss)
    sys.exit(7)


@hookimpl
def tk_register_tasks(tasks):
    raise SystemExit
