"""VGG-11/13/16 with and without BatchNorm: interface, map shapes, small-input rule, torchvision
weights and parameter counts."""

import copy

import pytest
import torch
import torchvision.models as tv
from torch import nn

from taskkit.backbone import Backbone, check_backbone
from taskkit.errors import ComponentOptionError
from taskkit.registries import BACKBONES, HEADS

NAMES = ["vgg11", "vgg13", "vgg16", "vgg11_bn", "vgg13_bn", "vgg16_bn"]
CONVOLUTIONS = {"vgg11": 8, "vgg13": 10, "vgg16": 13}
STAGES = ["block1", "block2", "block3", "block4", "block5", "fc"]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def build(name, channels=3, size=224, **options):
    torch.manual_seed(0)
    return BACKBONES.build(name, in_channels=channels, img_size=size, **options)


def build_meta(name, channels=3, size=224, **options):
    """The backbone with parameters on the meta device: its shapes, without the cost of its weights."""
    with torch.device("meta"):
        return build(name, channels, size, **options)


def state_without_last_layer(reference):
    return {k: v for k, v in reference.state_dict().items() if not k.startswith("classifier.6.")}


def check_maps(backbone, maps, size, small):
    """Stage names, channels and sizes of the maps against what the backbone declares."""
    check_backbone(backbone)
    assert isinstance(backbone, Backbone) and backbone.small_input is small
    hidden = 512 if small else 4096
    assert backbone.stage_names == STAGES
    assert backbone.out_channels == [64, 128, 256, 512, 512, hidden]
    assert [m.shape[1] for m in maps] == backbone.out_channels
    assert maps[-1].shape == (2, hidden, 1, 1)
    sides = [m.shape[2] for m in maps]
    if size == 64:  # 2x2 pools halve 64 exactly: 32, 16, 8, 4, 2, then the 1x1 fc map
        assert sides == [-(-size // r) for r in backbone.reductions]
    else:  # 28 -> 14, 7, 3, 1: floor, so at most the stride allows
        assert sides == sorted(sides, reverse=True)
        assert all(m.shape[2] <= -(-size // r) for m, r in zip(maps, backbone.reductions))


def test_vgg_backbones_are_registered_by_their_plugin():
    assert {BACKBONES.entry(name).plugin for name in NAMES} == {"vgg"}
    assert BACKBONES.get("vgg") is BACKBONES.get("vgg16")
    assert all("VGG" in BACKBONES.entry(name).summary for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_on_28x28_digits_follow_the_declared_stages(name):
    backbone = build(name, 1, 28).train()
    maps = backbone(torch.randn(2, 1, 28, 28))
    check_maps(backbone, maps, 28, small=True)
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and p.grad.any() for p in backbone.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_at_64_pixels_follow_the_declared_stages(name):
    """At 64 pixels VGG is the 130M-weight ImageNet network; building and running all six for
    real would take most of a minute on two cores, so this checks shapes and that every
    parameter gets a gradient on the meta device, and vgg11_bn runs for real below."""
    with torch.device("meta"):
        backbone = build(name, 3, 64).train()
        maps = backbone(torch.randn(2, 3, 64, 64))
        check_maps(backbone, maps, 64, small=False)
        sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in backbone.parameters())


def test_vgg11_bn_runs_at_64_pixels_and_computes_torchvisions_logits_with_its_weights():
    ours = build("vgg11_bn", 3, 64).train()  # normal mode: the 224-pixel network
    maps = ours(torch.randn(2, 3, 64, 64))
    check_maps(ours, maps, 64, small=False)
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and p.grad.any() for p in ours.parameters())
    with torch.device("meta"):  # torchvision's own init of 133M weights would take seconds
        reference = tv.vgg11_bn(weights=None)
    reference.to_empty(device="cpu").eval()
    last = nn.Linear(4096, 1000)
    reference.load_state_dict({**ours.state_dict(), "classifier.6.weight": last.weight,
                               "classifier.6.bias": last.bias}, strict=True)
    ours.load_state_dict(state_without_last_layer(reference), strict=True)
    ours.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(reference.classifier[6](ours(x)[-1].flatten(1)), reference(x))


@pytest.mark.parametrize("name", NAMES)
def test_layers_follow_the_configuration(name):
    backbone = build_meta(name)
    convs = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == CONVOLUTIONS[name.removesuffix("_bn")]
    assert len(norms) == (len(convs) if name.endswith("_bn") else 0)
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert backbone.reductions == [2, 4, 8, 16, 32, 224]


def test_small_input_rule_drops_the_last_max_pool_and_shrinks_the_classifier():
    small = build("vgg11_bn", 1, 28)
    assert small.reductions == [2, 4, 8, 16, 16, 28]
    assert isinstance(small.features[-1], nn.Identity)
    assert sum(isinstance(m, nn.MaxPool2d) for m in small.features) == 4
    assert small.avgpool.output_size == 1
    assert [m.out_features for m in small.classifier if isinstance(m, nn.Linear)] == [512, 512]
    assert build_meta("vgg11_bn", 3, 224, small_input=True).reductions[:-1] == [2, 4, 8, 16, 16]
    assert isinstance(build_meta("vgg11_bn", 3, 32, small_input=False).features[-1], nn.MaxPool2d)


def test_min_img_size_is_the_smallest_input_that_works():
    smallest = BACKBONES.get("vgg11").min_img_size
    assert all(BACKBONES.get(name).min_img_size == smallest for name in NAMES)
    with torch.no_grad():
        maps = build("vgg11", 1, smallest).eval()(torch.randn(2, 1, smallest, smallest))
        assert maps[-2].shape[2:] == (1, 1)
        with pytest.raises(RuntimeError):
            build("vgg11", 1, smallest - 1).eval()(torch.randn(2, 1, smallest - 1, smallest - 1))


@pytest.mark.parametrize("name", NAMES)
def test_loads_torchvision_state_dicts_strictly_and_has_their_parameter_counts(name):
    with torch.device("meta"):
        reference = getattr(tv, name)(weights=None)
        backbone = build(name)
        head = HEADS.build("linear", in_channels=backbone.out_channels[-1], num_outputs=1000)
    backbone.load_state_dict(state_without_last_layer(reference), strict=True)
    assert n_params(backbone) + n_params(head) == n_params(reference)


def test_vgg16_with_a_linear_head_has_torchvisions_138_357_544_parameters():
    with torch.device("meta"):
        backbone = build("vgg")
        head = HEADS.build("linear", in_channels=4096, num_outputs=1000)
    assert n_params(backbone) + n_params(head) == 138_357_544


def test_small_mode_differs_from_torchvision_only_in_the_hidden_layers():
    with torch.device("meta"):
        reference = state_without_last_layer(tv.vgg16_bn(weights=None))
        ours = build("vgg16_bn", 3, 28).state_dict()
    assert set(ours) == set(reference)
    differ = sorted(k for k in ours if ours[k].shape != reference[k].shape)
    assert differ == ["classifier.0.bias", "classifier.0.weight", "classifier.3.bias", "classifier.3.weight"]


def test_stages_are_views_of_the_backbones_own_modules_and_survive_a_copy():
    backbone = build("vgg11_bn", 1, 28)
    assert sum(n_params(s) for s in backbone.stages()) == n_params(backbone)
    assert all(k.startswith(("features.", "classifier.")) for k in backbone.state_dict())
    clone = copy.deepcopy(backbone)
    assert clone.stages()[0][0] is clone.features[0] and clone.stages()[-1].classifier is clone.classifier
    clone.eval()
    switching = [m for stage in clone.stages() for m in stage.modules()
                 if isinstance(m, (nn.BatchNorm2d, nn.Dropout))]
    assert len(switching) == 10 and not any(m.training for m in switching)
    assert backbone.stages()[0][1].training


def test_a_new_depth_is_one_subclass_away_and_loads_torchvision_weights():
    from taskkit.plugins.vgg.models import VGG

    class VGG19(VGG):
        blocks = ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4)

    with torch.device("meta"):
        ours, reference = VGG19(), tv.vgg19(weights=None)
    ours.load_state_dict(state_without_last_layer(reference), strict=True)


def test_init_is_kaiming_normal():
    backbone = build("vgg11", 1, 28)
    conv = backbone.features[3].weight  # fan-out for convolutions, as torchvision
    fan_out = conv.shape[0] * conv.shape[2] * conv.shape[3]
    assert conv.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)
    linear = backbone.classifier[3].weight  # fan-in for the hidden layers
    assert linear.std().item() == pytest.approx((2 / linear.shape[1]) ** 0.5, rel=0.05)
    assert not backbone.classifier[3].bias.any()


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_is_refused(name):
    with pytest.raises(ComponentOptionError, match="does not accept"):
        BACKBONES.build(name, in_channels=1, img_size=32, depth=3)
