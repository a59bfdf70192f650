"""Built-in ShuffleNet backbones (Zhang et al., 2017; Ma et al., 2018).

The implementation imports torch and lives in `models.py`; this module loads it only when the
backbones registry is read. `shufflenet` names the newer v2.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.shufflenet import models

    backbones.register("shufflenet_v1")(models.ShuffleNetV1)
    backbones.register("shufflenet_v2", aliases=("shufflenet",))(models.ShuffleNetV2)
