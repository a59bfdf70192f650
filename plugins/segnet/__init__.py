"""Built-in SegNet encoders: `segnet_vgg16` and `segnet_small`, backbones that record max-pooling indices.

The `segnet` decoder unpools with those indices. The implementation imports torch and
lives in `models.py`; this module loads it only when the backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.segnet import models

    backbones.register("segnet_vgg16")(models.SegNetVGG16)
    backbones.register("segnet_small")(models.SegNetSmall)
