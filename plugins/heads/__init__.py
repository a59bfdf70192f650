"""Built-in classification heads: `linear`, `mlp` and NiN-style `gap`.

Each reads the last feature map of a backbone. The implementations import torch and live in
`models.py`; this module loads them only when the heads registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_heads(heads):
    from taskkit.plugins.heads import models

    heads.register("linear")(models.LinearHead)
    heads.register("mlp")(models.MLPHead)
    heads.register("gap")(models.GAPHead)
