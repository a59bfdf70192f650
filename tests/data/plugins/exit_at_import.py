"""A local plugin that ends the process while it is imported: `sys.exit(3)` at module level."""

import sys

from taskkit import hookimpl

sys.exit(3)


@hookimpl
def tk_register_losses(losses):  # never reached: the import ends first
    losses.register("never-imported")(object)
