"""Class imbalance: `--balance oversample` draws classes evenly, `--balance class-weights` reaches the loss."""

import pytest
import torch
from torch.utils.data import TensorDataset

from taskkit.train.training import TrainOptions, class_weights, make_loaders

NINE_TO_ONE = [0] * 900 + [1] * 100


def _loaders(balance: str, seed: int = 0):
    data = TensorDataset(torch.arange(len(NINE_TO_ONE)), torch.tensor(NINE_TO_ONE))
    options = TrainOptions(batch_size=50, balance=balance)
    generator = torch.Generator().manual_seed(seed)
    return make_loaders(data, data, data, options, NINE_TO_ONE, generator)


def _drawn_counts(loader) -> list[int]:
    labels = torch.cat([targets for _, targets in loader])
    return torch.bincount(labels, minlength=2).tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oversampling_draws_each_class_within_ten_percent_of_even(seed):
    train, val, test = _loaders("oversample", seed)
    counts = _drawn_counts(train)
    assert sum(counts) == 1000  # an epoch is as long as the data
    for count in counts:
        assert abs(count - 500) <= 50
    assert _drawn_counts(val) == _drawn_counts(test) == [900, 100]  # evaluation is never resampled


def test_without_balancing_the_loader_keeps_the_imbalance():
    assert _drawn_counts(_loaders("none")[0]) == [900, 100]


def test_class_weights_reach_cross_entropy_and_focal():
    from taskkit.train.losses import build_loss

    weights = class_weights(NINE_TO_ONE, 2)
    assert weights == pytest.approx([1000 / 1800, 1000 / 200])
    logits, targets = torch.randn(8, 2), torch.tensor([0, 1, 0, 0, 1, 0, 1, 0])
    options = {"loss": "cross-entropy", "label_smoothing": 0.0, "balance": "class-weights"}
    weighted = build_loss(options, NINE_TO_ONE, 2)
    expected = torch.nn.functional.cross_entropy(logits, targets, weight=torch.tensor(weights))
    assert weighted(logits, targets).item() == pytest.approx(expected.item(), rel=1e-5)
    plain = build_loss({**options, "balance": "none"}, NINE_TO_ONE, 2)
    assert plain(logits, targets).item() != pytest.approx(expected.item(), rel=1e-3)
    focal = build_loss({**options, "loss": "focal", "label_smoothing": None}, NINE_TO_ONE, 2)
    assert focal.alpha.tolist() == pytest.approx(weights)


def test_a_loss_without_class_weights_is_refused_in_one_line():
    from taskkit.errors import BadInputError
    from taskkit.train.losses import build_loss

    with pytest.raises(BadInputError, match="takes no class weights"):
        build_loss({"loss": "mse", "label_smoothing": None, "balance": "class-weights"}, NINE_TO_ONE, 2)
