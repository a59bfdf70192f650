"""Built-in VGG backbones (Simonyan & Zisserman, 2014), laid out so torchvision weights load.

`vgg` names VGG-16. The implementation imports torch and lives in `models.py`; this module
loads it only when the backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.vgg import models

    backbones.register("vgg11")(models.VGG11)
    backbones.register("vgg13")(models.VGG13)
    backbones.register("vgg16", aliases=("vgg",))(models.VGG16)
    backbones.register("vgg11_bn")(models.VGG11BN)
    backbones.register("vgg13_bn")(models.VGG13BN)
    backbones.register("vgg16_bn")(models.VGG16BN)
