"""Built-in GoogLeNet backbone (Szegedy et al., 2014), laid out so torchvision weights load as they are.

The implementation imports torch and lives in `models.py`; this module loads it only when the
backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.googlenet import models

    backbones.register("googlenet", aliases=("inception_v1",))(models.GoogLeNet)
