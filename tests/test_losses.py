import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from taskkit.registries import LOSSES


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 5, generator=generator)
    target = torch.randint(0, 5, (16,), generator=generator)
    return logits, target


def test_builtin_losses_are_registered_by_their_plugin():
    assert {"cross-entropy", "bce", "mse", "label-smoothing", "focal", "binary-focal"} <= set(LOSSES.names())
    assert LOSSES.entry("ce").name == "cross-entropy"
    assert {LOSSES.entry(n).plugin for n in LOSSES.names()} >= {"losses"}


def test_focal_with_gamma_zero_is_cross_entropy(batch):
    logits, target = batch
    focal = LOSSES.build("focal", gamma=0.0)
    torch.testing.assert_close(focal(logits, target), F.cross_entropy(logits, target))


def test_focal_matches_a_hand_computed_case():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    target = torch.tensor([0, 2])
    p0 = math.exp(2) / (math.exp(2) + 2)  # true-class probability of example 0
    p1 = 1 / (2 + math.e)  # true-class probability of example 1
    alpha = [0.25, 0.5, 0.75]
    expected = (-0.25 * (1 - p0) ** 2 * math.log(p0) - 0.75 * (1 - p1) ** 2 * math.log(p1)) / 2
    loss = LOSSES.build("focal", gamma=2.0, alpha=alpha)(logits, target)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_focal_down_weights_easy_examples():
    easy = torch.tensor([[6.0, 0.0]])
    hard = torch.tensor([[0.2, 0.0]])
    target = torch.tensor([0])
    focal, ce = LOSSES.build("focal", gamma=2.0), LOSSES.build("cross-entropy")
    assert focal(easy, target) / ce(easy, target) < 0.01
    assert focal(hard, target) / ce(hard, target) > 0.2


def test_focal_handles_segmentation_maps_and_ignore_index():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 4, 4, generator=generator)
    target = torch.randint(0, 3, (2, 4, 4), generator=generator)
    target[0, 0, :] = 255
    focal = LOSSES.build("focal", gamma=0.0, ignore_index=255)
    torch.testing.assert_close(focal(logits, target), F.cross_entropy(logits, target, ignore_index=255))


def test_label_smoothing_matches_torch(batch):
    logits, target = batch
    ours = LOSSES.build("label-smoothing", smoothing=0.2)(logits, target)
    torch.testing.assert_close(ours, F.cross_entropy(logits, target, label_smoothing=0.2))
    target[:3] = -100
    ours = LOSSES.build("label-smoothing", smoothing=0.1)(logits, target)
    torch.testing.assert_close(ours, F.cross_entropy(logits, target, label_smoothing=0.1))


def test_soft_targets_equal_hard_targets_when_one_hot(batch):
    logits, target = batch
    soft = F.one_hot(target, 5).float()
    for name in ("cross-entropy", "label-smoothing", "focal"):
        loss = LOSSES.build(name)
        torch.testing.assert_close(loss(logits, soft), loss(logits, target))


def test_binary_focal_matches_torchvision():
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(32, generator=generator)
    target = torch.randint(0, 2, (32,), generator=generator)
    ours = LOSSES.build("binary-focal", gamma=2.0, alpha=0.25)(logits.unsqueeze(1), target)
    torch.testing.assert_close(ours, sigmoid_focal_loss(logits, target.float(), 0.25, 2.0, "mean"))


def test_bce_mse_and_class_weights(batch):
    logits, target = batch
    binary = torch.tensor([[0.3], [-1.2]])
    labels = torch.tensor([1, 0])
    torch.testing.assert_close(
        LOSSES.build("bce")(binary, labels),
        F.binary_cross_entropy_with_logits(binary.squeeze(1), labels.float()),
    )
    brier = LOSSES.build("mse")(logits, target)
    expected = ((logits.softmax(1) - F.one_hot(target, 5)) ** 2).mean()
    torch.testing.assert_close(brier, expected)
    weights = [1.0, 2.0, 3.0, 4.0, 5.0]
    torch.testing.assert_close(
        LOSSES.build("cross-entropy", weight=weights)(logits, target),
        F.cross_entropy(logits, target, weight=torch.tensor(weights)),
    )


def test_dice_matches_a_hand_computed_case_and_leaves_ignored_pixels_out():
    logits = torch.log(torch.tensor([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])).T.reshape(1, 2, 1, 3)
    target = torch.tensor([[[0, 1, 1]]])
    # class 0: overlap 0.8, |P| 1.7, |Y| 1; class 1: overlap 0.7 + 0.4, |P| 1.3, |Y| 2
    expected = 1 - ((2 * 0.8 + 1) / (2.7 + 1) + (2 * 1.1 + 1) / (3.3 + 1)) / 2
    assert LOSSES.build("dice")(logits, target).item() == pytest.approx(expected, rel=1e-5)
    ignored = torch.tensor([[[0, 1, -100]]])
    first_two = LOSSES.build("dice")(logits[..., :2], target[..., :2])
    assert LOSSES.build("dice")(logits, ignored).item() == pytest.approx(first_two.item(), rel=1e-5)


def test_ce_plus_dice_is_their_sum_and_a_perfect_map_scores_near_zero():
    logits, target = torch.randn(2, 3, 5, 5), torch.randint(0, 3, (2, 5, 5))
    combined = LOSSES.build("ce+dice")(logits, target)
    assert combined.item() == pytest.approx((F.cross_entropy(logits, target) + LOSSES.build("dice")(logits, target)).item())
    perfect = F.one_hot(target, 3).movedim(-1, 1).float() * 30
    assert LOSSES.build("ce+dice")(perfect, target).item() < 1e-6
