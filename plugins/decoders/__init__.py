"""Built-in segmentation decoders, registered as heads: `fcn` (8s), `fcn16s`, `fcn32s`, `unet`, `segnet`, `psp`.

Decoders read all of a backbone's feature maps, not only the last, and give per-pixel
logits at the input's size (see `models.py`); `tk segment` assembles them. The
implementations import torch and load only when the heads registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_heads(heads):
    from taskkit.plugins.decoders import models

    heads.register("fcn", aliases=("fcn8s",))(models.FCN)
    heads.register("fcn16s")(models.FCN16s)
    heads.register("fcn32s")(models.FCN32s)
    heads.register("unet")(models.UNet)
    heads.register("segnet")(models.SegNet)
    heads.register("psp", aliases=("pspnet",))(models.PSP)
