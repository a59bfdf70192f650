"""Built-in AlexNet backbone (Krizhevsky et al., 2012), laid out so torchvision weights load.

The implementation imports torch and lives in `models.py`; this module loads it only when the
backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.alexnet import models

    backbones.register("alexnet")(models.AlexNet)
