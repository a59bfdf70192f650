"""A task and an export format written outside taskkit, installed with pip, work like built-in ones.

`tk-pixels` declares a task with its own options (`--hidden`, `--depth`) and its input kind
(images) and trains through core's shared flow; `tk-pt2` registers an export format. Neither
is known to core by name: every command below reaches them through the registries.
"""

import json
from pathlib import Path

import pytest
import yaml


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    from conftest import pip_install_plugins

    return pip_install_plugins(tmp_path_factory, "tk-pixels", "tk-pt2")


@pytest.fixture(scope="module")
def trained(installed, tmp_path_factory):
    from conftest import run_tk

    out = tmp_path_factory.mktemp("runs")
    done = run_tk("pixels", "--hidden", "24", "--depth", "2", "--epochs", "3", "--quiet", "--json",
                  "--out", str(out), "--name", "px", env=installed)
    assert done.returncode == 0, done.stderr
    return out / "px", json.loads(done.stdout)["test"]


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    from PIL import Image
    from sklearn.datasets import load_digits

    digits, folder = load_digits(), tmp_path_factory.mktemp("digits")
    files = []
    for index in range(5):
        files.append(str(folder / f"digit{index}.png"))
        Image.fromarray((digits.images[index] * 255 / 16).astype("uint8")).save(files[-1])
    return files


def test_the_task_and_the_format_are_listed_with_their_plugins(tk, installed):
    result = tk("list", "--json", env=installed)
    assert result.returncode == 0, result.stderr
    rows = {(r["kind"], r["name"]): r["plugin"] for r in json.loads(result.stdout)}
    assert rows[("task", "pixels")] == "pixels" and rows[("format", "pt2")] == "pt2"
    assert rows[("format", "onnx")] == "exporters"
    formats = tk("list", "formats", env=installed)
    assert [line.split()[1] for line in formats.stdout.splitlines() if line.split()[-1:] == ["pt2"]] == ["pt2"]


def test_the_declared_options_and_the_shared_ones_are_in_help(tk, installed):
    result = tk("pixels", "--help", env=installed)
    assert result.returncode == 0, result.stderr
    for flag in ("--hidden", "--depth", "--data", "--batch-size", "--val-split", "--seed", "--config", "--resume"):
        assert flag in result.stdout, flag
    assert "--backbone" not in result.stdout  # only what the task declared and what every task shares


def test_a_run_trains_records_its_options_and_evaluates_alike(tk, installed, trained):
    run_dir, test = trained
    assert test["accuracy"] > 0.8  # an MLP on 8x8 digits; chance is 0.1
    config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    assert (config["hidden"], config["depth"], config["epochs"], config["lr"]) == (24, 2, 3, 1e-2)
    assert json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["status"] == "finished"
    evaluated = tk("eval", str(run_dir), "--json", env=installed)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["test"]["accuracy"] == pytest.approx(test["accuracy"])


def test_bad_options_are_one_line_errors(tk, installed, tmp_path):
    wrong = tk("pixels", "--hidden", "0", "--out", str(tmp_path), env=installed)
    assert wrong.returncode == 2 and wrong.stderr.strip().splitlines() == [
        "error: --hidden must be positive and --depth not negative"]
    assert not list(tmp_path.iterdir())
    typo = tk("tune", "pixels", "--param", "hiden=int(8,32)", "--out", str(tmp_path), env=installed)
    assert typo.returncode == 2 and "no option 'hiden'; did you mean 'hidden'?" in typo.stderr, typo.stderr


def test_predict_and_onnx_predict_agree(tk, installed, trained, digit_files):
    run_dir, _ = trained
    from_run = tk("predict", str(run_dir), *digit_files, "--json", env=installed)
    assert from_run.returncode == 0, from_run.stderr
    exported = tk("export", str(run_dir), "--format", "onnx", "--json", env=installed)
    assert exported.returncode == 0, exported.stderr
    result = json.loads(exported.stdout)
    assert result["within_tolerance"] and result["model"].endswith("model.onnx")
    from_onnx = tk("predict", result["model"], *digit_files, "--json", env=installed)
    assert from_onnx.returncode == 0, from_onnx.stderr
    labels = [[p["label"] for p in answer["predictions"]] for answer in json.loads(from_run.stdout)]
    assert [[p["label"] for p in answer["predictions"]] for answer in json.loads(from_onnx.stdout)] == labels
    assert [row[0] for row in labels].count("0") >= 1  # digit0.png is a 0, and the model knows it


def test_the_plugin_format_exports_and_checks_a_plugin_task(tk, installed, trained):
    run_dir, _ = trained
    done = tk("export", str(run_dir), "--format", "pt2", "--dynamic-batch", "--json", env=installed)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == str(run_dir / "model.pt2") and result["checked_batches"] == [2, 3]
    assert result["within_tolerance"] and result["max_abs_difference"] <= 1e-4
    info = json.loads((run_dir / "model.pt2.json").read_text(encoding="utf-8"))
    assert (info["task"], info["format"], info["reads"], info["answers"]) == ("pixels", "pt2", "images", "labels")


def test_cv_tune_and_lr_find_drive_the_plugin_task(tk, installed, tmp_path):
    common = ["--epochs", "1", "--quiet", "--out", str(tmp_path)]
    cv = tk("cv", "pixels", "--folds", "2", "--hidden", "16", *common, "--json", env=installed, timeout=300)
    assert cv.returncode == 0, cv.stderr
    summary = json.loads(cv.stdout)
    assert summary["folds"] == 2 and len(summary["metrics"]["test_accuracy"]["values"]) == 2
    configs = [yaml.safe_load((tmp_path / "cv-pixels" / f"fold-{i}" / "config.yaml").read_text()) for i in (1, 2)]
    assert [c["hidden"] for c in configs] == [16, 16]
    tune = tk("tune", "pixels", "--trials", "2", "--sampler", "grid", "--param", "hidden=choice(8,32)",
              "--pruner", "none", *common, "--json", env=installed, timeout=300)
    assert tune.returncode == 0, tune.stderr
    trials = json.loads(tune.stdout)["trials"]
    hidden = [yaml.safe_load((Path(t["run_dir"]) / "config.yaml").read_text())["hidden"] for t in trials]
    assert sorted(hidden) == [8, 32] and all(t["state"] == "COMPLETE" for t in trials)
    sweep = tk("lr-find", "pixels", "--steps", "30", *common, "--json", env=installed, timeout=300)
    assert sweep.returncode == 0, sweep.stderr
    assert (tmp_path / "lr-find-pixels" / "lr_find.png").is_file()
    assert json.loads(sweep.stdout)["steps_run"] > 10
