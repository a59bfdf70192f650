"""`tk finetune`: frozen stages stay bit-identical, previews, refusals, resume across unfreezing."""

import csv
import json
import signal
import subprocess
import sys

import pytest
import torch
import torchvision
from safetensors.torch import load_file, save_file

from conftest import one_line_error, tk_in_process, wait_for
from taskkit.registries import BACKBONES
from taskkit.tasks.finetune import run as finetune_run
from taskkit.train import training

FAST = ["--classes", "0,1,2", "--batch-size", "32", "--quiet", "--device", "cpu"]


def state_of(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.fixture
def spies(monkeypatch):
    """The freezer (with its model, snapshotted once the weights are in) and the optimizer of a run."""
    seen = {}

    class SpyFreezer(finetune_run.StageFreezer):
        def __init__(self, model, *args, **kwargs):
            super().__init__(model, *args, **kwargs)
            seen["freezer"] = self
            seen["stages"] = [state_of(stage) for stage in self.stages]
            seen["head"] = state_of(model.head)

    real_build = training.build_optimizer

    def spy_build(*args, **kwargs):
        seen["optimizer"] = real_build(*args, **kwargs)
        return seen["optimizer"]

    monkeypatch.setattr(finetune_run, "StageFreezer", SpyFreezer)
    monkeypatch.setattr(training, "build_optimizer", spy_build)
    return seen


def weights_file(tmp_path, backbone):
    """A checkpoint as each library writes one: a tk backbone file, or a whole timm/torchvision classifier."""
    torch.manual_seed(3)
    if backbone == "resnet18":
        state = BACKBONES.build("resnet18", in_channels=1, img_size=8).state_dict()
        save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "resnet18.safetensors")
        return tmp_path / "resnet18.safetensors"
    if backbone == "timm/resnet10t":
        import timm

        state = timm.create_model("resnet10t", num_classes=1000).state_dict()
    else:
        state = torchvision.models.resnet18(num_classes=1000).state_dict()
    torch.save(state, tmp_path / "checkpoint.pth")
    return tmp_path / "checkpoint.pth"


@pytest.mark.parametrize("backbone,img_size", [("resnet18", "8"), ("timm/resnet10t", "32"), ("tv/resnet18", "32")])
def test_freeze_3_keeps_the_stem_and_three_stages_bit_identical(capsys, tmp_path, spies, backbone, img_size):
    path = weights_file(tmp_path, backbone)
    code, _, err = tk_in_process(capsys, "finetune", "--backbone", backbone, "--weights", str(path), "--freeze", "3",
                                 "--img-size", img_size, "--epochs", "2", "--lr", "0.01", *FAST,
                                 "--out", str(tmp_path), "--name", "ft")
    assert code == 0, err
    assert f"loaded {len(spies['freezer'].model.backbone.state_dict())} tensors of {backbone}" in err
    assert ("skipped 2 (the old classifier; the head is new): fc.weight, fc.bias" in err) == (backbone != "resnet18")
    freezer, optimizer = spies["freezer"], spies["optimizer"]
    model = freezer.model  # holds the best epoch's weights after the test evaluation
    for index, (stage, before) in enumerate(zip(freezer.stages, spies["stages"])):
        after = stage.state_dict()
        same = all(after[k].equal(before[k]) for k in before)
        assert same == (index < 4), f"stage {freezer.names[index]} {'changed' if index < 4 else 'did not change'}"
    assert any(not model.head.state_dict()[k].equal(v) for k, v in spies["head"].items())
    frozen = {id(p) for stage in freezer.stages[:4] for p in stage.parameters()}
    assert not frozen & {id(p) for group in optimizer.param_groups for p in group["params"]}
    record = json.loads((tmp_path / "ft" / "run.json").read_text())
    assert record["task"] == "finetune" and record["freezing"]["frozen_entries"] == 4
    assert record["weights"]["loaded"] == len(model.backbone.state_dict())
    saved = load_file(tmp_path / "ft" / "model.safetensors")
    assert saved.keys() == model.state_dict().keys()


def test_freeze_beyond_the_stages_exits_2_listing_them(capsys, tmp_path):
    path = weights_file(tmp_path, "resnet18")
    line = one_line_error(capsys, "finetune", "--backbone", "resnet18", "--weights", str(path), "--freeze", "9",
                          *FAST, "--out", str(tmp_path))
    assert "stem, layer1, layer2, layer3, layer4" in line and "0 to 4, or all" in line
    assert not any(tmp_path.glob("finetune*"))


def test_dry_run_prints_the_stage_table_and_trains_nothing(capsys, tmp_path):
    path = weights_file(tmp_path, "resnet18")
    code, out, err = tk_in_process(capsys, "finetune", "--backbone", "resnet18", "--weights", str(path),
                                   "--freeze", "2", "--unfreeze-at", "3", "--lr-decay", "0.5", "--dry-run",
                                   "--json", *FAST, "--out", str(tmp_path))
    assert code == 0, err
    table = json.loads(out)
    rows = {row["stage"]: row for row in table["stages"]}
    assert list(rows) == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert [rows[s]["trainable"] for s in rows] == ["from epoch 5", "from epoch 4", "from epoch 3", "yes", "yes", "yes"]
    assert rows["layer1"]["bn"] == "eval" and rows["layer3"]["bn"] == "train"
    assert rows["layer4"]["parameters"] == 8393728 and rows["layer3"]["lr_scale"] == 0.25
    assert "loaded 120 tensors of resnet18" in table["weights"]
    assert list(tmp_path.iterdir()) == [path]


