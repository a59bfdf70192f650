"""Training in several processes: torchrun with gloo on the CPU, `--devices`, shards and reductions."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from conftest import one_line_error, wait_for
from taskkit.data import load_image_data
from taskkit.train.distributed import Replicated, Shard, shard_loader
from taskkit.train.engine import Evaluation, FitState, StepOptions, evaluate, train_one_epoch
from taskkit.errors import TrainingError
from taskkit.text.batching import BucketBatchSampler

TORCHRUN = [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc-per-node", "2"]
DIGITS = ["classify", "--data", "digits", "--backbone", "lenet", "--epochs", "3", "--batch-size", "32",
          "--device", "cpu", "--quiet"]


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("TK_PLUGINS", "TK_DISABLE_PLUGIN_AUTOLOAD")}
    return {**env, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("torchrun")
    result = subprocess.run([*TORCHRUN, "-m", "taskkit", *DIGITS, "--out", str(out), "--name", "whole", "--json"],
                            capture_output=True, text=True, env=_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_torchrun_writes_one_run_scored_on_the_whole_splits(two_process_run):
    out, result = two_process_run
    assert [p.name for p in out.iterdir()] == ["whole"]  # rank 1 claimed nothing
    printed = json.loads(result.stdout)  # one report: rank 0 alone printed
    record = json.loads((out / "whole" / "run.json").read_text())
    data = load_image_data("digits", val_split=0.1, test_split=0.1, seed=0)
    assert record["processes"] == 2
    assert record["evaluated"] == {"val": len(data.val), "test": len(data.test)}
    assert printed["test"]["samples"] == record["metrics"]["test"]["samples"] == len(data.test)
    rows = list(csv.DictReader(open(out / "whole" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert record["metrics"]["test"]["accuracy"] > 0.8


def test_a_two_process_run_resumes_and_continues(two_process_run, tmp_path):
    import shutil

    whole_out, _ = two_process_run
    shutil.copytree(whole_out / "whole", tmp_path / "more")
    resumed = subprocess.run([*TORCHRUN, "-m", "taskkit", "classify", "--resume", str(tmp_path / "more"),
                              "--epochs", "4", "--quiet"], capture_output=True, text=True, env=_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rows = list(csv.DictReader(open(tmp_path / "more" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    first = list(csv.DictReader(open(whole_out / "whole" / "metrics.csv")))
    assert rows[:3] == first  # the three epochs it had are kept as they were
    record = json.loads((tmp_path / "more" / "run.json").read_text())
    assert record["epochs_run"] == 4 and record["processes"] == 2


@pytest.mark.slow
def test_a_killed_two_process_run_resumes_to_the_same_weights(two_process_run, tmp_path):
    whole_out, _ = two_process_run
    victim = subprocess.Popen([*TORCHRUN, "-m", "taskkit", *DIGITS, "--out", str(tmp_path), "--name", "killed"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                              start_new_session=True)
    wait_for(tmp_path / "killed" / "metrics.csv", victim, timeout=300)
    os.killpg(victim.pid, signal.SIGKILL)  # torchrun and both processes, mid-epoch 2
    victim.wait()
    assert len(list(csv.DictReader(open(tmp_path / "killed" / "metrics.csv")))) < 3
    resumed = subprocess.run([sys.executable, "-m", "taskkit", "classify", "--resume", str(tmp_path / "killed"),
                              "--devices", "2", "--quiet"], capture_output=True, text=True, env=_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    whole, killed = (load_file(d / "model.safetensors") for d in (whole_out / "whole", tmp_path / "killed"))
    assert whole.keys() == killed.keys() and all(whole[k].equal(killed[k]) for k in whole)
    assert len(list(csv.DictReader(open(tmp_path / "killed" / "metrics.csv")))) == 3


@pytest.mark.parametrize("pad", [True, False])
def test_shards_split_one_order_between_processes(monkeypatch, pad):
    source = list(range(7))
    shards = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        shard = Shard(source, pad=pad)
        shards.append(list(shard))
        assert len(shard) == len(shards[-1])
    if pad:  # training: as many steps in each, every item at least once
        assert len(shards[0]) == len(shards[1]) == 4 and set(shards[0] + shards[1]) == set(source)
    else:  # evaluation: consecutive blocks, each item exactly once, back in order when joined
        assert shards[0] + shards[1] == source


def test_sampled_and_bucketed_orders_are_sharded_alike_in_every_process(monkeypatch):
    """Each process reseeds the loader's generator alike, so its shard is its part of one order."""
    dataset = TensorDataset(torch.arange(40).float(), torch.arange(40))

    def drawn(rank, make):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        generator = torch.Generator().manual_seed(5)
        return list(shard_loader(make(generator), train=True).batch_sampler)

    for make in (lambda g: DataLoader(dataset, batch_size=4, sampler=WeightedRandomSampler(torch.ones(40), 40,
                                                                                           generator=g)),
                 lambda g: DataLoader(dataset, batch_sampler=BucketBatchSampler(list(range(40)), 4, g))):
        first, second = drawn(0, make), drawn(1, make)
        assert len(first) == len(second) == 5
        whole = list(make(torch.Generator().manual_seed(5)).batch_sampler)
        flat = [i for batch in whole for i in batch] if isinstance(whole[0], list) else whole
        assert sorted(i for b in first + second for i in b) == sorted(flat)


