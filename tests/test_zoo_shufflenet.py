"""ShuffleNet v1 and v2: interface, map shapes, small-input rule, parameter counts, torchvision weights."""

import pytest
import torch
import torchvision

from taskkit.backbone import Backbone, check_backbone
from taskkit.errors import ComponentOptionError
from taskkit.plugins.shufflenet.models import channel_shuffle
from taskkit.registries import BACKBONES, HEADS

NAMES = ["shufflenet_v1", "shufflenet_v2"]
TV_WIDTHS = {0.5: "shufflenet_v2_x0_5", 1.0: "shufflenet_v2_x1_0", 1.5: "shufflenet_v2_x1_5",
             2.0: "shufflenet_v2_x2_0"}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def with_linear_head(backbone, classes=1000):
    head = HEADS.build("linear", in_channels=backbone.out_channels[-1], num_outputs=classes)
    return n_params(backbone) + n_params(head)


def without_fc(model):
    return {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}


def test_shufflenets_are_registered_by_their_plugin_and_shufflenet_means_v2():
    assert {BACKBONES.entry(name).plugin for name in NAMES} == {"shufflenet"}
    assert BACKBONES.get("shufflenet") is BACKBONES.get("shufflenet_v2")
    assert "shufflenet" not in BACKBONES.names()
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
    assert len(maps) == len(backbone.stage_names) == len(backbone.stages())
    assert [m.shape[1] for m in maps] == backbone.out_channels
    assert [m.shape[2] for m in maps] == [-(-size // r) for r in backbone.reductions]
    assert all(m.shape[0] == 2 and m.shape[2] == m.shape[3] for m in maps)
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in backbone.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_min_img_size_reaches_1x1_in_small_mode(name):
    smallest = BACKBONES.get(name).min_img_size
    assert smallest == 8
    backbone = BACKBONES.build(name, in_channels=1, img_size=smallest).eval()
    with torch.no_grad():
        maps = backbone(torch.randn(1, 1, smallest, smallest))
    assert maps[-1].shape[2:] == (1, 1)


@pytest.mark.parametrize("name", NAMES)
def test_small_input_drops_the_stem_stride_and_max_pool(name):
    small = BACKBONES.build(name, img_size=28)
    forced = BACKBONES.build(name, img_size=224, small_input=True)
    normal = BACKBONES.build(name, img_size=28, small_input=False)
    for backbone in (small, forced):
        assert backbone.conv1[0].stride == (1, 1) and isinstance(backbone.maxpool, torch.nn.Identity)
    assert normal.conv1[0].stride == (2, 2) and isinstance(normal.maxpool, torch.nn.MaxPool2d)
    assert small.reductions[:4] == forced.reductions[:4] == [1, 2, 4, 8]
    assert normal.reductions[:4] == [4, 8, 16, 32]
    assert n_params(small) == n_params(normal)


@pytest.mark.parametrize("name", NAMES)
def test_stages_share_the_backbones_own_modules(name):
    backbone = BACKBONES.build(name, in_channels=1, img_size=28)
    stem = backbone.stages()[0]
    assert stem.conv1 is backbone.conv1 and stem.maxpool is backbone.maxpool
    assert not any(k.startswith("stem.") for k in backbone.state_dict())
    assert sum(n_params(s) for s in backbone.stages()) == n_params(backbone)


def test_channel_shuffle_interleaves_the_groups():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_shufflenet_v1_g3_has_about_1_9m_parameters_by_hand():
    def unit(cin, cout, stride, groups, first):
        mid, out = cout // 4, cout - cin if stride == 2 else cout
        compress = cin * mid // (1 if first else groups) + 2 * mid
        return compress + 9 * mid + 2 * mid + mid * out // groups + 2 * out

    stem = 3 * 9 * 24 + 2 * 24
    units = unit(24, 240, 2, 3, True) + 3 * unit(240, 240, 1, 3, False)
    units += unit(240, 480, 2, 3, False) + 7 * unit(480, 480, 1, 3, False)
    units += unit(480, 960, 2, 3, False) + 3 * unit(960, 960, 1, 3, False)
    backbone = BACKBONES.build("shufflenet_v1", img_size=224)
    assert n_params(backbone) == stem + units
    assert with_linear_head(backbone) == 1_865_728


@pytest.mark.parametrize("groups,channels,total", [(1, [144, 288, 576], 1_531_936),
                                                   (2, [200, 400, 800], 1_733_848),
                                                   (4, [272, 544, 1088], 1_968_344),
                                                   (8, [384, 768, 1536], 2_434_768)])
def test_shufflenet_v1_groups_follow_the_papers_table(groups, channels, total):
    backbone = BACKBONES.build("shufflenet_v1", img_size=224, groups=groups)
    assert backbone.out_channels == [24, *channels]
    assert with_linear_head(backbone) == total
    second = backbone.stage3[1]
    assert second.compress[0].groups == second.expand[0].groups == groups
    assert backbone.stage2[0].compress[0].groups == 1


def test_shufflenet_v1_units_add_at_stride_1_and_concatenate_at_stride_2():
    backbone = BACKBONES.build("shufflenet_v1", img_size=224)
    down, same = backbone.stage3[0], backbone.stage3[1]
    assert isinstance(down.shortcut, torch.nn.AvgPool2d) and down.expand[0].out_channels == 480 - 240
    assert isinstance(same.shortcut, torch.nn.Identity) and same.expand[0].out_channels == 480
    assert down.depthwise[0].groups == down.depthwise[0].in_channels == 120
    assert [len(s) for s in (backbone.stage2, backbone.stage3, backbone.stage4)] == [4, 8, 4]


def test_shufflenet_v2_loads_torchvision_weights_strictly_and_computes_the_same():
    reference = torchvision.models.shufflenet_v2_x1_0(weights=None).eval()
    ours = BACKBONES.build("shufflenet_v2", in_channels=3, img_size=224).eval()
    state = without_fc(reference)
    assert set(ours.state_dict()) == set(state)
    ours.load_state_dict(state, strict=True)
    assert with_linear_head(ours) == n_params(reference) == 2_278_604
    assert ours.stage_names == ["stem", "stage2", "stage3", "stage4", "conv5"]
    assert ours.out_channels == [24, 116, 232, 464, 1024]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        pooled = ours(x)[-1].mean(dim=(2, 3))
        torch.testing.assert_close(reference.fc(pooled), reference(x))


@pytest.mark.parametrize("width", [0.5, 1.5, 2.0])
def test_shufflenet_v2_widths_match_torchvision(width):
    reference = getattr(torchvision.models, TV_WIDTHS[width])(weights=None)
    ours = BACKBONES.build("shufflenet_v2", img_size=224, width=width)
    ours.load_state_dict(without_fc(reference), strict=True)
    assert with_linear_head(ours) == n_params(reference)


def test_bad_options_are_refused():
    with pytest.raises(ComponentOptionError, match="groups must be one of 1, 2, 3, 4, 8"):
        BACKBONES.build("shufflenet_v1", groups=5)
    with pytest.raises(ComponentOptionError, match="width must be one of 0.5, 1.0, 1.5, 2.0"):
        BACKBONES.build("shufflenet_v2", width=0.75)
    for name in NAMES:
        with pytest.raises(ComponentOptionError, match="does not accept"):
            BACKBONES.build(name, depth=3)
