"""Embedding tables with sparse gradients: SparseAdam beside the chosen optimizer, seen as one."""

import copy

import pytest
import torch
from torch import nn

from taskkit.train.optim import OPTIMIZERS, SCHEDULERS, add_param_groups, build_optimizer, build_scheduler, \
    parameter_groups
from taskkit.train.sparse_tables import SPARSE, TablesAndRest


class BagModel(nn.Module):
    """A sparse table, a dense table and a linear layer: the shapes of the ngram encoder with its head."""

    def __init__(self):
        super().__init__()
        self.table = nn.Embedding(50, 4, sparse=True)
        self.dense_table = nn.Embedding(10, 4)
        self.linear = nn.Linear(4, 2)

    def forward(self, rows):
        return self.linear(self.table(rows).mean(1) + self.dense_table(rows % 10).mean(1))


def train_steps(model, optimizer, scheduler=None, steps=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        rows = torch.randint(0, 20, (8, 5), generator=generator)  # rows 20..49 are never used
        nn.functional.cross_entropy(model(rows), torch.randint(0, 2, (8,), generator=generator)).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()


def test_sparse_tables_get_their_own_undecayed_group():
    model = BagModel()
    groups = parameter_groups(model, weight_decay=0.01)
    tables = [g for g in groups if g.get(SPARSE)]
    assert len(tables) == 1 and tables[0]["params"] == [model.table.weight] and tables[0]["weight_decay"] == 0.0
    dense = {id(p) for g in groups if not g.get(SPARSE) for p in g["params"]}
    assert id(model.dense_table.weight) in dense and id(model.linear.weight) in dense


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains_the_dense_part_and_sparse_adam_only_the_rows_used(name):
    torch.manual_seed(0)
    model = BagModel()
    optimizer = build_optimizer(name, parameter_groups(model, 1e-4), lr=0.1)
    assert isinstance(optimizer, TablesAndRest) and isinstance(optimizer.tables, torch.optim.SparseAdam)
    table, linear = model.table.weight.detach().clone(), model.linear.weight.detach().clone()
    train_steps(model, optimizer)
    assert model.table.weight.grad is None
    assert not torch.equal(model.table.weight[:20], table[:20])
    assert torch.equal(model.table.weight[20:], table[20:])
    assert not torch.equal(model.linear.weight, linear)


@pytest.mark.parametrize("schedule", [s for s in SCHEDULERS if s != "plateau"])
def test_the_schedule_moves_the_sparse_tables_rate_with_the_rest(schedule):
    model = BagModel()
    optimizer = build_optimizer("adamw", parameter_groups(model, 0.0), lr=0.01)
    scheduler = build_scheduler(schedule, optimizer, epochs=4, steps_per_epoch=3)
    train_steps(model, optimizer, scheduler, steps=8)
    rates = {group["lr"] for group in optimizer.tables.param_groups + optimizer.rest.param_groups}
    assert len(rates) == 1 and rates == {optimizer.param_groups[0]["lr"]}
    if schedule != "none":
        assert rates != {0.01}


def test_a_saved_state_resumes_exactly():
    torch.manual_seed(0)
    straight = BagModel()
    resumed = BagModel()
    resumed.load_state_dict(straight.state_dict())
    optimizer = build_optimizer("adam", parameter_groups(straight, 0.0), lr=0.05)
    train_steps(straight, optimizer, steps=3, seed=1)
    state = copy.deepcopy(optimizer.state_dict())  # as read back from a checkpoint, not the live tensors
    assert [bool(g.get(SPARSE)) for g in state["param_groups"]] == [False, False, True]
    assert len(state["state"]) == 4 and "exp_avg" in state["state"][3]

    other = build_optimizer("adam", parameter_groups(resumed, 0.0), lr=0.05)
    train_steps(resumed, other, steps=3, seed=1)
    other.load_state_dict(state)
    assert other.tables.state is other.state and other.tables.param_groups[0] is other.param_groups[2]
    train_steps(straight, optimizer, steps=2, seed=2)
    train_steps(resumed, other, steps=2, seed=2)
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name


def test_groups_added_mid_run_go_to_the_part_that_updates_them():
    model = BagModel()
    extra_table = nn.Embedding(30, 4, sparse=True)
    model.linear.requires_grad_(False)
    optimizer = build_optimizer("nesterov", parameter_groups(model, 0.0), lr=0.1)
    scheduler = build_scheduler("cosine", optimizer, epochs=2, steps_per_epoch=2)
    model.linear.requires_grad_(True)
    optimizer.param_groups[0]["base_lr"] = 0.1
    head = {"params": list(model.linear.parameters()), "base_lr": 0.05}
    add_param_groups(optimizer, scheduler, [head, {"params": [extra_table.weight], SPARSE: True, "base_lr": 0.1}])
    assert optimizer.rest.param_groups[-1] is optimizer.param_groups[-2]
    assert optimizer.rest.param_groups[-1]["nesterov"] is True and not optimizer.rest.param_groups[-1].get(SPARSE)
    assert optimizer.tables.param_groups[-1] is optimizer.param_groups[-1]
    assert optimizer.param_groups[-2]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"] / 2)
    train_steps(model, optimizer, scheduler)

    only_tables = TablesAndRest(None, torch.optim.SparseAdam([extra_table.weight], lr=0.1))
    with pytest.raises(ValueError, match="no optimizer for dense"):
        only_tables.add_param_group({"params": [model.linear.weight]})


def test_a_table_unfrozen_into_an_optimizer_without_sparse_adam_is_refused():
    model = BagModel()
    model.table.requires_grad_(False)
    optimizer = build_optimizer("adamw", parameter_groups(model, 0.0), lr=0.1)
    assert not isinstance(optimizer, TablesAndRest)
    with pytest.raises(ValueError, match="sparse"):
        add_param_groups(optimizer, None, [{"params": [model.table.weight], SPARSE: True, "base_lr": 0.1}])


def test_a_model_whose_only_trainable_weights_are_sparse_tables_trains_them_alone():
    model = BagModel()
    model.dense_table.requires_grad_(False)
    model.linear.requires_grad_(False)
    optimizer = build_optimizer("adamw", parameter_groups(model, 0.01), lr=0.1)
    assert optimizer.rest is None and optimizer.param_groups[0]["lr"] == 0.1
    table = model.table.weight.detach().clone()
    train_steps(model, optimizer, build_scheduler("onecycle", optimizer, epochs=1, steps_per_epoch=3))
    assert not torch.equal(model.table.weight[:20], table[:20])
