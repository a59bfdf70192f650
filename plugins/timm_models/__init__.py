"""Every timm model as a backbone, named `timm/<name>` (e.g. `timm/convnext_tiny`).

The names are read without importing timm or torch; `models.py` imports timm only when a
model is built.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.timm_models import models

    models.register(backbones)
