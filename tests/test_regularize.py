"""`--mixup`, `--cutmix`, `--l1` and `--ema`: mixed batches, the penalty, the weight average, and runs."""

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from conftest import one_line_error, tk_in_process
from taskkit.train.engine import FitState, StepOptions, train_one_epoch
from taskkit.registries import LOSSES
from taskkit.train.regularize import BatchMixer, L1Penalty, Regularizer, WeightAverage, apply_mix

CPU = torch.device("cpu")
FAST = ["classify", "--data", "digits", "--backbone", "linear", "--quiet", "--device", "cpu"]


def batch(size=8, classes=5, side=6):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(size, 1, side, side, generator=generator)
    return images, torch.randint(0, classes, (size,), generator=generator)


def test_mixup_blends_images_and_labels_by_the_drawn_lambda_and_repeats_from_the_seed():
    images, labels = batch()
    mixer = BatchMixer(5, mixup=0.4)
    torch.manual_seed(3)
    mix = mixer.draw(8, 6, 6)
    mixed, targets = apply_mix(mix, images, labels, 5)
    one_hot = F.one_hot(labels, 5).float()
    assert mix.kind == "mixup" and 0 < mix.lam < 1 and sorted(mix.perm.tolist()) == list(range(8))
    torch.testing.assert_close(mixed, mix.lam * images + (1 - mix.lam) * images[mix.perm])
    torch.testing.assert_close(targets, mix.lam * one_hot + (1 - mix.lam) * one_hot[mix.perm])
    torch.testing.assert_close(targets.sum(1), torch.ones(8))
    torch.manual_seed(3)
    again = mixer(images, labels)
    assert torch.equal(again[0], mixed) and torch.equal(again[1], targets)
    torch.manual_seed(4)
    assert not torch.equal(mixer(images, labels)[1], targets)


def test_cutmix_pastes_one_box_and_its_area_is_the_partner_label_share():
    size, side = 6, 16
    images = torch.arange(1.0, size + 1).view(size, 1, 1, 1).expand(size, 3, side, side).contiguous()
    labels = torch.arange(size)
    mixer = BatchMixer(size, cutmix=1.0)
    pasted_any = False
    for seed in range(8):
        torch.manual_seed(seed)
        mix = mixer.draw(size, side, side)
        mixed, targets = apply_mix(mix, images, labels, size)
        torch.testing.assert_close(targets.sum(1), torch.ones(size))
        top, bottom, left, right = mix.box
        for i in range(size):
            partner = int(mix.perm[i])
            from_partner = mixed[i] == partner + 1
            share = from_partner[0].float().mean().item()
            if partner != i:
                box_area = (bottom - top) * (right - left)
                assert from_partner[:, top:bottom, left:right].all() and from_partner.sum() == 3 * box_area
                assert targets[i, partner].item() == pytest.approx(share) == box_area / side**2
                assert targets[i, i].item() == pytest.approx(1 - share)
                pasted_any |= share > 0
            else:
                assert targets[i, i].item() == pytest.approx(1.0)
    assert pasted_any


def test_with_both_alphas_each_batch_takes_one_about_half_the_time():
    mixer = BatchMixer(5, mixup=0.2, cutmix=1.0)
    torch.manual_seed(0)
    kinds = [mixer.draw(4, 8, 8).kind for _ in range(400)]
    assert 150 < kinds.count("cutmix") < 250 and kinds.count("mixup") == 400 - kinds.count("cutmix")


@pytest.mark.parametrize("name", ["cross-entropy", "label-smoothing", "focal", "bce", "binary-focal"])
def test_classification_losses_take_soft_targets(name):
    logits = torch.randn(8, 5, requires_grad=True)
    images, labels = batch()
    torch.manual_seed(0)
    _, soft = BatchMixer(5, mixup=1.0)(images, labels)
    loss = LOSSES.build(name)
    value = loss(logits, soft)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    torch.testing.assert_close(loss(logits, F.one_hot(labels, 5).float()), loss(logits, labels))
    assert not torch.allclose(value, loss(logits, labels))


def test_cross_entropy_smooths_soft_targets_as_it_smooths_indices():
    logits, labels = torch.randn(8, 5), batch()[1]
    smoothed = LOSSES.build("cross-entropy", label_smoothing=0.1)
    torch.testing.assert_close(smoothed(logits, F.one_hot(labels, 5).float()), smoothed(logits, labels))
    assert smoothed(logits, labels) != LOSSES.build("cross-entropy")(logits, labels)


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(48, 5))


def test_l1_penalty_is_lambda_times_the_decayed_weights_only():
    model = small_net()
    conv, linear = model[0], model[3]
    expected = 0.01 * (conv.weight.abs().sum() + linear.weight.abs().sum())
    penalty = L1Penalty(model, 0.01)
    torch.testing.assert_close(penalty(), expected)
    conv.weight.requires_grad_(False)
    torch.testing.assert_close(penalty(), 0.01 * linear.weight.abs().sum())


