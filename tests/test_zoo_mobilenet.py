"""MobileNet v1 and v2: interface, map shapes, small-input rule, parameter counts, torchvision weights."""

import pytest
import torch
from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

from taskkit.backbone import Backbone, check_backbone
from taskkit.errors import ComponentOptionError
from taskkit.registries import BACKBONES, HEADS

NAMES = ["mobilenet_v1", "mobilenet_v2"]
V1_SEPARABLE = [(32, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512),
                *[(512, 512)] * 5, (512, 1024), (1024, 1024)]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def without_classifier(model):
    return {k: v for k, v in model.state_dict().items() if not k.startswith("classifier.")}


def test_mobilenets_are_registered_by_their_plugin_and_mobilenet_means_v2():
    assert {BACKBONES.entry(name).plugin for name in NAMES} == {"mobilenet"}
    assert BACKBONES.get("mobilenet") is BACKBONES.get("mobilenet_v2")
    assert "mobilenet" not in BACKBONES.names()
    assert all(BACKBONES.entry(name).summary for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 64)])
def test_maps_follow_the_declared_stages_forward_and_backward(name, channels, size):
    torch.manual_seed(0)
    backbone = BACKBONES.build(name, in_channels=channels, img_size=size)
    check_backbone(backbone)
    assert isinstance(backbone, Backbone)
    assert backbone.small_input is (size < 64)
    maps = backbone(torch.randn(2, channels, size, size))
    assert len(maps) == len(backbone.stage_names) == 5
    assert [m.shape[1] for m in maps] == backbone.out_channels
    assert [m.shape[2] for m in maps] == [-(-size // r) for r in backbone.reductions]
    assert all(m.shape[0] == 2 and m.shape[2] == m.shape[3] for m in maps)
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in backbone.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_min_img_size_reaches_1x1_in_small_mode(name):
    smallest = BACKBONES.get(name).min_img_size
    assert smallest == 16
    backbone = BACKBONES.build(name, in_channels=1, img_size=smallest).eval()
    with torch.no_grad():
        maps = backbone(torch.randn(1, 1, smallest, smallest))
    assert maps[-1].shape[2:] == (1, 1)


@pytest.mark.parametrize("name", NAMES)
def test_small_input_only_changes_the_stem_stride(name):
    small = BACKBONES.build(name, img_size=28)
    forced = BACKBONES.build(name, img_size=224, small_input=True)
    normal = BACKBONES.build(name, img_size=28, small_input=False)
    assert small.features[0][0].stride == forced.features[0][0].stride == (1, 1)
    assert normal.features[0][0].stride == (2, 2)
    assert small.reductions == forced.reductions == [1, 2, 4, 8, 16]
    assert normal.reductions == [2, 4, 8, 16, 32]
    assert n_params(small) == n_params(normal)


@pytest.mark.parametrize("name", NAMES)
def test_stages_are_views_over_features(name):
    backbone = BACKBONES.build(name, in_channels=1, img_size=28)
    stages = backbone.stages()
    assert [m for stage in stages for m in stage] == list(backbone.features)
    assert sum(n_params(s) for s in stages) == n_params(backbone)
    assert all(k.startswith("features.") for k in backbone.state_dict())
    backbone.eval()
    assert not any(m.training for stage in stages for m in stage.modules() if m is not stage)


def test_mobilenet_v1_has_the_papers_4_2m_parameters():
    backbone = BACKBONES.build("mobilenet_v1", in_channels=3, img_size=224)
    head = HEADS.build("linear", in_channels=backbone.out_channels[-1], num_outputs=1000)
    stem = 3 * 3 * 3 * 32 + 2 * 32
    blocks = sum(9 * cin + 2 * cin + cin * cout + 2 * cout for cin, cout in V1_SEPARABLE)
    assert n_params(backbone) == stem + blocks
    assert n_params(backbone) + n_params(head) == 4_231_976


def test_mobilenet_v1_layout_is_13_separable_blocks_with_stride_2_instead_of_pooling():
    backbone = BACKBONES.build("mobilenet_v1", img_size=224)
    blocks = list(backbone.features)[1:]
    assert len(blocks) == 13
    assert [(b.pointwise[0].in_channels, b.pointwise[0].out_channels) for b in blocks] == V1_SEPARABLE
    assert all(b.depthwise[0].groups == b.depthwise[0].in_channels for b in blocks)
    assert [b.depthwise[0].stride[0] for b in blocks] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    assert sum(isinstance(m, torch.nn.ReLU6) for m in backbone.modules()) == 27
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)) for m in backbone.modules())
    assert backbone.stage_names == ["stem", "stage1", "stage2", "stage3", "stage4"]
    assert backbone.out_channels == [64, 128, 256, 512, 1024]


def test_mobilenet_v1_width_multiplier_scales_every_layer():
    half = BACKBONES.build("mobilenet_v1", width=0.5)
    assert half.out_channels == [32, 64, 128, 256, 512]
    assert half.features[0][0].out_channels == 16
    quarter = BACKBONES.build("mobilenet_v1", width=0.25)
    assert quarter.out_channels == [16, 32, 64, 128, 256]


def test_mobilenet_v2_loads_torchvision_weights_strictly_and_computes_the_same():
    reference = tv_mobilenet_v2(weights=None).eval()
    ours = BACKBONES.build("mobilenet_v2", in_channels=3, img_size=224).eval()
    state = without_classifier(reference)
    assert set(ours.state_dict()) == set(state)
    ours.load_state_dict(state, strict=True)
    head = HEADS.build("linear", in_channels=ours.out_channels[-1], num_outputs=1000)
    assert n_params(ours) + n_params(head) == n_params(reference) == 3_504_872
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        pooled = ours(x)[-1].mean(dim=(2, 3))
        torch.testing.assert_close(reference.classifier(pooled), reference(x))


def test_mobilenet_v2_stages_group_features_by_resolution():
    backbone = BACKBONES.build("mobilenet_v2", img_size=224)
    assert backbone.out_channels == [16, 24, 32, 96, 1280]
    assert [len(s) for s in backbone.stages()] == [2, 2, 3, 7, 5]
    assert backbone.stages()[-1][-1] is backbone.features[18]
    shortcuts = [b.use_res_connect for b in list(backbone.features)[1:18]]
    assert shortcuts == [False, False, True, False, True, True, False, True, True, True,
                         False, True, True, False, True, True, False]


@pytest.mark.parametrize("width", [0.5, 1.4])
def test_mobilenet_v2_width_matches_torchvision_width_mult(width):
    reference = tv_mobilenet_v2(weights=None, width_mult=width)
    ours = BACKBONES.build("mobilenet_v2", width=width)
    ours.load_state_dict(without_classifier(reference), strict=True)
    assert ours.out_channels[-1] == reference.last_channel


@pytest.mark.parametrize("name", NAMES)
def test_bad_options_are_refused(name):
    with pytest.raises(ComponentOptionError, match="width"):
        BACKBONES.build(name, width=0)
    with pytest.raises(ComponentOptionError, match="does not accept"):
        BACKBONES.build(name, depth=3)
