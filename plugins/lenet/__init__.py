"""Built-in LeNet-5 backbone (LeCun et al., 1998), for digits and other small images.

The implementation imports torch and lives in `models.py`; this module loads it only when the
backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.lenet import models

    backbones.register("lenet")(models.LeNet)
