"""A local plugin whose hook name is misspelt, which must be reported, not ignored."""

from taskkit import hookimpl


@hookimpl
def tk_register_backbone(backbones):
    backbones.register("never")(object)
