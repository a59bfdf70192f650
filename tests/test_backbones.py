"""The built-in backbones: interface, map shapes, reductions, parameter counts, weights."""

import pytest
import torch
from torchvision.models import resnet18 as tv_resnet18

from taskkit.backbone import Backbone, check_backbone
from taskkit.errors import ComponentOptionError
from taskkit.registries import BACKBONES, HEADS

NAMES = ["linear", "mlp", "lenet", "resnet18"]
INPUTS = [(1, 28), (1, 32), (3, 64)]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def maps_for(name, channels, size, batch=2, **options):
    torch.manual_seed(0)
    backbone = BACKBONES.build(name, in_channels=channels, img_size=size, **options).eval()
    with torch.no_grad():
        maps = backbone(torch.randn(batch, channels, size, size))
    return backbone, maps


def test_builtin_backbones_are_registered_by_their_plugins():
    plugins = {name: BACKBONES.entry(name).plugin for name in NAMES}
    assert plugins == {"linear": "dense", "mlp": "dense", "lenet": "lenet", "resnet18": "resnet"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels,size", INPUTS)
def test_maps_follow_the_declared_stages(name, channels, size):
    backbone, maps = maps_for(name, channels, size)
    check_backbone(backbone)
    assert isinstance(backbone, Backbone)
    assert len(maps) == len(backbone.stage_names) == len(backbone.stages())
    assert [m.shape[1] for m in maps] == backbone.out_channels
    for m, reduction in zip(maps, backbone.reductions):
        assert m.shape[0] == 2 and m.shape[2] == m.shape[3]
        assert m.shape[2] <= -(-size // reduction)  # never larger than the stride allows


@pytest.mark.parametrize("name,smallest", [("linear", 1), ("mlp", 1), ("lenet", 28), ("resnet18", 8)])
def test_min_img_size_is_the_smallest_input_that_works(name, smallest):
    assert BACKBONES.get(name).min_img_size == smallest
    _, maps = maps_for(name, 1, smallest)
    assert maps[-1].shape[2:] == (1, 1)


@pytest.mark.parametrize("size", [28, 32, 64])
def test_dense_backbones_flatten_to_1x1_maps(size):
    backbone, maps = maps_for("linear", 1, size)
    assert backbone.stage_names == ["flatten"]
    assert maps[0].shape == (2, size * size, 1, 1)
    assert backbone.reductions == [size]
    backbone, maps = maps_for("mlp", 3, size)
    assert backbone.stage_names == ["flatten", "fc1", "fc2"]
    assert [tuple(m.shape) for m in maps] == [(2, 3 * size * size, 1, 1), (2, 256, 1, 1), (2, 128, 1, 1)]


def test_linear_backbone_keeps_the_pixels_in_order():
    x = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(1, 2, 8, 8)
    (flat,) = BACKBONES.build("linear", in_channels=2, img_size=8)(x)
    torch.testing.assert_close(flat.flatten(), x.flatten())


def test_softmax_regression_has_650_parameters_on_8x8_digits():
    backbone = BACKBONES.build("linear", in_channels=1, img_size=8)
    head = HEADS.build("linear", in_channels=backbone.out_channels[-1], num_outputs=10)
    assert n_params(backbone) == 0
    assert n_params(head) == 64 * 10 + 10 == 650


def test_mlp_options_shape_the_layers():
    backbone, maps = maps_for("mlp", 1, 8, batch=4, hidden=(32, 16, 8), dropout=0.5, batch_norm=True)
    assert backbone.out_channels == [64, 32, 16, 8]
    assert [m.shape[1] for m in maps] == [64, 32, 16, 8]
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    drops = [m for m in backbone.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(norms) == 3 and len(drops) == 3 and drops[0].p == 0.5
    # with batch norm the linear bias is dropped: weights + norm (2 per unit)
    assert n_params(backbone) == (64 * 32 + 32 * 16 + 16 * 8) + 2 * (32 + 16 + 8)
    plain = BACKBONES.build("mlp", in_channels=1, img_size=8, hidden=(32,))
    assert n_params(plain) == 64 * 32 + 32
    assert not any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.Dropout)) for m in plain.modules())


def test_mlp_rejects_bad_widths():
    with pytest.raises(ComponentOptionError, match="hidden"):
        BACKBONES.build("mlp", hidden=(32, 0))


@pytest.mark.parametrize("size", [28, 32])
def test_lenet_reaches_16x5x5_before_the_fully_connected_part(size):
    backbone, maps = maps_for("lenet", 1, size)
    assert backbone.stage_names == ["stem", "conv2", "fc"]
    assert [tuple(m.shape[1:]) for m in maps] == [(6, 14, 14), (16, 5, 5), (84, 1, 1)]
    assert backbone.stem[0].padding == ((2, 2) if size == 28 else (0, 0))


def test_lenet_pools_larger_images_down_to_5x5():
    backbone, maps = maps_for("lenet", 3, 64)
    assert [tuple(m.shape[1:]) for m in maps] == [(6, 30, 30), (16, 13, 13), (84, 1, 1)]
    assert n_params(backbone) == n_params(BACKBONES.build("lenet", in_channels=3, img_size=32))


