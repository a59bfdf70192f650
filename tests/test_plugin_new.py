"""`tk plugin new` writes a package that installs, shows up in `tk list` and trains."""

import json
import os
import subprocess
import sys

import pytest

from conftest import one_line_error, run_tk, tk_in_process
from taskkit.scaffold.plugin_new import KINDS, plan


def install(package, target):
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(target), str(package)], check=True, capture_output=True)
    return {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


def written(capsys, tmp_path, name, kind):
    code, out, err = tk_in_process(capsys, "plugin", "new", name, "--kind", kind, "--out", str(tmp_path / "src"))
    assert code is None or code == 0, err
    package = tmp_path / "src" / f"tk-{name}"
    assert out.startswith(f"wrote the {kind} plugin '{name}' to {package}")
    return package


def test_a_new_backbone_plugin_installs_lists_and_trains(capsys, tmp_path):
    package = written(capsys, tmp_path, "demo", "backbone")
    assert sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()) == [
        "README.md", "pyproject.toml", "tests/test_tk_demo.py", "tk_demo/__init__.py", "tk_demo/components.py"]
    env = install(package, tmp_path / "site")
    listed = run_tk("list", "backbones", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["demo"]["plugin"] == "demo" and rows["demo"]["summary"].startswith("A three-stage convolutional")
    trained = run_tk("classify", "--backbone", "demo", "--epochs", "1", "--quiet", "--json",
                     "--out", str(tmp_path / "runs"), env=env)
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["test"]["samples"] == 180


@pytest.mark.slow  # an install and the package's own tests for each kind
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_installs_and_passes_its_own_tests(capsys, tmp_path, kind):
    package = written(capsys, tmp_path, f"my-{kind}", kind)
    env = {**os.environ, **install(package, tmp_path / "site")}
    own = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert own.returncode == 0, own.stdout + own.stderr
    use = {"backbone": ["classify", "--backbone", "my-backbone"], "head": ["classify", "--head", "my-head"],
           "loss": ["classify", "--loss", "my-loss"], "augmentation": ["classify", "--aug", "my-augmentation"],
           "task": ["my-task", "--data", "digits"]}[kind]
    extra = ["--epochs", "1", "--quiet", "--out", str(tmp_path / "runs")] if kind != "task" else []
    result = run_tk(*use, *extra, env=env)
    assert result.returncode == 0, result.stderr


def test_bad_names_kinds_and_places_are_one_line(capsys, tmp_path):
    assert "is already registered by plugin 'resnet'" in one_line_error(
        capsys, "plugin", "new", "resnet18", "--out", str(tmp_path))
    assert "must be lowercase letters and digits" in one_line_error(capsys, "plugin", "new", "My Net")
    assert "--kind must be one of backbone, head, loss, augmentation, task, not 'model'" in one_line_error(
        capsys, "plugin", "new", "mynet", "--kind", "model")
    (tmp_path / "tk-taken").mkdir()
    (tmp_path / "tk-taken" / "notes.txt").write_text("mine", encoding="utf-8")
    assert "already exists and is not empty" in one_line_error(
        capsys, "plugin", "new", "taken", "--out", str(tmp_path))
    assert (tmp_path / "tk-taken" / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert not list(tmp_path.glob("tk-mynet*")) and not list(tmp_path.glob("tk-resnet18*"))


@pytest.mark.parametrize("kind", KINDS)
def test_every_file_written_is_valid_python_or_toml(kind):
    import tomllib

    for path, text in plan("my-thing", kind).items():
        if path.endswith(".py"):
            compile(text, path, "exec")
        elif path.endswith(".toml"):
            assert tomllib.loads(text)["project"]["entry-points"]["taskkit"] == {"my-thing": "tk_my_thing"}
