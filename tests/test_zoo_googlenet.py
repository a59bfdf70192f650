"""GoogLeNet: interface, map shapes, small-input rule, torchvision weights and counts, auxiliary losses."""

import pytest
import torch
from torch import nn
from torchvision.models import googlenet as tv_googlenet

from taskkit.backbone import Backbone, BackboneWithHead, WithAuxiliary, check_backbone
from taskkit.train.engine import model_loss
from taskkit.errors import ComponentOptionError
from taskkit.registries import BACKBONES, HEADS

STAGES = ["stem", "inception3", "inception4a", "inception4d", "inception4e", "inception5"]
CHANNELS = [192, 480, 512, 528, 832, 1024]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def build(channels=3, size=224, **options):
    torch.manual_seed(0)
    return BACKBONES.build("googlenet", in_channels=channels, img_size=size, **options)


@pytest.fixture(scope="module")
def tv_with_aux():
    torch.manual_seed(0)
    return tv_googlenet(weights=None, aux_logits=True, init_weights=True).eval()


@pytest.fixture(scope="module")
def tv_without_aux():
    torch.manual_seed(0)
    return tv_googlenet(weights=None, aux_logits=False, init_weights=True).eval()


def state_without(reference, drop=("fc.",)):
    return {k: v for k, v in reference.state_dict().items() if not k.startswith(drop)}


def test_googlenet_is_registered_by_its_plugin_with_an_alias():
    assert BACKBONES.entry("googlenet").plugin == "googlenet"
    assert BACKBONES.get("inception_v1") is BACKBONES.get("googlenet")
    assert "GoogLeNet" in BACKBONES.entry("googlenet").summary


