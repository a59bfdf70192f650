"""The tests `tk plugin new` writes beside each kind's component: they build it through
taskkit's registries (or run its command), so a passing run shows the plugin is installed and
registered, not only importable. Placeholders as in `templates`.
"""

from string import Template

TESTS = {
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
