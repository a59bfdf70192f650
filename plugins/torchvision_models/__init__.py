"""Torchvision's classification models as backbones, named `tv/<name>` (e.g. `tv/resnet50`).

The names are read without importing torchvision or torch; `models.py` traces a model only
when it is built. `adapter.py` holds what this plugin shares with the timm adapter.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.torchvision_models import models

    models.register(backbones)
