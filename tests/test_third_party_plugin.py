"""Real plugin packages, built and installed with pip, found through their entry points."""

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    from conftest import pip_install_plugins

    return pip_install_plugins(tmp_path_factory, "tk-mynet", "tk-broken")


def test_installed_plugin_components_are_listed_with_their_plugin(tk, installed):
    result = tk("list", "--json", env=installed)
    assert result.returncode == 0
    rows = {(r["kind"], r["name"]): r["plugin"] for r in json.loads(result.stdout)}
    assert rows[("loss", "poly1")] == "mynet"
    assert rows[("backbone", "mynet")] == "mynet"
    assert rows[("loss", "focal")] == "losses"
    table = tk("list", "losses", env=installed)
    line = next(line for line in table.stdout.splitlines() if " poly1 " in line)
    assert "Poly-1 loss" in line and line.split()[-1] == "mynet"


def test_info_describes_the_installed_component(tk, installed):
    result = tk("info", "poly1", env=installed)
    assert result.returncode == 0
    assert result.stdout.startswith("poly1 (loss) from plugin 'mynet' (tk-mynet 0.1.0)")
    assert "epsilon = 1.0" in result.stdout


def test_installed_backbone_follows_the_interface(installed, monkeypatch):
    probe = (
        "import torch\n"
        "from taskkit.registries import BACKBONES\n"
        "net = BACKBONES.build('mynet', in_channels=1, width=4)\n"
        "maps = net(torch.zeros(2, 1, 16, 16))\n"
        "print([tuple(m.shape) for m in maps], len(net.stages()), net.out_channels)\n"
    )
    env = {**os.environ, **installed}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert result.stdout.strip() == "[(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4)] 3 [4, 8, 16]"


def test_the_installed_backbone_and_loss_train_in_classify(tk, installed, tmp_path):
    """The guide's backbone declares no `img_size`; a task passes it only to factories that take it."""
    result = tk("classify", "--data", "digits", "--classes", "0,1,2", "--backbone", "mynet", "--loss", "poly1",
                "--epochs", "2", "--quiet", "--json", "--out", str(tmp_path), env=installed)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test"]["accuracy"] > 0.6


@pytest.mark.slow  # two more trainings in fresh processes
def test_the_installed_backbone_fine_tunes_and_segments(tk, installed, tmp_path):
    from taskkit.segmentation.shapes import write_shapes

    common = ["--epochs", "1", "--quiet", "--out", str(tmp_path)]
    first = tk("classify", "--data", "digits", "--backbone", "mynet", *common, "--name", "source", env=installed)
    assert first.returncode == 0, first.stderr
    tuned = tk("finetune", "--weights", str(tmp_path / "source"), "--freeze", "1", "--data", "digits", *common,
               "--name", "tuned", env=installed)
    assert tuned.returncode == 0, tuned.stderr
    data = write_shapes(tmp_path / "shapes", count=20, size=32)
    segmented = tk("segment", "--data", str(data), "--backbone", "mynet", "--head", "unet", *common, env=installed)
    assert segmented.returncode == 0, segmented.stderr


def test_broken_plugin_is_reported_and_never_fatal(tk, installed):
    listed = tk("list", env=installed)
    assert listed.returncode == 0 and "poly1" in listed.stdout
    warning = [line for line in listed.stderr.splitlines() if "broken" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: plugin 'broken' (tk-broken 0.3.0)")
    plugins = tk("plugins", env=installed)
    assert plugins.returncode == 0
    row = next(line for line in plugins.stdout.splitlines() if line.split()[0] == "broken")
    assert "tk-broken" in row and "0.3.0" in row and "failed" in row
    assert "libfoo" in plugins.stdout
    rows = {p["name"]: p for p in json.loads(tk("plugins", "--json", env=installed).stdout)}
    assert rows["broken"]["error"].startswith("import: ImportError: tk-broken needs the 'libfoo' package")
    assert rows["mynet"]["status"] == "loaded"
    assert rows["mynet"]["registered"] == ["backbone:mynet", "loss:poly1"]


def test_disabling_autoload_hides_installed_plugins(tk, installed):
    result = tk("list", "--json", env={**installed, "TK_DISABLE_PLUGIN_AUTOLOAD": "1"})
    names = {r["name"] for r in json.loads(result.stdout)}
    assert "poly1" not in names and "focal" in names
    assert "broken" not in result.stderr
