import pytest
import torch
from torch import nn

from taskkit.errors import BadInputError
from taskkit.train.optim import OPTIMIZERS, SCHEDULERS, build_optimizer, build_scheduler, parameter_groups


def small_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


def test_weight_decay_skips_norm_and_bias():
    net = small_net()
    decay, no_decay = parameter_groups(net, weight_decay=0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(net[0].weight), id(net[3].weight)}
    assert {id(p) for p in no_decay["params"]} == {id(net[0].bias), id(net[1].weight), id(net[1].bias), id(net[3].bias)}


def test_frozen_parameters_leave_the_optimizer():
    net = small_net()
    net[0].weight.requires_grad_(False)
    groups = parameter_groups(net, 0.0)
    assert all(p is not net[0].weight for g in groups for p in g["params"])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_takes_a_step(name):
    net = small_net()
    optimizer = build_optimizer(name, parameter_groups(net, 1e-4), lr=0.1)
    before = net[3].weight.detach().clone()
    net(torch.randn(4, 1, 3, 3)).sum().backward()
    optimizer.step()
    assert not torch.equal(before, net[3].weight)
    if name == "nesterov":
        assert optimizer.param_groups[0]["nesterov"] is True


def lrs(name, epochs=4, steps=10, **kwargs):
    net = small_net()
    optimizer = build_optimizer("sgd", parameter_groups(net, 0.0), lr=1.0)
    scheduler = build_scheduler(name, optimizer, epochs=epochs, steps_per_epoch=steps, **kwargs)
    seen = []
    for _ in range(epochs * steps):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def test_schedule_shapes():
    assert lrs("none") == [1.0] * 40
    step = lrs("step", epochs=6)
    assert step[0] == 1.0 and step[19] == 1.0 and step[20] == pytest.approx(0.1) and step[40] == pytest.approx(0.01)
    cosine = lrs("cosine")
    assert cosine[0] == 1.0 and cosine[20] == pytest.approx(0.5) and cosine[-1] < 0.01
    warm = lrs("warmup+cosine", warmup_epochs=1.0)
    assert warm[0] < 0.01 and warm[9] == pytest.approx(0.901) and max(warm) == pytest.approx(1.0, abs=0.01)
    assert all(a >= b for a, b in zip(warm[10:], warm[11:]))
    one = lrs("onecycle")
    assert one[0] < 0.1 and max(one) == pytest.approx(1.0, abs=0.01) and one[-1] < 0.01
    multistep = lrs("multistep")
    assert multistep[19] == 1.0 and multistep[20] == pytest.approx(0.1) and multistep[30] == pytest.approx(0.01)
    assert set(SCHEDULERS) >= {"exponential", "plateau"}


def test_unknown_names_suggest():
    with pytest.raises(BadInputError, match="unknown optimizer 'adamm'; did you mean 'adam'"):
        build_optimizer("adamm", [], lr=0.1)
    net = small_net()
    optimizer = build_optimizer("sgd", parameter_groups(net, 0.0), lr=1.0)
    with pytest.raises(BadInputError, match="did you mean 'cosine'"):
        build_scheduler("cosin", optimizer, epochs=1, steps_per_epoch=1)
