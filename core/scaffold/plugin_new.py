"""`tk plugin new`: write a plugin package that installs, registers one working component and tests it.

A new plugin author's first hour goes on the entry-point group, the hook names and the
interface a component must follow; the package written here has all three right, so the
first change they make is to the component itself. Each kind's example is small but real:
the backbone trains in every image task, the head and loss in classify, the augmentation in
any `--aug` spec, and the task gets its own `tk NAME` command.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from taskkit.errors import BadInputError

KINDS = ("backbone", "head", "loss", "augmentation", "task")
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

_PYPROJECT = Template('''\
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

_README = Template('''\
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

_INIT = Template('''\
"""taskkit plugin: the $kind `$name`."""

from taskkit import hookimpl


@hookimpl
def tk_register_$plural($plural):
    from $package.components import $symbol

    $plural.register("$name")($symbol)
''')

_COMPONENTS = {
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

_TESTS = {
    "backbone": Template('''\
"""Tests of the `$name` backbone through taskkit's registries."""

import json
import subprocess
import sys

import torch

from taskkit.registries import BACKBONES


def tk(*args):
    """`tk ARGS` in a fresh process, which reads the installed entry point as a user's `tk` does."""
    return subprocess.run([sys.executable, "-m", "taskkit", *args], capture_output=True, text=True)


def test_it_is_listed_with_its_plugin():
    result = tk("list", "backbones", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["$name"]["plugin"] == "$name"


def test_it_returns_one_map_per_stage():
    backbone = BACKBONES.build("$name", in_channels=1, width=4)
    maps = backbone(torch.zeros(2, 1, 16, 16))
    assert [m.shape[1] for m in maps] == backbone.out_channels
    assert [16 // m.shape[-1] for m in maps] == backbone.reductions
    assert len(backbone.stages()) == len(backbone.stage_names)
'''),
    "head": Template('''\
"""Tests of the `$name` head through taskkit's registries."""

import torch

from taskkit.registries import HEADS


def test_it_gives_one_logit_per_class():
    head = HEADS.build("$name", in_channels=8, num_outputs=3)
    logits = head([torch.zeros(2, 4, 8, 8), torch.randn(2, 8, 4, 4)])
    assert logits.shape == (2, 3)
'''),
    "loss": Template('''\
"""Tests of the `$name` loss through taskkit's registries."""

import torch
import torch.nn.functional as F

from taskkit.registries import LOSSES


def test_with_epsilon_0_it_is_cross_entropy():
    logits, target = torch.randn(8, 3), torch.randint(0, 3, (8,))
    assert torch.allclose(LOSSES.build("$name", epsilon=0.0)(logits, target), F.cross_entropy(logits, target))


def test_it_adds_the_missing_probability():
    logits, target = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    loss = LOSSES.build("$name", epsilon=1.0)(logits, target)
    assert torch.isclose(loss, F.cross_entropy(logits, target) + 0.5)
'''),
    "augmentation": Template('''\
"""Tests of the `$name` augmentation through taskkit's registries."""

import numpy as np

from taskkit.registries import AUGMENTATIONS


def test_with_p_1_it_turns_the_image_and_its_mask():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    mask = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.uint8)
    out = AUGMENTATIONS.build("$name", p=1.0)(image=image, mask=mask)
    assert (out["image"] == image[::-1, ::-1]).all() and (out["mask"] == mask[::-1, ::-1]).all()
'''),
    "task": Template('''\
"""Tests of the `tk $name` command."""

import json
import subprocess
import sys


def test_it_counts_the_digits_of_each_class():
    result = subprocess.run([sys.executable, "-m", "taskkit", "$name", "--data", "digits", "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert sorted(counts) == [str(d) for d in range(10)] and sum(counts.values()) == 1797
'''),
}

_TRY = {
    "backbone": "tk classify --backbone {name} --epochs 1   # and finetune, segment",
    "head": "tk classify --head {name} --epochs 1",
    "loss": "tk classify --loss {name} --epochs 1",
    "augmentation": "tk aug preview --aug {name} --out grid.png",
    "task": "tk {name} --data digits",
}
_SUFFIX = {"backbone": "Backbone", "head": "Head", "loss": "Loss", "task": "Task"}


def symbol_for(name: str, kind: str) -> str:
    """The component's Python name: `DemoBackbone` for a class, `demo` for a factory function."""
    words = re.split(r"[-_]", name)
    if kind == "augmentation":
        return "_".join(words)
    return "".join(w.capitalize() for w in words) + _SUFFIX[kind]


def plan(name: str, kind: str) -> dict[str, str]:
    """Every file of the package, by path relative to its folder, for plugin `name` of `kind`."""
    if kind not in KINDS:
        raise BadInputError(f"--kind must be one of {', '.join(KINDS)}, not '{kind}'")
    if not _NAME.match(name):
        raise BadInputError(f"plugin name '{name}' must be lowercase letters and digits, words joined by - or _, "
                            f"starting with a letter (e.g. 'mynet', 'poly-loss')")
    package = "tk_" + name.replace("-", "_")
    plural = {"loss": "losses"}.get(kind, kind + "s")
    values = {"name": name, "kind": kind, "plural": plural, "package": package, "dist": "tk-" + name,
              "symbol": symbol_for(name, kind), "summary": f"The {kind} '{name}' for taskkit.",
              "try_it": _TRY[kind].format(name=name)}
    return {
        "pyproject.toml": _PYPROJECT.substitute(values),
        "README.md": _README.substitute(values),
        f"{package}/__init__.py": _INIT.substitute(values),
        f"{package}/components.py": _COMPONENTS[kind].substitute(values),
        f"tests/test_{package}.py": _TESTS[kind].substitute(values),
    }


def taken_by(name: str, kind: str) -> str | None:
    """The plugin already holding `name` in `kind`'s registry (a second one would fail to load), if any."""
    from taskkit.registries import registry_for

    registry = registry_for(kind)
    return registry.entry(name).plugin if name in registry else None


def write_plugin(name: str, kind: str, out: Path) -> Path:
    """Write the package into `out`/tk-NAME (which must not exist or be empty); returns that folder."""
    files = plan(name, kind)
    holder = taken_by(name, kind)
    if holder is not None:
        raise BadInputError(f"{kind} '{name}' is already registered by plugin '{holder}'; choose another name")
    target = Path(out) / f"tk-{name}"
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BadInputError(f"{target} already exists and is not empty; choose another name or --out")
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
