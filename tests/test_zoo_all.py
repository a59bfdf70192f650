"""Every built-in backbone, whatever plugin added it, honours the Backbone interface.

Per-family tests check the details (parameter counts, torchvision weights); this one makes
sure a backbone added later is covered without anyone remembering to list it.
"""

import pytest
import torch

from taskkit.backbone import check_backbone
from taskkit.registries import BACKBONES
from taskkit.sequence import modality

BUILT_IN = [n for n in BACKBONES.names()
            if not n.startswith(("timm/", "tv/")) and modality(BACKBONES.get(n)) == "image"]
SAMPLED_ADAPTERS = ["timm/resnet18", "tv/mobilenet_v3_small"]


def test_the_classic_zoo_is_registered():
    expected = {"lenet", "alexnet", "vgg11", "vgg13", "vgg16", "vgg11_bn", "vgg13_bn", "vgg16_bn", "nin",
                "googlenet", "resnet18", "resnet34", "resnet50", "mobilenet_v1", "mobilenet_v2",
                "shufflenet_v1", "shufflenet_v2", "squeezenet", "xception", "linear", "mlp"}
    assert expected <= set(BUILT_IN)
    for family, default in {"resnet": "resnet18", "vgg": "vgg16", "mobilenet": "mobilenet_v2",
                            "shufflenet": "shufflenet_v2"}.items():
        assert BACKBONES.entry(family).name == default


def run_and_check(backbone, x):
    check_backbone(backbone)
    maps = backbone(x)
    assert len(maps) == len(backbone.stage_names)
    assert [m.shape[1] for m in maps] == list(backbone.out_channels)
    sizes = [m.shape[-1] for m in maps]
    assert all(a >= b for a, b in zip(sizes, sizes[1:])), sizes
    parameters = list(backbone.parameters())
    if parameters:  # softmax regression's backbone is a reshape with nothing to learn
        sum(m.float().mean() for m in maps).backward()
        assert any(p.grad is not None for p in parameters)
    return maps


@pytest.mark.parametrize("name", BUILT_IN + SAMPLED_ADAPTERS)
def test_small_grayscale_forward_and_backward(name):
    size = max(28, getattr(BACKBONES.get(name), "min_img_size", 1))
    torch.manual_seed(0)
    backbone = BACKBONES.build(name, in_channels=1, img_size=size)
    run_and_check(backbone, torch.randn(2, 1, size, size))


@pytest.mark.parametrize("name", BUILT_IN + SAMPLED_ADAPTERS)
def test_rgb_64_forward_and_backward_with_exact_reductions(name):
    """On the meta device: shapes and gradient flow at 64x64 without the cost of big models.

    Unpadded convolutions and pooling (LeNet, AlexNet, SqueezeNet) trim a few pixels, so a
    map may be up to a fifth (at least one pixel) smaller than 64 / reduction; a wrong
    reduction, off by a factor of two, still fails.
    """
    with torch.device("meta"):
        backbone = BACKBONES.build(name, in_channels=3, img_size=64)
        maps = run_and_check(backbone, torch.randn(2, 3, 64, 64))
    for reduction, feature in zip(backbone.reductions, maps):
        if feature.shape[-1] > 1:
            expected = 64 / reduction
            assert abs(feature.shape[-1] - expected) <= max(1.0, 0.2 * expected), (name, reduction, feature.shape)
