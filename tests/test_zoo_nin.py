"""Network in Network: interface, map shapes, layer names, the `gap` head and the hand-counted weights."""

import pytest
import torch
from torch import nn

from taskkit.backbone import Backbone, BackboneWithHead, check_backbone
from taskkit.errors import ComponentOptionError
from taskkit.registries import BACKBONES, HEADS

STAGES = ["mlpconv1", "mlpconv2", "mlpconv3"]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def build(channels=3, size=32, **options):
    torch.manual_seed(0)
    return BACKBONES.build("nin", in_channels=channels, img_size=size, **options)


def conv(in_channels, out_channels, kernel):
    return in_channels * out_channels * kernel * kernel + out_channels


def test_nin_is_registered_by_its_plugin():
    entry = BACKBONES.entry("nin")
    assert entry.plugin == "nin" and "Network in Network" in entry.summary
    assert "--head gap" in entry.doc


@pytest.mark.parametrize("channels,size", [(1, 28), (3, 64)])
def test_forward_and_backward_follow_the_declared_stages(channels, size):
    backbone = build(channels, size).train()
    check_backbone(backbone)
    assert isinstance(backbone, Backbone)
    maps = backbone(torch.randn(2, channels, size, size))
    assert backbone.stage_names == STAGES
    assert backbone.out_channels == [96, 192, 192] == [m.shape[1] for m in maps]
    assert backbone.reductions == [1, 2, 4]
    assert [tuple(m.shape[2:]) for m in maps] == [(-(-size // r),) * 2 for r in backbone.reductions]
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


@pytest.mark.parametrize("size", [1, 5, 7, 32])
def test_padded_pools_give_exact_sizes_down_to_the_minimum(size):
    assert BACKBONES.get("nin").min_img_size == 1
    with torch.no_grad():
        maps = build(1, size).eval()(torch.randn(1, 1, size, size))
    assert [m.shape[2] for m in maps] == [size, -(-size // 2), -(-size // 4)]


def test_small_input_changes_nothing():
    small, normal = build(3, 32), build(3, 224, small_input=False)
    assert small.small_input and not normal.small_input
    assert small.reductions == normal.reductions
    assert {k: v.shape for k, v in small.state_dict().items()} == {
        k: v.shape for k, v in normal.state_dict().items()}


def test_layers_carry_the_papers_names_and_widths():
    backbone = build()
    convs = {name: m for name, m in backbone.named_modules() if isinstance(m, nn.Conv2d)}
    assert {name: (m.in_channels, m.out_channels, m.kernel_size[0]) for name, m in convs.items()} == {
        "mlpconv1.conv1": (3, 192, 5), "mlpconv1.cccp1": (192, 160, 1), "mlpconv1.cccp2": (160, 96, 1),
        "mlpconv2.conv2": (96, 192, 5), "mlpconv2.cccp3": (192, 192, 1), "mlpconv2.cccp4": (192, 192, 1),
        "mlpconv3.conv3": (192, 192, 3), "mlpconv3.cccp5": (192, 192, 1),
    }
    pools = [m for m in backbone.modules() if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 2), (3, 2)]
    assert [m.p for m in backbone.modules() if isinstance(m, nn.Dropout)] == [0.5, 0.5]
    assert [m.p for m in build(dropout=0.1).modules() if isinstance(m, nn.Dropout)] == [0.1, 0.1]


def test_with_the_gap_head_it_is_the_papers_cifar10_network_with_966_986_weights():
    backbone = build(3, 32)
    head = HEADS.build("gap", in_channels=backbone.out_channels[-1], num_outputs=10)
    block1 = conv(3, 192, 5) + conv(192, 160, 1) + conv(160, 96, 1)  # 14,592 + 30,880 + 15,456
    block2 = conv(96, 192, 5) + 2 * conv(192, 192, 1)  # 460,992 + 2 * 37,056
    block3 = conv(192, 192, 3) + conv(192, 192, 1)  # 331,968 + 37,056
    assert (block1, block2, block3) == (60_928, 535_104, 369_024)
    assert n_params(backbone) == block1 + block2 + block3 == 965_056
    assert n_params(head) == conv(192, 10, 1) == 1_930  # cccp6: one map per class
    assert n_params(backbone) + n_params(head) == 966_986
    model = BackboneWithHead(backbone, head).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_stages_are_the_registered_blocks():
    backbone = build()
    assert backbone.stages() == [backbone.mlpconv1, backbone.mlpconv2, backbone.mlpconv3]
    assert sum(n_params(s) for s in backbone.stages()) == n_params(backbone)


def test_an_unknown_option_is_refused():
    with pytest.raises(ComponentOptionError, match="does not accept"):
        BACKBONES.build("nin", in_channels=1, img_size=32, depth=3)