def test_lenet5_has_the_classic_61706_parameters():
    backbone = BACKBONES.build("lenet", in_channels=1, img_size=32)
    head = HEADS.build("linear", in_channels=84, num_outputs=10)
    convs = (6 * 1 * 25 + 6) + (16 * 6 * 25 + 16)
    fcs = (400 * 120 + 120) + (120 * 84 + 84)
    assert n_params(backbone) == convs + fcs
    assert n_params(backbone) + n_params(head) == 61_706


@pytest.mark.parametrize("activation,kind", [("relu", torch.nn.ReLU), ("tanh", torch.nn.Tanh),
                                             ("sigmoid", torch.nn.Sigmoid)])
@pytest.mark.parametrize("pooling,pool", [("max", torch.nn.MaxPool2d), ("avg", torch.nn.AvgPool2d)])
def test_lenet_activation_and_pooling_options(activation, kind, pooling, pool):
    backbone = BACKBONES.build("lenet", in_channels=1, img_size=28, activation=activation, pooling=pooling)
    assert sum(isinstance(m, kind) for m in backbone.modules()) == 4
    assert sum(isinstance(m, pool) for m in backbone.modules()) == 2


def test_lenet_rejects_an_unknown_activation():
    with pytest.raises(ComponentOptionError, match="relu, tanh, sigmoid"):
        BACKBONES.build("lenet", activation="gelu")


@pytest.mark.parametrize("channels,size,small", [(1, 28, True), (1, 32, True), (3, 63, True),
                                                 (3, 64, False), (3, 96, False)])
def test_resnet18_stem_depends_on_image_size(channels, size, small):
    backbone, maps = maps_for("resnet18", channels, size)
    assert backbone.small_input is small
    assert backbone.reductions == ([1, 1, 2, 4, 8] if small else [4, 4, 8, 16, 32])
    assert backbone.out_channels == [64, 64, 128, 256, 512]
    for m, reduction in zip(maps, backbone.reductions):
        assert m.shape[2] == -(-size // reduction)


def test_resnet18_at_224_has_a_512x7x7_last_map():
    backbone, maps = maps_for("resnet18", 3, 224, batch=1)
    assert backbone.stage_names == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert [tuple(m.shape[1:]) for m in maps] == [
        (64, 56, 56), (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]


def test_resnet18_small_input_can_be_forced():
    backbone, maps = maps_for("resnet18", 3, 32, small_input=False)
    assert backbone.conv1.kernel_size == (7, 7) and maps[-1].shape[2:] == (1, 1)
    backbone = BACKBONES.build("resnet18", img_size=224, small_input=True)
    assert backbone.conv1.kernel_size == (3, 3) and backbone.reductions[-1] == 8


def test_resnet18_loads_torchvision_weights_strictly():
    reference = tv_resnet18(weights=None).eval()
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    ours = BACKBONES.build("resnet18", img_size=224).eval()
    assert set(ours.state_dict()) == set(state)
    ours.load_state_dict(state, strict=True)
    assert n_params(ours) == 11_689_512 - (512 * 1000 + 1000)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        pooled = ours(x)[-1].mean(dim=(2, 3))
        torch.testing.assert_close(reference.fc(pooled), reference(x))


def test_resnet18_small_stem_differs_from_torchvision_only_in_conv1():
    reference = tv_resnet18(weights=None).state_dict()
    ours = BACKBONES.build("resnet18", img_size=32).state_dict()
    assert set(ours) == {k for k in reference if not k.startswith("fc.")}
    differ = [k for k in ours if ours[k].shape != reference[k].shape]
    assert differ == ["conv1.weight"] and ours["conv1.weight"].shape == (64, 3, 3, 3)


def test_resnet_stages_share_the_backbones_own_modules():
    backbone = BACKBONES.build("resnet18", in_channels=1, img_size=32)
    stem = backbone.stages()[0]
    assert stem.conv1 is backbone.conv1 and stem.bn1 is backbone.bn1
    assert not any(k.startswith("stem.") for k in backbone.state_dict())
    stages_total = sum(n_params(s) for s in backbone.stages())
    assert stages_total == n_params(backbone)
    backbone.eval()
    assert not stem.bn1.training


def test_a_bottleneck_resnet_is_one_subclass_away_and_loads_torchvision_weights():
    from torchvision.models import resnet50 as tv_resnet50

    from taskkit.plugins.resnet.models import Bottleneck, ResNet

    class ResNet50(ResNet):
        block, layers = Bottleneck, (3, 4, 6, 3)

    ours = ResNet50(img_size=224)
    assert ours.out_channels == [64, 256, 512, 1024, 2048]
    state = {k: v for k, v in tv_resnet50(weights=None).state_dict().items() if not k.startswith("fc.")}
    ours.load_state_dict(state, strict=True)


def test_resnet_init_is_kaiming_fan_out():
    torch.manual_seed(0)
    weight = BACKBONES.build("resnet18", img_size=224).layer4[0].conv1.weight
    fan_out = weight.shape[0] * weight.shape[2] * weight.shape[3]
    assert weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_is_refused(name):
    with pytest.raises(ComponentOptionError, match="does not accept"):
        BACKBONES.build(name, in_channels=1, img_size=32, depth=3)
