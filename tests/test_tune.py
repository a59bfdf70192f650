"""`tk tune`: optuna studies over a task's options, on digits, in this process."""

import contextlib
import csv
import io
import json
import shutil
import sys

import optuna
import pytest
import yaml

from conftest import one_line_error, tk_in_process

LR = "lr=loguniform(1e-4,1e-1)"
TASK = ["--data", "digits", "--quiet", "--device", "cpu"]


def tk_outside_capsys(*args):
    """Run `tk ARGS` in this process where capsys cannot go (module fixtures); returns (code, out, err)."""
    from taskkit.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, out.getvalue(), err.getvalue()


def load(db):
    return optuna.load_study(study_name="study", storage=f"sqlite:///{db}")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Six 2-epoch trials of a learning-rate search with Hyperband, shared by the tests that read them."""
    root = tmp_path_factory.mktemp("tune")
    db = root / "t.db"
    code, out, err = tk_outside_capsys("tune", "classify", *TASK, "--epochs", "2", "--trials", "6", "--param", LR,
                                       "--storage", f"sqlite:///{db}", "--out", str(root), "--name", "study", "--json")
    assert code == 0, err
    return root / "study", db, json.loads(out), err


def test_study_runs_its_trials_and_prunes_some(study):
    study_dir, db, results, err = study
    trials = load(db).trials
    states = [t.state.name for t in trials]
    assert len(trials) == 6 and set(states) <= {"COMPLETE", "PRUNED"} and "PRUNED" in states, states
    assert [t["state"] for t in results["trials"]] == states
    for trial in trials:
        run_dir = study_dir / f"trial-{trial.number}"
        rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
        assert len(rows) == (1 if trial.state.name == "PRUNED" else 2)  # a pruned run stops after epoch 1
        record = json.loads((run_dir / "run.json").read_text())
        assert record["status"] == "finished" and record["tune"]["params"] == trial.params
        assert yaml.safe_load((run_dir / "config.yaml").read_text())["lr"] == trial.params["lr"]
        if trial.state.name == "COMPLETE":
            assert trial.value == max(float(r["val_acc"]) for r in rows)
    assert "study study: 0 of 6 trials done, running 6 more" in err
    assert sum(line.startswith("trial ") for line in err.splitlines()) == 6


def test_study_writes_its_results(study):
    study_dir, db, results, _ = study
    best = load(db).best_trial
    assert results["metric"] == "val_acc" and results["direction"] == "maximize"
    assert results["best"]["number"] == best.number and results["best"]["params"] == best.params
    rows = list(csv.DictReader(open(study_dir / "trials.csv")))
    assert [int(r["number"]) for r in rows] == list(range(6))
    assert [r["state"] for r in rows] == [t["state"] for t in results["trials"]]
    assert float(rows[best.number]["lr"]) == best.params["lr"]
    assert rows[best.number]["run_dir"] == str(study_dir / f"trial-{best.number}")
    config = yaml.safe_load((study_dir / "best.yaml").read_text())
    assert "name" not in config and "out" not in config and config["lr"] == best.params["lr"]
    assert (study_dir / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_best_config_reruns_the_best_trial(study, tmp_path, capsys):
    study_dir, db, _, _ = study
    code, out, err = tk_in_process(capsys, "classify", "--config", str(study_dir / "best.yaml"), "--epochs", "1",
                                   "--out", str(tmp_path), "--name", "rerun", "--json")
    assert code == 0, err
    config = yaml.safe_load((tmp_path / "rerun" / "config.yaml").read_text())
    assert config["lr"] == load(db).best_trial.params["lr"] and config["epochs"] == 1


def test_a_resumed_study_runs_only_the_missing_trials(study, tmp_path, capsys):
    _, db, _, _ = study
    copy = tmp_path / "t.db"
    shutil.copy(db, copy)
    code, out, err = tk_in_process(capsys, "tune", "classify", *TASK, "--epochs", "2", "--trials", "8", "--param", LR,
                                 "--storage", f"sqlite:///{copy}", "--study-name", "study", "--out", str(tmp_path),
                                 "--name", "more")
    assert code == 0, err
    assert "study study: 6 of 8 trials done, running 2 more" in err
    assert len(load(copy).trials) == 8 and len(load(db).trials) == 6
    assert sorted(p.name for p in (tmp_path / "more").glob("trial-*")) == ["trial-6", "trial-7"]
    assert f"rerun: tk classify --config {tmp_path / 'more' / 'best.yaml'}" in out


def test_resuming_with_the_other_direction_is_refused(study, capsys, tmp_path):
    _, db, _, _ = study
    line = one_line_error(capsys, "tune", "classify", *TASK, "--param", LR, "--storage", f"sqlite:///{db}",
                          "--study-name", "study", "--direction", "minimize", "--out", str(tmp_path))
    assert "is set to maximize" in line and "--direction maximize" in line
    assert len(load(db).trials) == 6


@pytest.mark.parametrize("spec, why", [
    ("lr", "expected NAME=DISTRIBUTION(ARGS)"),
    ("lr=normal(0,1)", "unknown distribution 'normal'"),
    ("lr=logunifrm(1e-4,1e-1)", "did you mean 'loguniform'"),
    ("lr=uniform(0.1)", "takes two bounds"),
    ("lr=uniform(0,0.1,1)", "takes two bounds"),
    ("lr=uniform(small,large)", "bounds must be numbers"),
    ("lr=uniform(0.1,0.01)", "low bound must be below the high one"),
    ("lr=loguniform(0,1)", "bounds must be positive"),
    ("epochs=int(1.5,3)", "whole numbers"),
    ("optimizer=choice()", "choice needs one or more values"),
    ("optimizer=choice(sgd,,adamw)", "choice needs one or more values"),
])
def test_unparsable_params_are_one_line_errors(capsys, spec, why):
    line = one_line_error(capsys, "tune", "classify", "--param", spec)
    assert f"--param '{spec}'" in line and why in line


@pytest.mark.parametrize("args, why", [
    (["--param", "lrr=uniform(0,1)"], "has no option 'lrr'; did you mean 'lr'?"),
    (["--param", "channels_last=choice(true,false)"], "--channels-last is an on/off flag"),
    (["--param", "out=choice(a,b)"], "is not a hyperparameter"),
    (["--lr", "0.1", "--param", LR], "--lr is also among the task options"),
    (["--param", LR, "--param", "lr=uniform(0,1)"], "only once"),
    (["--sampler", "grid", "--param", LR], "--sampler grid takes only choice(...) and int(...)"),
    (["--sampler", "annealing", "--param", LR], "--sampler must be tpe, random or grid"),
    (["--pruner", "asha", "--param", LR], "--pruner must be hyperband, median or none"),
    (["--trials", "0", "--param", LR], "--trials must be at least 1"),
    ([], "needs at least one --param"),
    (["--resume", "runs/x", "--param", LR], "does not take --resume"),
])
def test_bad_settings_are_one_line_errors(capsys, tmp_path, args, why):
    line = one_line_error(capsys, "tune", "classify", "--out", str(tmp_path), *args)
    assert why in line
    assert not (tmp_path / "tune-classify").exists()


def test_missing_optuna_names_the_extra(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "optuna", None)
    line = one_line_error(capsys, "tune", "classify", "--param", LR, "--out", str(tmp_path))
    assert line == "error: tk tune needs optuna: pip install 'taskkit[tune]'"


def test_grid_sampler_runs_every_point_once(capsys, tmp_path):
    code, out, err = tk_in_process(capsys, "tune", "classify", *TASK, "--epochs", "1", "--batch-size", "64",
                                   "--backbone", "linear",
                                   "--trials", "10", "--sampler", "grid", "--pruner", "none", "--out", str(tmp_path),
                                   "--param", "optimizer=choice(sgd,adamw)", "--param", "warmup_epochs=int(0,1)",
                                   "--json")
    assert code == 0, err
    trials = json.loads(out)["trials"]
    points = sorted((t["params"]["optimizer"], t["params"]["warmup_epochs"]) for t in trials)
    assert points == [("adamw", 0), ("adamw", 1), ("sgd", 0), ("sgd", 1)]
    for t in trials:
        config = yaml.safe_load(open(f"{t['run_dir']}/config.yaml"))
        assert (config["optimizer"], config["warmup_epochs"]) == (t["params"]["optimizer"], t["params"]["warmup_epochs"])
    code, _, err = tk_in_process(capsys, "tune", "classify", *TASK, "--epochs", "1", "--trials", "10", "--sampler",
                                 "grid", "--out", str(tmp_path), "--param", "optimizer=choice(sgd,adamw)",
                                 "--param", "warmup_epochs=int(0,1)")
    assert code == 0 and "4 of 10 trials done, nothing to run" in err


def test_a_failing_trial_is_recorded_and_the_study_goes_on(capsys, tmp_path):
    code, out, err = tk_in_process(capsys, "tune", "classify", *TASK, "--epochs", "1", "--optimizer", "sgd",
                                   "--trials", "2", "--param", "lr=loguniform(1e4,1e5)", "--out", str(tmp_path))
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "tune-classify" / "trials.csv")))
    assert [r["state"] for r in rows] == ["FAIL", "FAIL"]
    failures = [line for line in err.splitlines() if line.startswith("trial ")]
    assert len(failures) == 2 and all(" failed " in line and "NaN" in line for line in failures)
    assert "Traceback" not in err
    assert "no trial of study tune-classify has completed yet" in out
    assert not (tmp_path / "tune-classify" / "best.yaml").exists()


def test_a_metric_the_task_lacks_stops_the_study(capsys, tmp_path):
    code, _, err = tk_in_process(capsys, "tune", "classify", *TASK, "--epochs", "2", "--param", LR, "--trials", "3",
                                 "--metric", "val_f1", "--out", str(tmp_path))
    last = err.splitlines()[-1]
    assert code == 2 and "Traceback" not in err
    assert last.startswith("error: --metric val_f1 is not a metric") and "val_acc" in last and "val_loss" in last
    trials = optuna.load_study(study_name="tune-classify",
                               storage=f"sqlite:///{tmp_path / 'tune-classify' / 'study.db'}").trials
    assert [t.state.name for t in trials] == ["FAIL"]


def test_a_loss_is_minimised_and_a_resumed_study_keeps_its_metric(capsys, tmp_path):
    base = ["tune", "classify", *TASK, "--epochs", "1", "--pruner", "none", "--param", LR, "--out", str(tmp_path)]
    code, out, err = tk_in_process(capsys, *base, "--trials", "1", "--metric", "val_loss", "--json")
    assert code == 0, err
    assert json.loads(out)["direction"] == "minimize" and json.loads(out)["metric"] == "val_loss"
    code, out, err = tk_in_process(capsys, *base, "--trials", "2", "--json")  # no --metric: the study's own
    assert code == 0, err
    trials = json.loads(out)["trials"]
    assert len(trials) == 2 and "1 of 2 trials done, running 1 more" in err
    rows = list(csv.DictReader(open(f"{trials[1]['run_dir']}/metrics.csv")))
    assert trials[1]["value"] == float(rows[0]["val_loss"])
    line = one_line_error(capsys, *base, "--trials", "3", "--metric", "val_acc")
    assert "optimises val_loss; pass --metric val_loss" in line
