"""Xception: interface, map shapes, small-input rule, the paper's parameter count, options."""

import pytest
import torch
from torch import nn

from taskkit.backbone import Backbone, check_backbone
from taskkit.errors import ComponentOptionError
from taskkit.registries import BACKBONES, HEADS

STAGES = ["stem", "entry1", "entry2", "entry3", "middle", "exit"]
CHANNELS = [64, 128, 256, 728, 728, 2048]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def build(channels=3, size=224, **options):
    torch.manual_seed(0)
    return BACKBONES.build("xception", in_channels=channels, img_size=size, **options)


def test_xception_is_registered_by_its_plugin():
    assert BACKBONES.entry("xception").plugin == "xception"
    assert "Xception" in BACKBONES.entry("xception").summary


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


def test_reductions_at_224_give_112_56_28_14_14_7_pixel_maps():
    assert build().reductions == [2, 4, 8, 16, 16, 32]


def test_small_input_rule_drops_two_of_the_five_stride_2_steps():
    small = build(1, 28)
    assert small.reductions == [1, 1, 2, 4, 4, 8]
    assert small.stem[0].stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in small.entry1.modules())
    assert small.entry1.shortcut[0].stride == (1, 1)  # still a projection: 64 -> 128 channels
    normal = build(3, 64)
    assert normal.stem[0].stride == (2, 2) and normal.entry1.shortcut[0].stride == (2, 2)
    assert build(3, 224, small_input=True, middle_blocks=0).reductions[-1] == 8
    assert build(1, 32, small_input=False, middle_blocks=0).reductions[-1] == 32
    assert n_params(small) == n_params(build(1, 224))  # strides only: same weights


def test_min_img_size_is_the_smallest_input_that_works():
    smallest = BACKBONES.get("xception").min_img_size
    assert smallest == 1
    with torch.no_grad():
        maps = build(1, smallest, middle_blocks=1).eval()(torch.randn(2, 1, 1, 1))
    assert maps[-1].shape == (2, 2048, 1, 1)


def expected_parameters(middle_blocks=8, classes=1000):
    """Xception's weights counted by hand from the paper's figure 5.

    A separable convolution from i to o channels has 9*i depthwise and i*o pointwise weights
    (no bias: BatchNorm follows); each BatchNorm has 2 per channel; shortcuts are 1x1
    convolutions with BatchNorm. This gives the paper's 22,855,952 (its table 3). Keras'
    `model.summary()` shows 22,910,480 because it also counts the BatchNorm running mean and
    variance (54,528 non-trainable numbers), which PyTorch keeps as buffers.
    """
    def sep(i, o):
        return 9 * i + i * o + 2 * o

    def block(i, widths, shortcut=True):
        convs = sum(sep(a, b) for a, b in zip((i, *widths), widths))
        return convs + (i * widths[-1] + 2 * widths[-1] if shortcut else 0)

    stem = (3 * 32 * 9 + 2 * 32) + (32 * 64 * 9 + 2 * 64)  # 19,488
    entry = block(64, (128, 128)) + block(128, (256, 256)) + block(256, (728, 728))  # 1,087,272
    middle = middle_blocks * block(728, (728, 728, 728), shortcut=False)  # 8 x 1,613,976
    exit_flow = block(728, (728, 1024)) + sep(1024, 1536) + sep(1536, 2048)  # 6,788,384
    return stem + entry + middle + exit_flow + 2048 * classes + classes  # head: 2,049,000


def test_parameter_count_is_the_papers_22_855_952():
    backbone = build()
    head = HEADS.build("linear", in_channels=2048, num_outputs=1000)
    assert n_params(backbone) + n_params(head) == expected_parameters() == 22_855_952
    norms = [m for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert sum(2 * m.num_features for m in norms) == 54_528  # Keras' non-trainable extra
    assert sum(1 for m in backbone.modules() if isinstance(m, nn.Conv2d) and m.groups > 1) == 34


def test_the_stack_has_36_convolution_layers():
    backbone = build()
    dense = [m for m in backbone.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
             and m.groups == 1]
    separable = [m for m in backbone.modules() if type(m).__name__ == "SeparableConv2d"]
    assert len(dense) + len(separable) == 36  # shortcuts aside, as counted in the paper


def test_middle_blocks_makes_a_lighter_model():
    light = build(1, 28, middle_blocks=2)
    assert len(light.middle) == 2
    assert n_params(light) == n_params(build(1, 28)) - 6 * 3 * (728 * 9 + 728 * 728 + 2 * 728)
    assert light.out_channels == CHANNELS
    with torch.no_grad():
        assert light.eval()(torch.randn(2, 1, 28, 28))[-1].shape == (2, 2048, 4, 4)


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_middle_blocks_must_be_a_non_negative_integer(bad):
    with pytest.raises(ComponentOptionError, match="middle_blocks"):
        BACKBONES.build("xception", middle_blocks=bad)


def test_residual_blocks_add_their_shortcut():
    backbone = build(1, 28).eval()
    block = backbone.middle[0]
    assert isinstance(block.shortcut, nn.Identity)
    x = torch.randn(2, 728, 7, 7)
    with torch.no_grad():
        torch.testing.assert_close(block(x), block.layers(x) + x)
    assert isinstance(block.layers[0], nn.ReLU) and not block.layers[0].inplace  # x is reused
    assert not isinstance(backbone.entry1.layers[0], nn.ReLU)  # the stem has just applied one


def test_stage_maps_are_not_overwritten_by_later_stages():
    backbone = build(1, 16, middle_blocks=1).eval()
    with torch.no_grad():
        maps = backbone(torch.randn(2, 1, 16, 16))
        again = [m.clone() for m in maps]
        for stage, (before, after) in enumerate(zip(maps[:-1], backbone.stages()[1:])):
            after(before)
            torch.testing.assert_close(before, again[stage])
    assert (maps[3] < 0).any()  # entry3 ends in BatchNorm, so a later in-place ReLU would show


def test_depthwise_convolutions_use_their_true_fan_in():
    depthwise = build().exit[0].layers[1].depthwise.weight
    assert depthwise.std().item() == pytest.approx((2 / 9) ** 0.5, rel=0.05)


def test_an_unknown_option_is_refused():
    with pytest.raises(ComponentOptionError, match="does not accept"):
        BACKBONES.build("xception", in_channels=1, img_size=32, depth=3)
