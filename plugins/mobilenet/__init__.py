"""Built-in MobileNet backbones (Howard et al., 2017; Sandler et al., 2018).

The implementation imports torch and lives in `models.py`; this module loads it only when the
backbones registry is read. `mobilenet` names the newer v2.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.mobilenet import models

    backbones.register("mobilenet_v1")(models.MobileNetV1)
    backbones.register("mobilenet_v2", aliases=("mobilenet",))(models.MobileNetV2)