@pytest.mark.parametrize("channels,size,small", [(1, 28, True), (3, 64, False)])
def test_forward_and_backward_follow_the_declared_stages(channels, size, small):
    backbone = build(channels, size).train()
    check_backbone(backbone)
    assert isinstance(backbone, Backbone) and backbone.small_input is small
    maps = backbone(torch.randn(2, channels, size, size))
    assert backbone.stage_names == STAGES and backbone.out_channels == CHANNELS
    assert [m.shape[1] for m in maps] == CHANNELS
    assert [m.shape[2:] for m in maps] == [(-(-size // r),) * 2 for r in backbone.reductions]
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def test_reductions_at_224_are_the_torchvision_map_sizes():
    assert build().reductions == [8, 8, 16, 16, 16, 32]  # 28, 28, 14, 14, 14, 7 pixels


def test_small_input_rule_keeps_the_stem_at_full_resolution():
    small = build(1, 28)
    assert small.reductions == [1, 1, 2, 2, 2, 4]
    assert small.conv1.conv.stride == (1, 1)
    assert isinstance(small.maxpool1, nn.Identity) and isinstance(small.maxpool2, nn.Identity)
    normal = build(3, 64)
    assert normal.conv1.conv.stride == (2, 2) and isinstance(normal.maxpool1, nn.MaxPool2d)
    assert build(3, 224, small_input=True).reductions[-1] == 4
    assert build(1, 32, small_input=False).reductions[-1] == 32


def test_min_img_size_is_the_smallest_input_that_works():
    smallest = BACKBONES.get("googlenet").min_img_size
    with torch.no_grad():
        maps = build(1, smallest).eval()(torch.randn(2, 1, smallest, smallest))
        assert maps[-1].shape[2:] == (1, 1)
        with pytest.raises(RuntimeError):
            build(1, smallest - 1).eval()(torch.randn(2, 1, smallest - 1, smallest - 1))


def test_parameter_counts_equal_torchvision_with_and_without_auxiliary_classifiers(tv_with_aux, tv_without_aux):
    backbone = build()
    head = HEADS.build("linear", in_channels=1024, num_outputs=1000)
    assert n_params(backbone) + n_params(head) == n_params(tv_without_aux) == 6_624_904
    model = BackboneWithHead(backbone, head, num_outputs=1000)
    assert n_params(model) == n_params(tv_with_aux) == 13_004_888


def test_loads_torchvision_weights_strictly_with_auxiliary_classifiers(tv_with_aux):
    backbone = build()
    backbone.add_auxiliary_classifiers(1000)
    state = state_without(tv_with_aux)
    assert set(backbone.state_dict()) == set(state)
    backbone.load_state_dict(state, strict=True)


def test_loads_torchvision_weights_strictly_without_auxiliary_classifiers(tv_without_aux):
    ours = build().eval()
    ours.load_state_dict(state_without(tv_without_aux), strict=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(tv_without_aux.fc(ours(x)[-1].mean(dim=(2, 3))), tv_without_aux(x))


def test_other_class_counts_take_all_but_the_auxiliary_output_layers(tv_with_aux):
    backbone = build(3, 32)  # small mode changes strides only, not weight shapes
    backbone.add_auxiliary_classifiers(10)
    state = state_without(tv_with_aux, drop=("fc.", "aux1.fc2.", "aux2.fc2."))
    result = backbone.load_state_dict(state, strict=False)
    assert result.unexpected_keys == []
    assert sorted(result.missing_keys) == [f"aux{i}.fc2.{p}" for i in (1, 2) for p in ("bias", "weight")]


def small_model(**options):
    backbone = build(1, 16, **options)
    head = HEADS.build("linear", in_channels=backbone.out_channels[-1], num_outputs=10)
    return BackboneWithHead(backbone, head, num_outputs=10)


def test_auxiliary_losses_count_in_training_and_vanish_in_evaluation():
    model, loss_fn = small_model(), nn.CrossEntropyLoss()
    x, y = torch.randn(2, 1, 16, 16), torch.tensor([3, 7])
    out = model.train()(x)
    assert isinstance(out, WithAuxiliary)
    assert [w for w, _ in out.auxiliary] == [0.3, 0.3]
    assert all(aux.shape == (2, 10) for _, aux in out.auxiliary)
    logits, loss = model_loss(out, y, loss_fn)
    main, aux1, aux2 = (loss_fn(t, y) for t in (out.logits, *(a for _, a in out.auxiliary)))
    assert logits is out.logits and aux1 > 0 and aux2 > 0
    torch.testing.assert_close(loss, main + 0.3 * (aux1 + aux2))
    loss.backward()
    aux1_grads = [p.grad for p in model.backbone.aux1.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in aux1_grads)

    model.eval().zero_grad(set_to_none=True)
    with torch.no_grad():
        out = model(x)
        assert isinstance(out, torch.Tensor)
        logits, loss = model_loss(out, y, loss_fn)
        assert logits is out
        torch.testing.assert_close(loss, loss_fn(out, y))


def test_aux_logits_off_builds_no_auxiliary_classifiers():
    model = small_model(aux_logits=False)
    assert model.backbone.aux1 is None and model.backbone.aux2 is None
    assert isinstance(model.train()(torch.randn(2, 1, 16, 16)), torch.Tensor)
    assert not any(k.startswith("backbone.aux") for k in model.state_dict())


def test_auxiliary_classifiers_read_the_4a_and_4d_maps():
    backbone = build(1, 28)
    backbone.add_auxiliary_classifiers(10)
    assert backbone.aux1.conv.conv.in_channels == 512 and backbone.aux2.conv.conv.in_channels == 528
    maps = [torch.zeros(1)] * 6
    maps[2], maps[3] = torch.randn(2, 512, 14, 14), torch.randn(2, 528, 14, 14)
    backbone.eval()
    (w1, a1), (w2, a2) = backbone.auxiliary_logits(maps)
    assert w1 == w2 == 0.3
    torch.testing.assert_close(a1, backbone.aux1(maps[2]))
    torch.testing.assert_close(a2, backbone.aux2(maps[3]))


def test_stages_share_the_backbones_own_modules():
    backbone = build(1, 28)
    stem = backbone.stages()[0]
    assert stem.conv1 is backbone.conv1 and backbone.stages()[2].maxpool3 is backbone.maxpool3
    assert not {k.split(".")[0] for k in backbone.state_dict()} & {"stem", "inception3", "inception5"}
    assert isinstance(backbone.inception4a, type(backbone.inception3a))  # the block, not its stage
    assert sum(n_params(s) for s in backbone.stages()) == n_params(backbone)
    backbone.eval()
    assert not stem.conv1.bn.training


def test_init_is_torchvisions_truncated_normal():
    weight = build().inception5b.branch2[1].conv.weight
    assert weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert weight.abs().max().item() <= 2


def test_an_unknown_option_is_refused():
    with pytest.raises(ComponentOptionError, match="does not accept"):
        BACKBONES.build("googlenet", in_channels=1, img_size=32, depth=3)
