"""The files `tk plugin new` writes, as templates: pyproject.toml with the entry point, the README,
the plugin module with its hook, and one working component of each kind.

Placeholders: `$name`, `$kind`, `$plural` (the registry's hook word), `$package`, `$dist`,
`$symbol` (the component's Python name), `$summary` and `$try_it` (see `plugin_new.plan`).
"""

from string import Template

PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$summary"
requires-python = ">=3.10"
dependencies = ["taskkit"]

[project.optional-dependencies]
test = ["pytest"]

[project.entry-points.taskkit]
$name = "$package"

[tool.setuptools]
packages = ["$package"]
''')

README = Template('''\
# $dist

A taskkit plugin: the $kind `$name`.

```bash
pip install -e .
tk list $plural          # $name ... $name
tk info $name
$try_it
pytest                   # its tests, through taskkit's registries
```

`$package/__init__.py` holds the hook that registers it (keep heavy imports inside the hook, so
`tk --help` stays fast); `$package/components.py` holds the $kind itself.
''')

INIT = Template('''\
"""taskkit plugin: the $kind `$name`."""

from taskkit import hookimpl


@hookimpl
def tk_register_$plural($plural):
    from $package.components import $symbol

    $plural.register("$name")($symbol)
''')

COMPONENTS = {
    "backbone": Template('''\
"""The `$name` backbone; torch is imported here, not in the plugin module, to keep `tk` fast."""

from torch import nn


def conv_bn_relu(in_channels, out_channels, stride):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class $symbol(nn.Module):
    """A three-stage convolutional backbone: a stem and two stride-2 stages.

    The interface every task relies on: `stage_names`, `out_channels` and `reductions` (one
    entry per stage, stem first), `stages()` (what `--freeze N` counts) and `forward(x)`
    returning one feature map per stage. Add `img_size: int` to the options to be told the
    training image size.
    """

    def __init__(self, in_channels: int = 3, width: int = 16):
        super().__init__()
        self.stem = conv_bn_relu(in_channels, width, 1)
        self.stage1 = conv_bn_relu(width, 2 * width, 2)
        self.stage2 = conv_bn_relu(2 * width, 4 * width, 2)
        self.stage_names = ["stem", "stage1", "stage2"]
        self.out_channels = [width, 2 * width, 4 * width]
        self.reductions = [1, 2, 4]

    def stages(self):
        return [self.stem, self.stage1, self.stage2]

    def forward(self, x):
        maps = []
        for stage in self.stages():
            x = stage(x)
            maps.append(x)
        return maps
'''),
    "head": Template('''\
"""The `$name` head; torch is imported here, not in the plugin module, to keep `tk` fast."""

from torch import nn


class $symbol(nn.Module):
    """Global max pooling of the last feature map, then a linear layer.

    A classification head is built with `in_channels` (the backbone's last `out_channels`),
    `num_outputs` (the classes) and `dropout`, and is called with the list of maps the
    backbone returns, giving `[batch, num_outputs]` logits.
    """

    def __init__(self, in_channels: int, num_outputs: int, dropout: float = 0.0):
        super().__init__()
        self.pool = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_outputs)

    def forward(self, maps):
        return self.fc(self.dropout(self.pool(maps[-1])))
'''),
    "loss": Template('''\
"""The `$name` loss; torch is imported here, not in the plugin module, to keep `tk` fast."""

import torch
import torch.nn.functional as F
from torch import nn


class $symbol(nn.Module):
    """Poly-1 loss: cross-entropy plus epsilon * (1 - p_t) (Leng et al., 2022).

    A loss is an `nn.Module` called as `loss(logits, target)` with `[batch, classes]` logits
    and `[batch]` class numbers, returning a scalar.
    """

    def __init__(self, epsilon: float = 1.0):
        super().__init__()
        self.epsilon = epsilon

    def forward(self, logits, target):
        ce = F.cross_entropy(logits, target, reduction="none")
        p_t = torch.softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        return (ce + self.epsilon * (1 - p_t)).mean()
'''),
    "augmentation": Template('''\
"""The `$name` augmentation; albumentations is imported here, not in the plugin module."""

import albumentations as A


def $symbol(p: float = 0.5):
    """Turn the image upside down (rotate by 180 degrees) with probability p.

    An augmentation factory returns one albumentations transform. Its first option is the
    one a spec sets with `name=value` (`--aug $name=0.3`); geometric transforms move a
    segmentation mask with the image.
    """
    return A.Compose([A.HorizontalFlip(p=1.0), A.VerticalFlip(p=1.0)], p=p)
'''),
    "task": Template('''\
"""The `$name` task: a `tk $name` command of its own."""

import json

import typer


class $symbol:
    """Count the readable images of each class of a dataset."""

    @staticmethod
    def command(
        data: str = typer.Option("digits", "--data", help="A folder of class folders, a manifest or a named dataset."),
        as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    ) -> None:
        """Count the readable images of each class of --data (a task's command: its options are typer's)."""
        from taskkit.data.check import check_data

        counts = check_data(data)["classes"]
        if as_json:
            typer.echo(json.dumps(counts))
            return
        for name, count in counts.items():
            typer.echo(f"{name}\\t{count}")
'''),
}

#: The README's line that tries the component out, for each kind (`{name}` filled by str.format).
TRY = {
    "backbone": "tk classify --backbone {name} --epochs 1   # and finetune, segment",
    "head": "tk classify --head {name} --epochs 1",
    "loss": "tk classify --loss {name} --epochs 1",
    "augmentation": "tk aug preview --aug {name} --out grid.png",
    "task": "tk {name} --data digits",
}
