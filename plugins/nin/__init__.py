"""Built-in Network in Network backbone (Lin et al., 2013); pair it with the `gap` head.

The implementation imports torch and lives in `models.py`; this module loads it only when the
backbones registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.nin import models

    backbones.register("nin")(models.NiN)
