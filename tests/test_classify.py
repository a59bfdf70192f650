"""`tk classify`, `tk eval` and `tk predict` end to end, on digits and on files made here."""

import csv
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from PIL import Image
from safetensors.torch import load_file

from conftest import PLUGIN_DATA, wait_for

FAST = ["--backbone", "linear", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    """One short LeNet run on digits shared by the tests that only read its results."""
    from conftest import run_tk

    out = tmp_path_factory.mktemp("runs")
    result = run_tk("classify", "--data", "digits", "--backbone", "lenet", "--epochs", "4", "--quiet",
                    "--json", "--out", str(out), "--name", "lenet")
    assert result.returncode == 0, result.stderr
    return out / "lenet", json.loads(result.stdout)


def test_short_lenet_run_learns_digits(lenet_run):
    run_dir, printed = lenet_run
    assert printed["run"] == str(run_dir)
    assert printed["test"]["accuracy"] >= 0.93
    assert printed["test"]["macro_f1"] >= 0.92 and printed["test"]["roc_auc"] >= 0.99


def test_run_directory_holds_everything(lenet_run):
    run_dir, printed = lenet_run
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "metrics.csv", "model.safetensors", "run.json", "last.ckpt", "curves.png",
            "confusion_matrix.png", "confusion_matrix.csv"} <= names
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    record = json.loads((run_dir / "run.json").read_text())
    assert record["task"] == "classify" and record["status"] == "finished"
    assert record["model"]["classes"] == [str(d) for d in range(10)]
    assert record["metrics"]["test"]["accuracy"] == printed["test"]["accuracy"]
    assert set(record["metrics"]["test"]["per_class"]["7"]) == {"precision", "recall", "f1", "support"}
    matrix = list(csv.reader(open(run_dir / "confusion_matrix.csv")))
    assert matrix[0][1:] == [str(d) for d in range(10)]
    assert sum(int(c) for row in matrix[1:] for c in row[1:]) == printed["test"]["samples"]
    assert Image.open(run_dir / "curves.png").size[0] > 500
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["backbone"] == "lenet" and config["epochs"] == 4 and config["name"] == "lenet"


def test_summary_of_a_run_uses_its_input_size(tk_here, lenet_run):
    run_dir, _ = lenet_run
    report = json.loads(tk_here("summary", str(run_dir), "--json").stdout)
    assert report["input_shape"] == [1, 28, 28] and report["trainable_params"] == 61_706


def test_eval_reproduces_the_test_metrics(tk_here, lenet_run):
    run_dir, printed = lenet_run
    result = tk_here("eval", str(run_dir), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test"]["accuracy"] == pytest.approx(printed["test"]["accuracy"])


def test_predict_labels_image_files(tk_here, lenet_run, tmp_path):
    from sklearn.datasets import load_digits

    run_dir, _ = lenet_run
    digits = load_digits()
    files = []
    for index in (0, 1, 2):  # digits 0, 1 and 2
        path = tmp_path / f"digit{index}.png"
        Image.fromarray((digits.images[index] * 255 / 16).astype(np.uint8)).save(path)
        files.append(str(path))
    result = tk_here("predict", str(run_dir), *files, "--json")
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["predictions"][0]["label"] for a in answers] == ["0", "1", "2"]
    assert all(len(a["predictions"]) == 3 for a in answers)
    text = tk_here("predict", str(run_dir), files[0], "--top-k", "1")
    assert text.stdout.startswith(f"{files[0]}: 0 ")


