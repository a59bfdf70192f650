"""Every run ends in a known state, a refused resume changes nothing, and options are checked
against their declared ranges before any work.

Each refusal is asserted three ways: exit code 2, a single `error:` line, and every file of the
run (or the output folder) byte for byte as it was.
"""

import hashlib
import json
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import PLUGIN_DATA, one_line_error, tk_in_process, wait_for

QUICK = ["--data", "digits", "--classes", "0,1,2", "--epochs", "2", "--quiet", "--device", "cpu"]


def digest(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished")
    from taskkit.cli.app import main

    with pytest.raises(SystemExit) as done:
        main(["classify", *QUICK, "--out", str(out), "--name", "run"])
    assert done.value.code == 0
    return out / "run"


@pytest.fixture
def run(finished, tmp_path):
    return shutil.copytree(finished, tmp_path / "run")


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_a_corrupt_checkpoint_refuses_the_resume_and_changes_nothing(capsys, run, damage):
    good = (run / "last.ckpt").read_bytes()
    damaged = {"truncated": good[: len(good) // 2], "empty": b"", "garbage": b"not a checkpoint at all"}[damage]
    (run / "last.ckpt").write_bytes(damaged)
    before = digest(run)
    line = one_line_error(capsys, "classify", "--resume", str(run), "--epochs", "3")
    assert "last.ckpt" in line
    assert digest(run) == before
    (run / "last.ckpt").write_bytes(good)
    code, _, err = tk_in_process(capsys, "classify", "--resume", str(run), "--epochs", "3")
    assert code == 0, err
    record = json.loads((run / "run.json").read_text())
    assert (record["status"], record["epochs_run"]) == ("finished", 3)


@pytest.mark.parametrize("override", [["--optimizer", "sgd"], ["--backbone", "resnet18"], ["--lr", "0.1"],
                                      ["--name", "other"]])
def test_an_override_a_resumed_run_cannot_take_is_refused_and_changes_nothing(capsys, run, override):
    before = digest(run)
    line = one_line_error(capsys, "classify", "--resume", str(run), *override)
    assert f"{override[0]} cannot change when resuming" in line and f"--config {run}/config.yaml" in line
    assert digest(run) == before
    code, _, err = tk_in_process(capsys, "classify", "--resume", str(run), "--epochs", "3", "--quiet")
    assert code == 0, err
    assert json.loads((run / "run.json").read_text())["epochs_run"] == 3


def test_a_checkpoint_of_another_model_is_refused_before_anything_is_written(capsys, run, tmp_path):
    code, _, err = tk_in_process(capsys, "classify", "--data", "digits", "--classes", "0,1,2", "--epochs", "1",
                                 "--quiet", "--backbone", "mlp", "--out", str(tmp_path), "--name", "mlp")
    assert code == 0, err
    shutil.copy(tmp_path / "mlp" / "last.ckpt", run / "last.ckpt")
    before = digest(run)
    assert "does not fit this run's model" in one_line_error(capsys, "classify", "--resume", str(run))
    assert digest(run) == before


def test_a_resumed_run_keeps_its_results_in_run_json_while_it_runs(run):
    from taskkit.train.flow import RunFiles

    kept = RunFiles(run).record()
    assert kept["status"] == "finished" and kept["metrics"]["test"]["accuracy"] > 0.8


def test_a_component_failing_in_training_marks_the_run_failed_and_names_its_plugin(tk, tmp_path):
    env = {"TK_PLUGINS": str(PLUGIN_DATA / "wrong_shape.py")}
    done = tk("classify", *QUICK, "--backbone", "wrong-shape", "--out", str(tmp_path), env=env)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: training failed in backbone 'wrong-shape' (plugin 'wrong_shape')")
    record = json.loads((tmp_path / "classify" / "run.json").read_text())
    assert record["status"] == "failed" and "wrong-shape" in record["error"]


def test_sigterm_is_an_interruption_that_resumes(tmp_path):
    command = [sys.executable, "-m", "taskkit", "classify", "--data", "digits", "--epochs", "3", "--quiet",
               "--device", "cpu", "--out", str(tmp_path), "--name", "term"]
    victim = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / "term" / "metrics.csv", victim)
    victim.send_signal(signal.SIGTERM)
    _, err = victim.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert victim.returncode == 130 and len(lines) == 1 and "interrupted" in lines[0], err
    assert f"tk classify --resume {tmp_path / 'term'}" in lines[0]
    assert json.loads((tmp_path / "term" / "run.json").read_text())["status"] == "interrupted"
    resumed = subprocess.run([sys.executable, "-m", "taskkit", "classify", "--resume", str(tmp_path / "term"),
                              "--quiet"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((tmp_path / "term" / "run.json").read_text())["status"] == "finished"


@pytest.mark.parametrize("task,args,message", [
    ("classify", ["--seed", "-1"], "--seed must be in [0, 4294967295], got -1"),
    ("classify", ["--seed", str(2**32)], "--seed must be in [0, 4294967295], got 4294967296"),
    ("classify", ["--weight-decay", "nan"], "--weight-decay must be a finite number, got nan"),
    ("classify", ["--warmup-epochs", "nan"], "--warmup-epochs must be a finite number, got nan"),
    ("classify", ["--clip-grad", "nan"], "--clip-grad must be a finite number, got nan"),
    ("classify", ["--mixup", "nan"], "--mixup must be a finite number, got nan"),
    ("classify", ["--lr", "inf"], "--lr must be a finite number, got inf"),
    ("classify", ["--img-size", "-5"], "--img-size must be positive, got -5"),
    ("classify", ["--dropout", "1.5"], "--dropout must be in [0, 1), got 1.5"),
    ("classify", ["--label-smoothing", "1"], "--label-smoothing must be in [0, 1), got 1"),
    ("classify", ["--val-split", "-0.1"], "--val-split must be in [0, 1), got -0.1"),
    ("classify", ["--ema", "1"], "--ema must be in [0, 1), got 1"),
    ("text", ["--hidden", "0"], "--hidden must be positive, got 0"),
    ("text", ["--layers", "0"], "--layers must be positive, got 0"),
    ("text", ["--dropout", "1.5"], "--dropout must be in [0, 1), got 1.5"),
    ("tag", ["--max-len", "0"], "--max-len must be positive, got 0"),
    ("segment", ["--ignore-index", "-1"], "--ignore-index must not be negative, got -1"),
    ("finetune", ["--lr-decay", "0"], "--lr-decay must be positive, got 0"),
])
def test_options_outside_their_declared_range_are_refused_before_any_work(capsys, tmp_path, task, args, message):
    line = one_line_error(capsys, task, *args, "--out", str(tmp_path))
    assert message in line
    assert list(tmp_path.iterdir()) == []


def test_a_config_file_is_held_to_the_same_ranges(capsys, tmp_path):
    (tmp_path / "config.yaml").write_text("seed: -3\n", encoding="utf-8")
    line = one_line_error(capsys, "classify", "--config", str(tmp_path / "config.yaml"), "--out", str(tmp_path / "o"))
    assert "--seed must be in [0, " in line and not (tmp_path / "o").exists()


def test_a_one_sentence_conll_file_is_one_line_and_leaves_no_run(capsys, tmp_path):
    (tmp_path / "one.conll").write_text("John B-PER\nruns O\n", encoding="utf-8")
    line = one_line_error(capsys, "tag", "--data", str(tmp_path / "one.conll"), "--out", str(tmp_path / "runs"))
    assert "no sentence is left to train on" in line and not (tmp_path / "runs").exists()


def test_the_range_a_python_call_breaks_is_the_same_one_line(tmp_path):
    from taskkit.errors import BadInputError
    from taskkit.registries import TASKS

    with pytest.raises(BadInputError, match=r"--seed must be in \[0, "):
        TASKS.get("classify").call(seed=-1, out=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_a_library_warning_never_joins_a_one_line_error_and_follows_a_run_that_works(tk, tmp_path):
    env = {"TK_PLUGINS": str(PLUGIN_DATA / "warns.py")}
    refused = tk("classify", *QUICK, "--loss", "warns-then-refuses", "--out", str(tmp_path / "a"), env=env)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == ["error: this loss refuses the run's options"]
    worked = tk("classify", *QUICK, "--epochs", "1", "--loss", "warns", "--out", str(tmp_path / "b"), env=env)
    assert worked.returncode == 0, worked.stderr
    (line,) = [line for line in worked.stderr.splitlines() if line.startswith("warning:")]
    assert line.startswith("warning: a library's caution about something (UserWarning, ")
