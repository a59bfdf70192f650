"""AlexNet: interface, map shapes, small-input rule, torchvision weights and parameter count."""

import pytest
import torch
from torch import nn
from torchvision.models import alexnet as tv_alexnet

from taskkit.backbone import Backbone, check_backbone
from taskkit.errors import ComponentOptionError
from taskkit.registries import BACKBONES, HEADS

STAGES = ["stem", "conv2", "conv3", "conv4", "conv5", "fc"]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def build(channels=3, size=224, **options):
    torch.manual_seed(0)
    return BACKBONES.build("alexnet", in_channels=channels, img_size=size, **options)


def build_meta(channels=3, size=224, **options):
    """The backbone with parameters on the meta device: its shapes, without the cost of its weights."""
    with torch.device("meta"):
        return build(channels, size, **options)


def state_without_last_layer(reference):
    return {k: v for k, v in reference.state_dict().items() if not k.startswith("classifier.6.")}


def test_alexnet_is_registered_by_its_plugin():
    entry = BACKBONES.entry("alexnet")
    assert entry.plugin == "alexnet" and "AlexNet" in entry.summary


@pytest.mark.parametrize("channels,size,small", [(1, 28, True), (3, 64, False)])
def test_forward_and_backward_follow_the_declared_stages(channels, size, small):
    backbone = build(channels, size).train()
    check_backbone(backbone)
    assert isinstance(backbone, Backbone) and backbone.small_input is small
    maps = backbone(torch.randn(2, channels, size, size))
    hidden = 512 if small else 4096
    assert backbone.stage_names == STAGES
    assert backbone.out_channels == [64, 192, 384, 256, 256, hidden]
    assert [m.shape[1] for m in maps] == backbone.out_channels
    assert maps[-1].shape == (2, hidden, 1, 1)
    sides = [m.shape[2] for m in maps]
    assert sides == sorted(sides, reverse=True)  # overlapping 3x3/2 pools: sizes shrink, not exactly
    assert all(m.shape[2] == m.shape[3] <= -(-size // r) for m, r in zip(maps, backbone.reductions))
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def test_reductions_are_the_nominal_strides():
    assert build_meta().reductions == [8, 16, 16, 16, 32, 224]  # 27, 13, 13, 13, 6 pixels, then 1x1
    assert build(1, 28).reductions == [2, 4, 4, 4, 8, 28]


def test_small_input_rule_strides_conv1_by_one_and_shrinks_the_classifier():
    small = build(1, 28)
    assert small.features[0].stride == (1, 1) and small.features[0].kernel_size == (11, 11)
    assert isinstance(small.avgpool, nn.AdaptiveAvgPool2d) and small.avgpool.output_size == 1
    assert [m.out_features for m in small.classifier if isinstance(m, nn.Linear)] == [512, 512]
    assert build_meta(3, 224, small_input=True).reductions[:-1] == [2, 4, 4, 4, 8]
    assert build_meta(3, 32, small_input=False).features[0].stride == (4, 4)


def test_min_img_size_is_the_smallest_input_that_works():
    smallest = BACKBONES.get("alexnet").min_img_size
    with torch.no_grad():
        maps = build(1, smallest).eval()(torch.randn(2, 1, smallest, smallest))
        assert maps[-2].shape[2:] == (1, 1)
        with pytest.raises(RuntimeError):
            build(1, smallest - 1).eval()(torch.randn(2, 1, smallest - 1, smallest - 1))


def test_loads_torchvision_weights_strictly_and_computes_the_same_logits():
    reference = tv_alexnet(weights=None).eval()
    ours = build(3, 64).eval()  # normal mode: the 224-pixel network
    ours.load_state_dict(state_without_last_layer(reference), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(reference.classifier[6](ours(x)[-1].flatten(1)), reference(x))


def test_with_a_linear_head_it_has_torchvisions_61_100_840_parameters():
    with torch.device("meta"):
        backbone = build(3, 224)
        head = HEADS.build("linear", in_channels=backbone.out_channels[-1], num_outputs=1000)
        reference = tv_alexnet(weights=None)
    assert n_params(backbone) + n_params(head) == n_params(reference) == 61_100_840


def test_small_mode_differs_from_torchvision_only_in_the_hidden_layers():
    with torch.device("meta"):
        reference = state_without_last_layer(tv_alexnet(weights=None))
        ours = build(3, 28).state_dict()
    assert set(ours) == set(reference)
    differ = sorted(k for k in ours if ours[k].shape != reference[k].shape)
    assert differ == ["classifier.1.bias", "classifier.1.weight", "classifier.4.bias", "classifier.4.weight"]


def test_stages_are_views_of_the_backbones_own_modules():
    backbone = build(1, 28)
    stem, *_, fc = backbone.stages()
    assert stem[0] is backbone.features[0] and fc.classifier is backbone.classifier
    assert sum(n_params(s) for s in backbone.stages()) == n_params(backbone)
    assert all(k.startswith(("features.", "classifier.")) for k in backbone.state_dict())
    backbone.eval()
    assert not fc.classifier[0].training


def test_dropout_option_reaches_both_dropout_layers():
    drops = [m.p for m in build(1, 28, dropout=0.2).modules() if isinstance(m, nn.Dropout)]
    assert drops == [0.2, 0.2]


def test_init_is_kaiming_normal_with_zero_biases():
    backbone = build(1, 28)
    for layer in (backbone.features[3], backbone.classifier[4]):
        fan_in = layer.weight[0].numel()
        assert layer.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.05)
        assert not layer.bias.any()


def test_an_unknown_option_is_refused():
    with pytest.raises(ComponentOptionError, match="does not accept"):
        BACKBONES.build("alexnet", in_channels=1, img_size=32, depth=3)