def test_eval_on_other_labelled_data_uses_all_of_it(tk_here, lenet_run, tmp_path):
    from sklearn.datasets import load_digits

    run_dir, _ = lenet_run
    digits = load_digits()
    for index in range(30):
        label = str(digits.target[index])
        (tmp_path / label).mkdir(exist_ok=True)
        Image.fromarray((digits.images[index] * 255 / 16).astype(np.uint8)).save(tmp_path / label / f"{index}.png")
    result = tk_here("eval", str(run_dir), "--data", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["test"]
    assert report["samples"] == 30 and report["accuracy"] >= 0.9


def test_config_reruns_the_same_run(tk_here, tmp_path):
    first = tk_here("classify", *FAST, "--epochs", "2", "--out", str(tmp_path), "--name", "a")
    assert first.returncode == 0, first.stderr
    again = tk_here("classify", "--config", str(tmp_path / "a" / "config.yaml"), "--quiet")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "a-2").is_dir()  # a taken name gets a new directory
    weights = [load_file(tmp_path / d / "model.safetensors") for d in ("a", "a-2")]
    assert all((weights[0][k] == weights[1][k]).all() for k in weights[0])


@pytest.mark.slow  # the default run kills and resumes a 2-process classify run (test_distributed.py)
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    args = [sys.executable, "-m", "taskkit", "classify", "--data", "digits", "--backbone", "lenet",
            "--epochs", "3", "--batch-size", "16", "--quiet", "--device", "cpu", "--out", str(tmp_path)]
    subprocess.run([*args, "--name", "whole"], check=True, capture_output=True)
    victim = subprocess.Popen([*args, "--name", "killed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / "killed" / "metrics.csv", victim)
    time.sleep(0.2)  # well inside epoch 2
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    rows = list(csv.DictReader(open(tmp_path / "killed" / "metrics.csv")))
    assert len(rows) < 3, "the run finished before it was killed"
    resumed = subprocess.run([sys.executable, "-m", "taskkit", "classify", "--resume", str(tmp_path / "killed"),
                              "--quiet"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("model.safetensors",):
        whole, killed = load_file(tmp_path / "whole" / name), load_file(tmp_path / "killed" / name)
        assert whole.keys() == killed.keys()
        assert all(whole[k].equal(killed[k]) for k in whole), "weights differ after resume"
    import torch

    last = [torch.load(tmp_path / d / "last.ckpt", weights_only=True)["model"] for d in ("whole", "killed")]
    assert all(last[0][k].equal(last[1][k]) for k in last[0])
    assert len(list(csv.DictReader(open(tmp_path / "killed" / "metrics.csv")))) == 3


def test_nan_loss_exits_1_and_keeps_the_last_good_checkpoint(tk, tmp_path):
    env = {"TK_PLUGINS": str(PLUGIN_DATA / "nan_loss.py")}
    # digits train split: 1437 images, 45 batches of 32 per epoch; NaN from call 100 is in epoch 3
    result = tk("classify", *FAST, "--loss", "nan-after", "--epochs", "5", "--out", str(tmp_path), env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: loss became NaN or infinite in epoch 3")
    assert str(tmp_path / "classify" / "last.ckpt") in lines[0]
    import torch

    saved = torch.load(tmp_path / "classify" / "last.ckpt", weights_only=True)
    assert saved["fit"]["epoch"] == 2
    assert all(torch.isfinite(t).all() for t in saved["model"].values())
    assert all(torch.isfinite(t).all() for t in load_file(tmp_path / "classify" / "model.safetensors").values())


def test_huge_learning_rate_exits_1_with_one_line(tk_here, tmp_path):
    result = tk_here("classify", *FAST, "--lr", "1e6", "--epochs", "2", "--out", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "loss became NaN or infinite" in lines[0]


def test_early_stopping_ends_a_run_that_stops_improving(tk_here, tmp_path):
    result = tk_here("classify", *FAST, "--epochs", "8", "--patience", "2", "--lr", "1e-12", "--scheduler", "none",
                "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "classify" / "run.json").read_text())
    assert record["best_epoch"] == 1 and record["epochs_run"] == 3
    assert record["stopped"] == "early stopping: no improvement for 2 epochs"


def test_balance_options_train(tk_here, tmp_path):
    for balance, loss in (("oversample", "cross-entropy"), ("class-weights", "focal")):
        result = tk_here("classify", *FAST, "--epochs", "2", "--balance", balance, "--loss", loss,
                    "--out", str(tmp_path), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["test"]["accuracy"] > 0.8
