"""SqueezeNet 1.1: interface, map shapes, small-input rule, torchvision weights and the `gap` head."""

import pytest
import torch
from torch import nn
from torchvision.models import squeezenet1_1 as tv_squeezenet1_1

from taskkit.backbone import Backbone, check_backbone
from taskkit.errors import ComponentOptionError
from taskkit.registries import BACKBONES, HEADS

STAGES = ["stem", "fire2_3", "fire4_5", "fire6_9"]
CHANNELS = [64, 128, 256, 512]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def build(channels=3, size=224, **options):
    torch.manual_seed(0)
    return BACKBONES.build("squeezenet", in_channels=channels, img_size=size, **options)


def state_without_classifier(reference):
    return {k: v for k, v in reference.state_dict().items() if not k.startswith("classifier.")}


def test_squeezenet_is_registered_by_its_plugin_with_an_alias():
    entry = BACKBONES.entry("squeezenet")
    assert entry.plugin == "squeezenet" and "SqueezeNet 1.1" in entry.summary
    assert BACKBONES.get("squeezenet1_1") is BACKBONES.get("squeezenet")


@pytest.mark.parametrize("channels,size,small", [(1, 28, True), (3, 64, False)])
def test_forward_and_backward_follow_the_declared_stages(channels, size, small):
    backbone = build(channels, size).train()
    check_backbone(backbone)
    assert isinstance(backbone, Backbone) and backbone.small_input is small
    maps = backbone(torch.randn(2, channels, size, size))
    assert backbone.stage_names == STAGES and backbone.out_channels == CHANNELS
    assert [m.shape[1] for m in maps] == CHANNELS
    sides = [m.shape[2] for m in maps]
    if small:  # stride-1 conv1 and ceil-mode pools halve 28 exactly: 28, 28, 14, 7
        assert sides == [-(-size // r) for r in backbone.reductions]
    else:  # unpadded conv1: 64 -> 31 -> 15, 15, 7, 3
        assert sides == sorted(sides, reverse=True)
        assert all(s <= -(-size // r) for s, r in zip(sides, backbone.reductions))
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def test_reductions_at_224_give_torchvisions_13x13_last_map():
    assert build().reductions == [4, 4, 8, 16]  # 55, 55, 27, 13 pixels
    assert build(1, 32).reductions == [1, 1, 2, 4]


def test_small_input_rule_keeps_the_stem_at_full_resolution():
    small = build(1, 28)
    assert small.features[0].stride == (1, 1) and small.features[0].padding == (1, 1)
    assert isinstance(small.features[2], nn.Identity)
    normal = build(1, 28, small_input=False)
    assert normal.features[0].stride == (2, 2) and isinstance(normal.features[2], nn.MaxPool2d)
    assert build(3, 224, small_input=True).reductions == [1, 1, 2, 4]


def test_min_img_size_is_the_smallest_input_that_works():
    smallest = BACKBONES.get("squeezenet").min_img_size
    with torch.no_grad():
        maps = build(1, smallest).eval()(torch.randn(2, 1, smallest, smallest))
        assert maps[-1].shape[2:] == (1, 1)
        with pytest.raises(RuntimeError):
            build(1, smallest - 1).eval()(torch.randn(2, 1, smallest - 1, smallest - 1))


@pytest.mark.parametrize("size", [28, 224])
def test_loads_torchvision_weights_strictly_in_both_modes(size):
    reference = tv_squeezenet1_1(weights=None)
    build(3, size).load_state_dict(state_without_classifier(reference), strict=True)


def test_with_the_gap_head_it_is_torchvisions_network_and_1_235_496_weights():
    reference = tv_squeezenet1_1(weights=None).eval()
    ours = build(3, 64, small_input=False).eval()
    ours.load_state_dict(state_without_classifier(reference), strict=True)
    head = HEADS.build("gap", in_channels=ours.out_channels[-1], num_outputs=1000).eval()
    head.conv.load_state_dict(reference.classifier[1].state_dict())
    assert n_params(ours) + n_params(head) == n_params(reference) == 1_235_496
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        last = ours(x)[-1]
        torch.testing.assert_close(last, reference.features(x))
        # torchvision puts a ReLU on the class maps before averaging; the head does not
        torch.testing.assert_close(head.pool(torch.relu(head.conv(last))), reference(x))
        torch.testing.assert_close(head([last]), head.pool(head.conv(last)))


def test_stages_are_views_of_the_backbones_own_modules():
    backbone = build(1, 28)
    assert backbone.stages()[1][0] is backbone.features[3]
    assert sum(n_params(s) for s in backbone.stages()) == n_params(backbone)
    assert all(k.startswith("features.") for k in backbone.state_dict())


def test_fire_module_concatenates_its_two_expand_branches():
    from taskkit.plugins.squeezenet.models import Fire

    fire = Fire(128, 32, 128, 128)
    assert fire(torch.randn(1, 128, 6, 6)).shape == (1, 256, 6, 6)
    assert n_params(fire) == (128 * 32 + 32) + (32 * 128 + 128) + (32 * 128 * 9 + 128)


def test_an_unknown_option_is_refused():
    with pytest.raises(ComponentOptionError, match="does not accept"):
        BACKBONES.build("squeezenet", in_channels=1, img_size=32, depth=3)
