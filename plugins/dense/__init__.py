"""Built-in dense backbones: `linear` (softmax regression) and `mlp` (a multilayer perceptron).

They flatten the image and so need its size up front (`img_size`). The implementations import
torch and live in `models.py`; this module loads them only when the backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.dense import models

    backbones.register("linear")(models.LinearBackbone)
    backbones.register("mlp")(models.MLPBackbone)
