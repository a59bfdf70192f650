"""Built-in SqueezeNet 1.1 backbone (Iandola et al., 2016), laid out so torchvision weights load.

`squeezenet` is version 1.1 (alias `squeezenet1_1`); pair it with the `gap` head. The
implementation imports torch and lives in `models.py`; this module loads it only when the
backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.squeezenet import models

    backbones.register("squeezenet", aliases=("squeezenet1_1",))(models.SqueezeNet)
