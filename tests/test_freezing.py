"""Freezing: what `--freeze N` covers, the unfreezing schedule, optimizer groups and BatchNorm modes."""

import pytest
import torch
from torch import nn

from taskkit.backbone import BackboneWithHead
from taskkit.errors import BadInputError
from taskkit.model.freezing import FreezePlan, StageFreezer, frozen_entries, parse_unfreeze_step
from taskkit.train.optim import build_optimizer, build_scheduler
from taskkit.registries import BACKBONES, HEADS

NAMES = ["stem", "layer1", "layer2", "layer3", "layer4"]


def resnet() -> BackboneWithHead:
    torch.manual_seed(0)
    backbone = BACKBONES.build("resnet18", in_channels=1, img_size=16)
    return BackboneWithHead(backbone, HEADS.build("linear", in_channels=512, num_outputs=3), 3)


def batchnorms(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


def test_freeze_n_covers_the_stem_and_n_stages():
    assert [frozen_entries(n, NAMES, "resnet18") for n in ("0", "1", "3", 4, "all", "ALL")] == [0, 2, 4, 5, 5, 5]


def test_freeze_beyond_the_stages_lists_them():
    with pytest.raises(BadInputError) as excinfo:
        frozen_entries("9", NAMES, "resnet18")
    message = str(excinfo.value)
    assert "stem, layer1, layer2, layer3, layer4" in message and "0 to 4" in message
    with pytest.raises(BadInputError, match="number of stages or 'all'"):
        frozen_entries("-1", NAMES, "resnet18")


def test_unfreezing_follows_the_epoch():
    gradual = FreezePlan(4, unfreeze_at=3, unfreeze_step=1)
    assert [gradual.frozen_in(epoch) for epoch in range(7)] == [4, 4, 3, 2, 1, 0, 0]
    two_at_a_time = FreezePlan(5, unfreeze_at=2, unfreeze_step=2)
    assert [two_at_a_time.frozen_in(epoch) for epoch in range(5)] == [5, 3, 1, 0, 0]
    at_once = FreezePlan(4, unfreeze_at=2, unfreeze_step=parse_unfreeze_step("all"))
    assert [at_once.frozen_in(epoch) for epoch in range(3)] == [4, 0, 0]
    assert [gradual.unfrozen_from(i) for i in range(5)] == [6, 5, 4, 3, 1]
    assert FreezePlan(4).unfrozen_from(0) is None


def test_bad_schedules_are_refused():
    for bad in ({"bn": "off"}, {"unfreeze_at": 0}, {"unfreeze_step": 0}, {"lr_decay": 0.0}, {"lr_decay": 2.0}):
        with pytest.raises(BadInputError):
            FreezePlan(1, **bad)


def test_each_earlier_stage_learns_lr_decay_times_slower():
    plan = FreezePlan(0, lr_decay=0.5)
    assert [plan.lr_scale(i, 5) for i in range(5)] == [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2]
    freezer = StageFreezer(resnet(), plan, lr=0.1, weight_decay=0.0)
    freezer.apply(0)
    rates = {group["name"]: group["lr"] for group in freezer.param_groups()}
    assert rates == pytest.approx({"head": 0.1, "layer4": 0.05, "layer3": 0.025, "layer2": 0.0125,
                                   "layer1": 0.00625, "stem": 0.003125})


def test_frozen_stages_leave_the_optimizer_and_do_not_move():
    model = resnet()
    freezer = StageFreezer(model, FreezePlan(4), lr=0.1, weight_decay=1e-4)
    freezer.apply(0)
    groups = freezer.param_groups()
    in_optimizer = {id(p) for group in groups for p in group["params"]}
    frozen = {id(p) for stage in model.backbone.stages()[:4] for p in stage.parameters()}
    assert not in_optimizer & frozen
    assert {id(p) for p in model.backbone.layer4.parameters()} | {id(p) for p in model.head.parameters()} \
        == in_optimizer
    model.train()
    assert not any(m.training for stage in model.backbone.stages()[:4] for m in batchnorms(stage))
    assert all(m.training for m in batchnorms(model.backbone.layer4))
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    optimizer = torch.optim.SGD(groups, lr=0.1)
    model(torch.randn(8, 1, 16, 16)).logsumexp(1).mean().backward()
    optimizer.step()
    after = model.backbone.state_dict()
    assert all(after[k].equal(before[k]) for k in before if not k.startswith("layer4"))
    assert not all(after[k].equal(before[k]) for k in before if k.startswith("layer4"))


def test_bn_train_lets_frozen_statistics_adapt_and_bn_frozen_fixes_every_batchnorm():
    model = resnet()
    StageFreezer(model, FreezePlan(4, bn="train"), lr=0.1, weight_decay=0.0).apply(0)
    model.train()
    stem_bn = model.backbone.bn1
    mean, weight = stem_bn.running_mean.clone(), stem_bn.weight.clone()
    model(torch.randn(8, 1, 16, 16))
    assert not stem_bn.running_mean.equal(mean) and stem_bn.weight.equal(weight)

    model = resnet()
    freezer = StageFreezer(model, FreezePlan(0, bn="frozen"), lr=0.1, weight_decay=0.0)
    freezer.apply(0)
    model.train()
    assert not any(m.training for m in batchnorms(model.backbone))
    in_optimizer = {id(p) for group in freezer.param_groups() for p in group["params"]}
    assert not in_optimizer & {id(p) for m in batchnorms(model.backbone) for p in m.parameters()}
    assert {id(p) for p in model.backbone.layer1[0].conv1.parameters()} <= in_optimizer


@pytest.mark.parametrize("schedule", ["warmup+cosine", "onecycle", "plateau", "step", "none"])
def test_unfrozen_stages_join_the_optimizer_on_the_schedule_of_the_others(schedule):
    model = resnet()
    freezer = StageFreezer(model, FreezePlan(5, unfreeze_at=2, unfreeze_step=None, lr_decay=0.5),
                           lr=0.1, weight_decay=1e-4)
    freezer.apply(0)
    optimizer = build_optimizer("adamw", freezer.param_groups(), 0.1)
    scheduler = build_scheduler(schedule, optimizer, epochs=4, steps_per_epoch=3)

    def epoch() -> None:
        for _ in range(3):
            optimizer.step()
            if schedule != "plateau":
                scheduler.step()
        if schedule == "plateau":
            scheduler.step(1.0)

    epoch()
    freezer.on_epoch_start(1, optimizer, scheduler)
    assert [g["name"] for g in optimizer.param_groups[2:]][::2] == ["layer4", "layer3", "layer2", "layer1", "stem"]
    for _ in range(3):
        epoch()
        factors = {round(g["lr"] / g["base_lr"], 12) for g in optimizer.param_groups}
        assert len(factors) == 1, factors
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
