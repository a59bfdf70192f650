"""Built-in Xception backbone (Chollet, 2017), written from the paper: torchvision has none.

The implementation imports torch and lives in `models.py`; this module loads it only when the
backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.xception import models

    backbones.register("xception")(models.Xception)
