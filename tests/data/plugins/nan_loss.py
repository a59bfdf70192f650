"""A local plugin whose loss turns NaN after a set number of calls, to exercise the NaN guard."""

from taskkit import hookimpl


def nan_after(calls: int = 100):
    """Cross-entropy that returns NaN from call `calls` on."""
    import torch.nn.functional as F

    count = {"n": 0}

    def loss(logits, target):
        count["n"] += 1
        value = F.cross_entropy(logits, target)
        return value * float("nan") if count["n"] > calls else value

    return _Module(loss)


def _Module(fn):
    import torch

    class Wrapped(torch.nn.Module):
        def forward(self, logits, target):
            return fn(logits, target)

    return Wrapped()


@hookimpl
def tk_register_losses(losses):
    losses.register("nan-after")(nan_after)
