"""Promises every training run keeps: no code from a file runs, a full disk or Ctrl-C loses nothing."""

import os
import resource
import signal
import threading

import pytest
import torch
from safetensors.torch import load_file

from conftest import one_line_error, tk_in_process
from taskkit.storage.checkpoints import load_state
from taskkit.storage.runs import claim_run_dir

FAST = ["classify", "--data", "digits", "--classes", "0,1,2", "--epochs", "3", "--batch-size", "32", "--quiet",
        "--device", "cpu"]


class Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def plant(path, marker):
    torch.save({"model": {"weight": Payload(marker)}, "state_dict": Payload(marker)}, path)
    return path


def test_the_planted_payload_is_live(tmp_path):
    """The control: unpickled without tk's guard, the file does run its code."""
    marker = tmp_path / "ran"
    torch.load(plant(tmp_path / "evil.pth", marker), weights_only=False)
    assert marker.exists()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from taskkit.cli.app import main

    out = tmp_path_factory.mktemp("runs")

    with pytest.raises(SystemExit) as done:
        main([*FAST, "--epochs", "1", "--out", str(out), "--name", "good"])
    assert done.value.code == 0
    return out / "good"


def test_a_pickle_payload_in_weights_a_checkpoint_or_a_run_is_refused_and_never_runs(capsys, tmp_path, run):
    import shutil

    marker = tmp_path / "ran"
    weights = plant(tmp_path / "evil.pth", marker)
    line = one_line_error(capsys, "finetune", "--weights", str(weights), "--backbone", "resnet18", *FAST[1:])
    assert "evil.pth is not a readable weights file" in line and "UnpicklingError" in line
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    plant(resumed / "last.ckpt", marker)
    line = one_line_error(capsys, "classify", "--resume", str(resumed))
    assert "last.ckpt is not a readable checkpoint" in line
    planted = tmp_path / "planted"
    shutil.copytree(run, planted)
    plant(planted / "model.safetensors", marker)
    for args in (["eval", str(planted)], ["predict", str(planted), str(tmp_path / "evil.pth")],
                 ["finetune", "--weights", str(planted), *FAST[1:]]):
        line = one_line_error(capsys, *args)
        assert "model.safetensors is not a readable" in line, args
    assert not marker.exists()


def _fill_the_disk_at(monkeypatch, call):
    """Make the `call`-th checkpoint write run into a 4 KiB file size limit: a real failed write
    through torch's own writer, as a full disk gives, with the limit lifted afterwards."""
    import taskkit.storage.checkpoints

    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) != call:
            return real_save(obj, f, *args, **kwargs)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        try:
            return real_save(obj, f, *args, **kwargs)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, previous)

    monkeypatch.setattr(taskkit.storage.checkpoints.torch, "save", save)


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one_and_exits_1(capsys, tmp_path, monkeypatch):
    _fill_the_disk_at(monkeypatch, call=3)  # the start, epoch 1, then epoch 2's last.ckpt
    code, _, err = tk_in_process(capsys, *FAST, "--out", str(tmp_path), "--name", "full")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"error: could not write {tmp_path / 'full' / 'last.ckpt'}")
    assert "its previous version is kept; the last good checkpoint is" in lines[0]
    assert load_state(tmp_path / "full" / "last.ckpt")["fit"]["epoch"] == 1
    assert not [p for p in (tmp_path / "full").iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    code, _, err = tk_in_process(capsys, "classify", "--resume", str(tmp_path / "full"), "--quiet")
    assert code == 0, err
    assert load_state(tmp_path / "full" / "last.ckpt")["fit"]["epoch"] == 3


def _interrupt_at_step(monkeypatch, step):
    """Send this process a real SIGINT at the `step`-th optimizer step, as Ctrl-C does."""
    real_step, calls = torch.optim.AdamW.step, []

    def step_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == step:
            signal.raise_signal(signal.SIGINT)
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_interrupt)


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler, unblocked, as a `tk` started from a terminal has it, whatever a
    library loaded earlier in this test process changed; the handler is restored afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("step", [3, 20])  # in epoch 1, before any epoch ended; in epoch 2
def test_ctrl_c_leaves_a_checkpoint_that_resumes_to_the_uninterrupted_weights(capsys, tmp_path, monkeypatch, step,
                                                                               python_sigint):
    code, _, err = tk_in_process(capsys, *FAST, "--out", str(tmp_path), "--name", "whole")
    assert code == 0, err
    _interrupt_at_step(monkeypatch, step)  # 3 classes: 14 steps an epoch
    code, _, err = tk_in_process(capsys, *FAST, "--out", str(tmp_path), "--name", "stopped")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 130 and len(lines) == 1, err
    done = "at its start" if step < 14 else "after epoch 1"
    assert lines[0] == (f"error: interrupted; {tmp_path / 'stopped'}/last.ckpt holds the run {done}: "
                        f"continue with `tk classify --resume {tmp_path / 'stopped'}`")
    monkeypatch.undo()
    code, _, err = tk_in_process(capsys, "classify", "--resume", str(tmp_path / "stopped"), "--quiet")
    assert code == 0, err
    whole, resumed = (load_file(tmp_path / n / "model.safetensors") for n in ("whole", "stopped"))
    assert all(whole[k].equal(resumed[k]) for k in whole)


