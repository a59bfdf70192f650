"""ResNet-18, -34 and -50: interface, map shapes, small-input rule, parameter counts, torchvision weights."""

import pytest
import torch
from torchvision.models import resnet18 as tv_resnet18
from torchvision.models import resnet34 as tv_resnet34
from torchvision.models import resnet50 as tv_resnet50

from taskkit.backbone import Backbone, check_backbone
from taskkit.registries import BACKBONES, HEADS

NAMES = ["resnet18", "resnet34", "resnet50"]
TORCHVISION = {"resnet18": tv_resnet18, "resnet34": tv_resnet34, "resnet50": tv_resnet50}
WIDTHS = {"resnet18": [64, 64, 128, 256, 512], "resnet34": [64, 64, 128, 256, 512],
          "resnet50": [64, 256, 512, 1024, 2048]}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_resnets_are_registered_by_their_plugin_and_resnet_means_resnet18():
    assert {BACKBONES.entry(name).plugin for name in NAMES} == {"resnet"}
    assert BACKBONES.get("resnet") is BACKBONES.get("resnet18")
    assert "resnet" not in BACKBONES.names()
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
    assert backbone.stage_names == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert [m.shape[1] for m in maps] == backbone.out_channels == WIDTHS[name]
    assert [m.shape[2] for m in maps] == [-(-size // r) for r in backbone.reductions]
    assert all(m.shape[0] == 2 and m.shape[2] == m.shape[3] for m in maps)
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in backbone.parameters())


@pytest.mark.parametrize("size,small,reductions", [(63, True, [1, 1, 2, 4, 8]),
                                                   (64, False, [4, 4, 8, 16, 32])])
def test_small_input_means_under_64_pixels(size, small, reductions):
    backbone = BACKBONES.build("resnet34", img_size=size)
    assert backbone.small_input is small and backbone.reductions == reductions
    assert backbone.conv1.kernel_size == ((3, 3) if small else (7, 7))
    assert isinstance(backbone.maxpool, torch.nn.Identity) is small


@pytest.mark.parametrize("name", NAMES)
def test_min_img_size_reaches_1x1(name):
    smallest = BACKBONES.get(name).min_img_size
    backbone = BACKBONES.build(name, in_channels=1, img_size=smallest).eval()
    with torch.no_grad():
        maps = backbone(torch.randn(1, 1, smallest, smallest))
    assert maps[-1].shape[2:] == (1, 1)


@pytest.mark.parametrize("name,total", [("resnet18", 11_689_512), ("resnet34", 21_797_672),
                                        ("resnet50", 25_557_032)])
def test_torchvision_weights_load_strictly_and_counts_match(name, total):
    reference = TORCHVISION[name](weights=None)
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    ours = BACKBONES.build(name, img_size=224)
    assert set(ours.state_dict()) == set(state)
    ours.load_state_dict(state, strict=True)
    head = HEADS.build("linear", in_channels=ours.out_channels[-1], num_outputs=1000)
    assert n_params(ours) + n_params(head) == n_params(reference) == total


def test_resnet50_matches_torchvision_outputs_at_224():
    torch.manual_seed(0)
    reference = tv_resnet50(weights=None).eval()
    ours = BACKBONES.build("resnet50", img_size=224).eval()
    ours.load_state_dict({k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")})
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        maps = ours(x)
        assert [tuple(m.shape[1:]) for m in maps] == [
            (64, 56, 56), (256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
        torch.testing.assert_close(reference.fc(maps[-1].mean(dim=(2, 3))), reference(x))


@pytest.mark.parametrize("name", NAMES)
def test_stages_cover_every_parameter_once(name):
    backbone = BACKBONES.build(name, in_channels=1, img_size=28)
    assert sum(n_params(s) for s in backbone.stages()) == n_params(backbone)
    assert not any(k.startswith("stem.") for k in backbone.state_dict())
