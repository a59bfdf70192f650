"""The loop itself: accumulation, clipping, the NaN guard, early stopping, class weights."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from taskkit.train.callbacks import EarlyStopping, format_row
from taskkit.train.engine import FitState, StepOptions, evaluate, train_one_epoch
from taskkit.errors import TrainingError
from taskkit.train.training import class_weights

CPU = torch.device("cpu")


def toy_loader(n=40, batch_size=8):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=generator)
    y = (x[:, 0] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def test_accumulation_steps_once_per_group_of_batches():
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    state = FitState(epochs=1)
    train_one_epoch(model, toy_loader(), nn.CrossEntropyLoss(), optimizer, None, StepOptions(CPU, accumulate=2), state)
    assert state.global_step == 3  # 5 batches: steps after batches 2, 4 and the last one


def test_accumulated_gradients_equal_one_big_batch():
    torch.manual_seed(0)
    small, big = nn.Linear(4, 2), nn.Linear(4, 2)
    big.load_state_dict(small.state_dict())
    loss = nn.CrossEntropyLoss()
    for model, loader, accumulate in ((small, toy_loader(16, 8), 2), (big, toy_loader(16, 16), 1)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        train_one_epoch(model, loader, loss, optimizer, None, StepOptions(CPU, accumulate=accumulate), FitState(1))
    torch.testing.assert_close(small.weight, big.weight)


def test_clipping_bounds_the_update():
    model = nn.Linear(4, 2)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    train_one_epoch(model, toy_loader(8, 8), lambda out, y: 1e4 * nn.functional.cross_entropy(out, y),
                    optimizer, None, StepOptions(CPU, clip_grad=0.05), FitState(1))
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm() == pytest.approx(0.05, rel=1e-4)


def test_nan_guard_names_epoch_and_step_before_the_weights_change():
    model = nn.Linear(4, 2)
    weights = model.weight.detach().clone()
    calls = {"n": 0}

    def poisoned(out, y):
        calls["n"] += 1
        value = nn.functional.cross_entropy(out, y)
        return value * float("nan") if calls["n"] == 3 else value * 0

    state = FitState(epochs=5, epoch=1)
    with pytest.raises(TrainingError, match="in epoch 2, at or before step 3"):
        train_one_epoch(model, toy_loader(), poisoned, torch.optim.SGD(model.parameters(), lr=1.0), None,
                        StepOptions(CPU), state)
    assert torch.equal(model.weight, weights)  # the zero losses left the weights alone; the NaN never applied


def test_device_side_nan_check_for_accelerators():
    model = nn.Linear(4, 2)
    with pytest.raises(TrainingError, match="at or before step 5"):
        train_one_epoch(model, toy_loader(), lambda out, y: out.sum() * float("inf"),
                        torch.optim.SGD(model.parameters(), lr=0.1), None, StepOptions(CPU, check_every=50),
                        FitState(1))


def test_evaluate_returns_logits_in_order_and_accuracy():
    model = nn.Linear(4, 2)
    loader = toy_loader()
    result = evaluate(model, loader, nn.CrossEntropyLoss(), StepOptions(CPU))
    x, y = loader.dataset.tensors
    torch.testing.assert_close(result.logits, model(x).detach())
    assert result.accuracy == (model(x).argmax(1) == y).float().mean().item()


def test_early_stopping_counts_epochs_since_the_best():
    stopper, state = EarlyStopping(patience=2), FitState(epochs=10, epoch=3, best_epoch=2)
    stopper.on_epoch_end(state, {})
    assert state.stop_reason is None
    state.epoch = 4
    stopper.on_epoch_end(state, {})
    assert state.stop_reason == "early stopping: no improvement for 2 epochs"


def test_class_weights_are_inverse_frequency():
    assert class_weights([0, 0, 0, 1], 2) == pytest.approx([4 / 6, 2.0])
    assert class_weights([0, 0], 3) == pytest.approx([1.0, 0.0, 0.0])  # absent classes get 0


def test_epoch_line_pairs_train_and_validation():
    row = {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.6, "val_acc": 0.75, "lr": 0.001, "time": 0.42}
    assert format_row(row) == "loss 0.5000/0.6000  acc 0.8000/0.7500  lr 1.00e-03  0.4s"


def test_a_driven_run_is_collected_once_whatever_flow_trains_it(tmp_path):
    """`tk cv` and `tk lr-find` read the drive's last run: train_and_test adds it unless it is already there."""
    from types import SimpleNamespace

    from taskkit import drive
    from taskkit.train.training import TrainOptions, train_and_test

    torch.manual_seed(0)
    dataset = toy_loader(24).dataset
    targets = dataset.tensors[1].tolist()
    data = SimpleNamespace(train=dataset, val=dataset, test=dataset, classes=["neg", "pos"],
                           train_targets=lambda: targets)
    options = TrainOptions(epochs=1, batch_size=8, quiet=True, device="cpu")
    fresh, claimed = drive.Drive(), drive.Drive(runs=[tmp_path / "a"])
    for driven, run_dir in ((fresh, tmp_path / "a"), (claimed, tmp_path / "a")):
        run_dir.mkdir(exist_ok=True)
        with drive.driving(driven):
            report = train_and_test(nn.Linear(4, 2), nn.CrossEntropyLoss(), data, options, run_dir, {})
        assert 0 <= report["accuracy"] <= 1
    assert fresh.runs == [tmp_path / "a"] and claimed.runs == [tmp_path / "a"]
    assert (tmp_path / "a" / "run.json").is_file()