def test_training_loss_grows_by_exactly_the_penalty():
    model = small_net()
    loader = [batch() for _ in range(3)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    plain = train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, None, StepOptions(CPU), FitState(1))
    penalty = L1Penalty(model, 0.05)
    options = StepOptions(CPU, regularizer=Regularizer(penalty=penalty))
    with_l1 = train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, None, options, FitState(1))
    assert with_l1["train_loss"] - plain["train_loss"] == pytest.approx(penalty().item(), rel=1e-5)


def test_weight_average_is_an_exponential_moving_average_of_weights_and_buffers():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    average = WeightAverage(model, 0.9)
    average.update()  # the first update copies
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model(torch.randn(4, 3))  # moves the running statistics
    average.update()
    now = model.state_dict()
    for key in ("0.weight", "0.bias", "1.running_mean", "1.running_var"):
        torch.testing.assert_close(average.module.state_dict()[key], 0.9 * before[key] + 0.1 * now[key])
    assert not torch.equal(average.module.state_dict()["0.weight"], now["0.weight"])


def test_mixup_run_learns_digits_and_reports_dominant_label_accuracy(capsys, tmp_path):
    code, out, err = tk_in_process(capsys, "classify", "--data", "digits", "--epochs", "2", "--mixup", "0.2",
                                   "--quiet", "--device", "cpu", "--json", "--out", str(tmp_path))
    assert code == 0, err
    assert json.loads(out)["test"]["accuracy"] >= 0.85
    history = json.loads((tmp_path / "classify" / "run.json").read_text())["metrics"]["history"]
    assert history[-1]["train_acc"] > 0.6


def test_ema_run_saves_the_average_reruns_from_its_config_and_resumes_exactly(capsys, tmp_path):
    common = [*FAST, "--scheduler", "none", "--ema", "0.9", "--mixup", "0.2", "--cutmix", "1.0", "--l1", "1e-4",
              "--out", str(tmp_path)]
    assert tk_in_process(capsys, *common, "--epochs", "1", "--name", "part")[0] == 0
    part = tmp_path / "part"
    saved, best = torch.load(part / "last.ckpt", weights_only=True), load_file(part / "model.safetensors")
    assert all(torch.equal(best[k], saved["ema"][f"module.{k}"]) for k in best)
    assert not all(torch.equal(best[k], saved["model"][k]) for k in best)

    assert tk_in_process(capsys, *FAST, "--config", str(part / "config.yaml"))[0] == 0
    rerun = load_file(tmp_path / "part-2" / "model.safetensors")
    assert all(torch.equal(best[k], rerun[k]) for k in best)

    assert tk_in_process(capsys, "classify", "--resume", str(part), "--epochs", "2", "--quiet")[0] == 0
    assert tk_in_process(capsys, *common, "--epochs", "2", "--name", "whole")[0] == 0
    resumed, whole = (torch.load(tmp_path / d / "last.ckpt", weights_only=True) for d in ("part", "whole"))
    for key in ("model", "ema"):
        assert all(torch.equal(resumed[key][k], whole[key][k]) for k in whole[key]), key
    assert resumed["fit"]["history"][-1]["epoch"] == 2
    best = [load_file(tmp_path / d / "model.safetensors") for d in ("part", "whole")]
    assert all(torch.equal(best[0][k], best[1][k]) for k in best[1])


@pytest.mark.parametrize("args, message", [
    (["--mixup", "-0.2"], "--mixup must not be negative"),
    (["--cutmix", "-1"], "--cutmix must not be negative"),
    (["--l1", "-0.1"], "--l1 must not be negative"),
    (["--ema", "1"], "--ema must be in [0, 1)"),
    (["--ema", "-0.5"], "--ema must be in [0, 1)"),
    (["--loss", "mse", "--cutmix", "1"], "loss 'mse' cannot learn from the mixed labels"),
])
def test_bad_values_are_one_line(capsys, tmp_path, args, message):
    assert message in one_line_error(capsys, *FAST, *args, "--out", str(tmp_path))
    assert not (tmp_path / "classify").exists()


def test_sequence_and_segmentation_tasks_get_l1_and_ema_but_no_mixing(capsys):
    for task in ("text", "tag", "segment", "finetune"):
        code, out, _ = tk_in_process(capsys, task, "--help")
        assert code == 0 and "--l1" in out and "--ema" in out
        assert ("--mixup" in out and "--cutmix" in out) == (task == "finetune"), task


def test_a_text_run_trains_with_l1_and_saves_its_weight_average(capsys, tmp_path):
    from test_text import write_reviews

    corpus = write_reviews(tmp_path / "reviews.csv", count=300)
    code, _, err = tk_in_process(capsys, "text", "--data", str(corpus), "--epochs", "1", "--hidden", "16",
                                 "--embedding-dim", "16", "--l1", "1e-4", "--ema", "0.5", "--quiet", "--device", "cpu",
                                 "--out", str(tmp_path), "--name", "t")
    assert code == 0, err
    saved = torch.load(tmp_path / "t" / "last.ckpt", weights_only=True)
    best = load_file(tmp_path / "t" / "model.safetensors")
    assert all(torch.equal(best[k], saved["ema"][f"module.{k}"]) for k in best)
    assert int(saved["ema"]["n_averaged"]) == saved["fit"]["global_step"]