def test_refusals_are_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TK_OFFLINE", "1")
    line = one_line_error(capsys, "finetune", "--freeze", "3", *FAST, "--out", str(tmp_path))
    assert "could not fetch the pretrained weights of resnet18" in line and "--weights FILE" in line
    line = one_line_error(capsys, "finetune", "--backbone", "lenet", *FAST, "--out", str(tmp_path))
    assert "'lenet' has no published pretrained weights" in line
    small = weights_file(tmp_path, "resnet18")
    line = one_line_error(capsys, "finetune", "--weights", str(small), "--img-size", "64", *FAST, "--out", str(tmp_path))
    assert "conv1.weight is 64x1x3x3 in the file but 64x1x7x7 in the backbone" in line
    line = one_line_error(capsys, "finetune", "--weights", str(small), "--bn", "off", *FAST, "--out", str(tmp_path))
    assert "--bn must be eval, train or frozen" in line


@pytest.fixture(scope="module")
def lenet_source(tmp_path_factory):
    """A LeNet trained for one epoch on digits 0-4: the starting point of the resume test."""
    out = tmp_path_factory.mktemp("source")
    subprocess.run([sys.executable, "-m", "taskkit", "classify", "--backbone", "lenet", "--classes", "0,1,2,3,4",
                    "--epochs", "1", "--quiet", "--out", str(out), "--name", "digits04"], check=True,
                   capture_output=True)
    return out / "digits04"


def test_a_run_directory_gives_its_backbone_and_another_is_refused(capsys, tmp_path, lenet_source):
    line = one_line_error(capsys, "finetune", "--weights", str(lenet_source), "--backbone", "resnet18", *FAST,
                          "--out", str(tmp_path))
    assert "trained backbone 'lenet', not 'resnet18'" in line
    code, out, err = tk_in_process(capsys, "finetune", "--weights", str(lenet_source), "--classes", "5,6,7,8,9",
                                   "--freeze", "1", "--epochs", "3", "--lr", "0.003", "--quiet",
                                   "--out", str(tmp_path), "--name", "ft", "--json")
    assert code == 0, err
    assert json.loads(out)["test"]["accuracy"] > 0.8
    code, out, err = tk_in_process(capsys, "eval", str(tmp_path / "ft"), "--json")
    assert code == 0, err
    assert json.loads(out)["test"]["samples"] > 0


@pytest.mark.slow  # three processes, about 30 s
def test_resume_across_an_unfreezing_matches_an_uninterrupted_run(tmp_path, lenet_source):
    args = [sys.executable, "-m", "taskkit", "finetune", "--weights", str(lenet_source), "--classes", "5,6,7,8,9",
            "--freeze", "1", "--unfreeze-at", "2", "--lr-decay", "0.5", "--epochs", "3", "--batch-size", "8",
            "--quiet", "--device", "cpu", "--out", str(tmp_path)]
    subprocess.run([*args, "--name", "whole"], check=True, capture_output=True)
    victim = subprocess.Popen([*args, "--name", "killed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / "killed" / "metrics.csv", victim)
    victim.send_signal(signal.SIGKILL)  # inside epoch 2, the first with conv2 unfrozen
    victim.wait()
    assert len(list(csv.DictReader(open(tmp_path / "killed" / "metrics.csv")))) == 1
    resumed = subprocess.run([sys.executable, "-m", "taskkit", "finetune", "--resume", str(tmp_path / "killed"),
                              "--quiet"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    last = [torch.load(tmp_path / d / "last.ckpt", weights_only=True) for d in ("whole", "killed")]
    assert all(last[0]["model"][k].equal(last[1]["model"][k]) for k in last[0]["model"])
    assert [g["name"] for g in last[1]["optimizer"]["param_groups"]][::2] == ["head", "fc", "conv2", "stem"]
    whole, killed = (load_file(tmp_path / d / "model.safetensors") for d in ("whole", "killed"))
    assert all(whole[k].equal(killed[k]) for k in whole)


def test_without_weights_the_published_ones_are_used_from_torch_s_cache(capsys, tmp_path, monkeypatch):
    """The online path, without a network: torch.hub finds the file already in its cache."""
    from torchvision.models import ResNet18_Weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("TK_OFFLINE", raising=False)
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.manual_seed(4)
    published = torchvision.models.resnet18().state_dict()
    torch.save(published, cache / ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1])
    code, out, err = tk_in_process(capsys, "finetune", "--backbone", "resnet", "--freeze", "3", "--epochs", "1",
                                   *FAST, "--out", str(tmp_path), "--name", "imagenet", "--json")
    assert code == 0, err
    assert "loaded 120 tensors of resnet from torchvision's resnet18 weights" in err
    record = json.loads((tmp_path / "imagenet" / "run.json").read_text())
    assert record["model"]["img_size"] == 64 and record["model"]["backbone_options"] == {"small_input": False}
    assert record["model"]["in_channels"] == 1 and record["weights"]["adapted"] == ["conv1.weight"]
    saved = load_file(tmp_path / "imagenet" / "model.safetensors")
    assert saved["backbone.layer2.0.conv1.weight"].equal(published["layer2.0.conv1.weight"])
    assert json.loads(out)["test"]["samples"] > 0


def test_info_says_where_the_pretrained_weights_come_from(capsys):
    for name, expected in (("resnet", "torchvision's published resnet18 weights"),
                           ("tv/resnet18", "its library's published weights"),
                           ("lenet", "none published; tk finetune needs --weights")):
        code, out, err = tk_in_process(capsys, "info", name)
        assert code in (0, None), err
        assert f"pretrained weights: {expected}" in out