def test_evaluations_of_consecutive_shards_combine_to_the_whole_sets():
    from taskkit.segmentation.metrics import DenseEvaluation

    torch.manual_seed(0)
    model, loss = nn.Linear(3, 4), nn.CrossEntropyLoss()
    dataset = TensorDataset(torch.randn(21, 3), torch.randint(0, 4, (21,)))
    options = StepOptions(device=torch.device("cpu"))
    whole = evaluate(model, DataLoader(dataset, batch_size=5), loss, options)
    parts = [evaluate(model, DataLoader(torch.utils.data.Subset(dataset, r), batch_size=5), loss, options)
             for r in (range(0, 10), range(10, 21))]
    joined = Evaluation.combine(parts)
    assert joined.samples == whole.samples == 21
    assert joined.loss == pytest.approx(whole.loss, rel=1e-6) and joined.logits.equal(whole.logits)
    dense = DenseEvaluation.combine([DenseEvaluation(1.0, 2, torch.eye(2, dtype=torch.long)),
                                     DenseEvaluation(4.0, 1, torch.ones(2, 2, dtype=torch.long))])
    assert dense.images == 3 and dense.loss == pytest.approx(2.0) and dense.confusion.tolist() == [[2, 1], [1, 2]]


def test_every_process_stops_when_any_one_meets_a_nan():
    """A finite loss here, but another process reports a bad one: this one stops at the same step."""
    model = nn.Linear(3, 2)
    loader = DataLoader(TensorDataset(torch.randn(8, 3), torch.randint(0, 2, (8,))), batch_size=4)
    other_went_bad = StepOptions(device=torch.device("cpu"), reduce=lambda flag: flag + 1)
    with pytest.raises(TrainingError, match="epoch 1, at or before step 1"):
        train_one_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), None,
                        other_went_bad, FitState(epochs=1))


def test_epoch_sums_come_from_every_process():
    model = nn.Linear(3, 2)
    loader = DataLoader(TensorDataset(torch.randn(8, 3), torch.randint(0, 2, (8,))), batch_size=4)
    seen_by_reduce = []

    def reduce(tensor):
        seen_by_reduce.append(tensor.clone())
        return tensor * 2 if tensor.dim() else tensor  # the epoch's sums as if a twin process had the same

    row = train_one_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.0), None,
                          StepOptions(device=torch.device("cpu"), reduce=reduce), FitState(epochs=1))
    sums = seen_by_reduce[-1]
    assert sums[1] == 8  # samples seen here, before the reduction
    assert row["train_loss"] == pytest.approx(float(sums[0]) / 8)


def test_the_replica_is_rebuilt_when_a_stage_is_unfrozen(tmp_path):
    """DDP averages only what trained when it was built, so unfreezing needs a new replica."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
        model[0].requires_grad_(False)
        replicated = Replicated(model, torch.device("cpu")).train()
        replicated(torch.randn(2, 3)).sum().backward()
        first = replicated.replica
        assert model[0].weight.grad is None
        replicated(torch.randn(2, 3)).sum().backward()
        assert replicated.replica is first  # nothing changed: the same replica
        model[0].requires_grad_(True)
        replicated(torch.randn(2, 3)).sum().backward()
        assert replicated.replica is not first and model[0].weight.grad is not None
        assert replicated.eval()(torch.randn(2, 3)).shape == (2, 2)  # evaluation calls the model itself
        assert set(replicated.state_dict()) == {f"model.{k}" for k in model.state_dict()}
    finally:
        dist.destroy_process_group()


def test_devices_mistakes_are_one_line(capsys):
    assert "--devices must be a positive whole number" in one_line_error(capsys, "classify", "--devices", "0")
    assert "train in one process" in one_line_error(capsys, "cv", "classify", "--folds", "2", "--devices", "2")


@pytest.mark.slow
@pytest.mark.parametrize("task", ["text", "oversample", "segment", "unfreeze"])
def test_every_kind_of_loader_trains_in_two_processes(task, tmp_path):
    """Bucketed text batches, a weighted sampler, pixel counts, and a replica rebuilt on unfreezing."""
    import torchvision

    from taskkit.segmentation.shapes import write_shapes
    from test_text import write_reviews

    if task == "text":
        args = ["text", "--data", str(write_reviews(tmp_path / "reviews.csv", count=400)), "--epochs", "2",
                "--hidden", "16", "--embedding-dim", "16"]
    elif task == "oversample":
        args = ["classify", "--data", "digits", "--epochs", "1", "--balance", "oversample"]
    elif task == "segment":
        args = ["segment", "--data", str(write_shapes(tmp_path / "shapes", count=24, size=32, seed=1)), "--epochs", "1"]
    else:
        torch.save(torchvision.models.resnet18(num_classes=1000).state_dict(), tmp_path / "resnet18.pth")
        args = ["finetune", "--data", "digits", "--classes", "0,1,2", "--backbone", "resnet18", "--weights",
                str(tmp_path / "resnet18.pth"), "--no-small-input", "--img-size", "32", "--freeze", "2",
                "--unfreeze-at", "2", "--epochs", "2"]
    out = tmp_path / "runs"
    result = subprocess.run([sys.executable, "-m", "taskkit", *args, "--devices", "2", "--quiet", "--out", str(out),
                             "--name", "run"], capture_output=True, text=True, env=_env(), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "run" / "run.json").read_text())
    assert record["processes"] == 2 and record["evaluated"]["test"] == record["metrics"]["test"]["samples"]
    assert [p.name for p in out.iterdir()] == ["run"]
