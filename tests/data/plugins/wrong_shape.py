"""A local plugin whose backbone says it gives 8 channels and gives 5: it fails inside training."""

from taskkit import hookimpl


def wrong_shape(in_channels: int = 3):
    """A one-stage backbone whose declared channels do not match what it returns."""
    import torch

    class WrongShape(torch.nn.Module):
        stage_names, out_channels, reductions = ["stem"], [8], [1]

        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Conv2d(in_channels, 5, 3, padding=1)

        def stages(self):
            return [self.stem]

        def forward(self, x):
            return [self.stem(x)]

    return WrongShape()


@hookimpl
def tk_register_backbones(backbones):
    backbones.register("wrong-shape")(wrong_shape)