def test_runs_started_at_once_with_one_name_get_directories_of_their_own(tmp_path):
    claimed, start = [], threading.Barrier(8)

    def claim():
        start.wait()
        claimed.append(claim_run_dir(tmp_path, "same"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p.name for p in claimed) == sorted(["same"] + [f"same-{n}" for n in range(2, 9)])


def test_a_plugin_replacing_a_builtin_says_so(caplog):
    from taskkit.registry import Registry, registering_as

    losses = Registry("loss", "losses")
    with registering_as("losses"):
        losses.register("focal")(object)
    with registering_as("shadow"), caplog.at_level("WARNING", logger="taskkit"):
        losses.register("focal", override=True)(dict)
    assert [r.getMessage() for r in caplog.records] == ["plugin 'shadow' replaces loss 'focal' of plugin 'losses'"]
    assert losses.get("focal") is dict and losses.entry("focal").replaces == "losses"


def _task_args(task, tmp_path):
    """A small run of each task other than classify (tested above), all with AdamW so steps can be counted."""
    import random

    from bad_input_data import review, tagged_sentences
    from taskkit.registries import BACKBONES
    from taskkit.segmentation.shapes import write_shapes

    common = ["--epochs", "3", "--optimizer", "adamw", "--quiet", "--device", "cpu"]
    if task == "finetune":
        from safetensors.torch import save_file

        state = BACKBONES.build("resnet18", in_channels=1, img_size=8).state_dict()
        save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "resnet18.safetensors")
        return ["finetune", "--backbone", "resnet18", "--weights", str(tmp_path / "resnet18.safetensors"),
                "--freeze", "2", "--img-size", "8", "--data", "digits", "--classes", "0,1,2", "--batch-size", "32",
                *common]
    if task == "text":
        rng = random.Random(0)
        rows = [f"{review(rng, i % 2 == 1)},{i % 2}" for i in range(400)]
        (tmp_path / "reviews.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
        return ["text", "--data", str(tmp_path / "reviews.csv"), "--hidden", "16", "--batch-size", "16", *common]
    if task == "tag":
        (tmp_path / "tagged.conll").write_text(tagged_sentences(240), encoding="utf-8")
        return ["tag", "--data", str(tmp_path / "tagged.conll"), "--hidden", "16", "--batch-size", "16", *common]
    data = write_shapes(tmp_path / "shapes", count=48, size=32, seed=1)
    return ["segment", "--data", str(data), "--backbone", "segnet_small", "--head", "segnet", "--batch-size", "8",
            *common]


def _error_lines(err):
    """The error lines of stderr, which must end it (finetune says first which weights it loaded)."""
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors and lines[-1] == errors[-1], err
    return errors


@pytest.mark.slow  # four tasks, three runs each
@pytest.mark.parametrize("task", ["finetune", "text", "tag", "segment"])
def test_every_task_survives_ctrl_c_and_a_full_disk(capsys, tmp_path, monkeypatch, task):
    args = _task_args(task, tmp_path)
    steps = []
    real_step = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, *a, **k: steps.append(1) or real_step(self, *a, **k))
    code, _, err = tk_in_process(capsys, *args, "--out", str(tmp_path), "--name", "whole")
    assert code == 0, err
    monkeypatch.undo()
    per_epoch = len(steps) // 3
    _interrupt_at_step(monkeypatch, per_epoch + per_epoch // 2)  # the middle of epoch 2
    code, _, err = tk_in_process(capsys, *args, "--out", str(tmp_path), "--name", "stopped")
    lines = _error_lines(err)
    assert code == 130 and len(lines) == 1, err
    assert lines[0] == (f"error: interrupted; {tmp_path / 'stopped'}/last.ckpt holds the run after epoch 1: "
                        f"continue with `tk {task} --resume {tmp_path / 'stopped'}`")
    monkeypatch.undo()
    code, _, err = tk_in_process(capsys, task, "--resume", str(tmp_path / "stopped"), "--quiet")
    assert code == 0, err
    whole, resumed = (load_file(tmp_path / n / "model.safetensors") for n in ("whole", "stopped"))
    assert whole.keys() == resumed.keys() and all(whole[k].equal(resumed[k]) for k in whole)

    _fill_the_disk_at(monkeypatch, call=3)
    code, _, err = tk_in_process(capsys, *args, "--out", str(tmp_path), "--name", "full")
    lines = _error_lines(err)
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"error: could not write {tmp_path / 'full' / 'last.ckpt'}")
    assert load_state(tmp_path / "full" / "last.ckpt")["fit"]["epoch"] == 1
    monkeypatch.undo()
    code, _, err = tk_in_process(capsys, task, "--resume", str(tmp_path / "full"), "--quiet")
    assert code == 0, err
    assert load_state(tmp_path / "full" / "last.ckpt")["fit"]["epoch"] == 3
