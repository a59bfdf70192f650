"""Segmentation decoders: output sizes on several backbones, max-unpooling, upsampling modes."""

import pytest
import torch
import torch.nn.functional as F

from taskkit.backbone import BackboneWithDecoder, PooledMaps, spatial_stage_count
from taskkit.errors import BadInputError
from taskkit.plugins.decoders.blocks import Upsample, bilinear_deconv
from taskkit.registries import BACKBONES, HEADS

SIZES = [(64, 64), (96, 128)]
INTERPOLATING = ["fcn", "fcn16s", "fcn32s", "unet", "psp"]


def segmentation_model(backbone_name, head_name, height, width, classes=4, **options):
    backbone = BACKBONES.build(backbone_name, in_channels=3, img_size=min(height, width))
    count = spatial_stage_count(backbone.reductions, height, width)
    if head_name == "segnet":
        options.setdefault("depths", backbone.stage_depths[:count])
    decoder = HEADS.build(head_name, in_channels=backbone.out_channels[:count], reductions=backbone.reductions[:count],
                          num_outputs=classes, **options)
    return BackboneWithDecoder(backbone, decoder)


@pytest.mark.parametrize("height,width", SIZES)
@pytest.mark.parametrize("backbone", ["resnet18", "mobilenet_v2"])
@pytest.mark.parametrize("head", INTERPOLATING)
def test_interpolating_decoders_give_logits_of_the_input_size(backbone, head, height, width):
    torch.manual_seed(0)
    model = segmentation_model(backbone, head, height, width).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, height, width))
    assert logits.shape == (2, 4, height, width)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("height,width", SIZES)
@pytest.mark.parametrize("backbone", ["segnet_small", "segnet_vgg16"])
@pytest.mark.parametrize("head", ["segnet", "unet"])
def test_segnet_backbones_serve_segnet_and_other_decoders(backbone, head, height, width):
    model = segmentation_model(backbone, head, height, width, classes=3).eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, height, width))
    assert logits.shape == (1, 3, height, width)


def test_dense_stages_are_left_out_of_what_decoders_read():
    vgg = BACKBONES.build("vgg11", in_channels=3, img_size=64)
    assert vgg.stage_names[-1] == "fc"
    assert spatial_stage_count(vgg.reductions, 64, 64) == len(vgg.stage_names) - 1
    lenet = BACKBONES.build("lenet", in_channels=1, img_size=28)
    assert spatial_stage_count(lenet.reductions, 28, 28) == 2


def test_max_unpooling_puts_each_value_back_at_its_recorded_argmax():
    """A hand-made 4x4 map through the encoder's pooling and the decoder's unpooling."""
    encoder = BACKBONES.build("segnet_small", in_channels=1, img_size=16)
    decoder = HEADS.build("segnet", in_channels=encoder.out_channels, reductions=encoder.reductions, num_outputs=2)
    pool, unpool = encoder._pools[0], decoder.unpool[0]
    x = torch.tensor([[1., 9., 2., 0.],
                      [3., 4., 0., 7.],
                      [8., 0., 5., 5.],
                      [0., 2., 6., 1.]]).view(1, 1, 4, 4)
    pooled, indices = pool(x)
    assert pooled.view(-1).tolist() == [9., 7., 8., 6.]
    restored = unpool(pooled, indices, output_size=[4, 4])
    expected = torch.tensor([[0., 9., 0., 0.],
                             [0., 0., 0., 7.],
                             [8., 0., 0., 0.],
                             [0., 0., 6., 0.]]).view(1, 1, 4, 4)
    assert torch.equal(restored, expected)


def test_segnet_backbone_records_indices_of_each_stage_and_the_decoder_uses_them():
    torch.manual_seed(0)
    model = segmentation_model("segnet_small", "segnet", 32, 32, classes=2).eval()
    x = torch.randn(1, 3, 32, 32)
    maps = model.backbone(x)
    assert isinstance(maps, PooledMaps) and len(maps.indices) == len(maps) == 4
    assert maps.sizes == [(32, 32), (16, 16), (8, 8), (4, 4)]
    with torch.no_grad():
        normal = model.head(maps, (32, 32))
        moved = PooledMaps(list(maps), [i.flip(-1) for i in maps.indices], maps.sizes)
        shifted = model.head(moved, (32, 32))
    assert not torch.allclose(normal, shifted)


def test_segnet_decoder_refuses_maps_without_indices():
    model = segmentation_model("resnet18", "unet", 64, 64)
    decoder = HEADS.build("segnet", in_channels=model.backbone.out_channels, num_outputs=2)
    with pytest.raises(BadInputError, match="segnet_vgg16 or segnet_small"):
        decoder(model.backbone(torch.randn(1, 3, 64, 64)), (64, 64))


def test_decoders_refuse_a_single_channel_count_from_classification_tasks():
    with pytest.raises(BadInputError, match="segmentation decoder"):
        HEADS.build("unet", in_channels=512, num_outputs=10)


def test_fcn_transposed_upsampling_starts_as_bilinear_interpolation():
    deconv = bilinear_deconv(2, 2)
    x = torch.rand(1, 2, 6, 6)
    ours = deconv(x)
    reference = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert ours.shape == reference.shape == (1, 2, 12, 12)
    assert torch.allclose(ours[..., 1:-1, 1:-1], reference[..., 1:-1, 1:-1], atol=1e-6)  # borders differ by padding


def test_upsample_lands_on_odd_sizes_in_every_mode():
    for mode in ("nearest", "bilinear", "bicubic", "transposed"):
        up = Upsample(mode, channels=3, factor=2)
        assert up(torch.randn(1, 3, 12, 16), (25, 33)).shape == (1, 3, 25, 33)


def test_unet_upsample_modes_give_different_outputs_and_all_train():
    x = torch.randn(4, 3, 32, 32)
    target = (x[:, 0] > 0).long()  # a pixel's class is readable from its own value
    outputs = {}
    for mode in ("nearest", "bilinear", "bicubic", "transposed"):
        torch.manual_seed(0)
        model = segmentation_model("segnet_small", "unet", 32, 32, classes=2, upsample=mode)
        model.eval()
        with torch.no_grad():
            outputs[mode] = model(x)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        losses = []
        for _ in range(12):
            loss = F.cross_entropy(model(x), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < 0.8 * losses[0], (mode, losses)
    modes = list(outputs)
    for i, first in enumerate(modes):
        for second in modes[i + 1:]:
            assert not torch.allclose(outputs[first], outputs[second], atol=1e-4), (first, second)


def test_segnet_vgg16_keeps_torchvision_vgg16_bn_feature_names():
    from torchvision.models import vgg16_bn

    theirs = {k: v.shape for k, v in vgg16_bn(weights=None).state_dict().items() if k.startswith("features.")}
    ours = {k: v.shape for k, v in BACKBONES.build("segnet_vgg16").state_dict().items()}
    assert ours == theirs
