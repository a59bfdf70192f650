"""Built-in ResNet backbones (He et al., 2016), laid out so torchvision weights load as they are.

The implementation imports torch and lives in `models.py`; this module loads it only when the
backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.resnet import models

    backbones.register("resnet18", aliases=("resnet",))(models.ResNet18)
    backbones.register("resnet34")(models.ResNet34)
    backbones.register("resnet50")(models.ResNet50)
