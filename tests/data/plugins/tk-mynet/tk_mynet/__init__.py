"""taskkit plugin: the `mynet` backbone and the `poly1` loss."""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from tk_mynet.components import MyNet

    backbones.register("mynet")(MyNet)


@hookimpl
def tk_register_losses(losses):
    from tk_mynet.components import Poly1Loss

    losses.register("poly1")(Poly1Loss)
