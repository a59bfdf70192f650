"""The built-in classification heads: logits shape on every backbone, options, weights."""

import pytest
import torch

from taskkit.errors import ComponentOptionError
from taskkit.registries import BACKBONES, HEADS

HEAD_NAMES = ["linear", "mlp", "gap"]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_builtin_heads_are_registered_by_their_plugin():
    assert {HEADS.entry(name).plugin for name in HEAD_NAMES} == {"heads"}


@pytest.mark.parametrize("head_name", HEAD_NAMES)
@pytest.mark.parametrize("backbone_name,channels,size", [
    ("linear", 1, 8), ("mlp", 1, 28), ("lenet", 1, 28), ("resnet18", 3, 32)])
def test_every_head_gives_one_row_of_logits_per_image(head_name, backbone_name, channels, size):
    torch.manual_seed(0)
    backbone = BACKBONES.build(backbone_name, in_channels=channels, img_size=size).eval()
    head = HEADS.build(head_name, in_channels=backbone.out_channels[-1], num_outputs=7).eval()
    with torch.no_grad():
        logits = head(backbone(torch.randn(3, channels, size, size)))
    assert logits.shape == (3, 7)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("head_name", HEAD_NAMES)
def test_heads_read_only_the_last_map(head_name):
    head = HEADS.build(head_name, in_channels=16, num_outputs=4).eval()
    last = torch.randn(2, 16, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(head([torch.randn(2, 8, 10, 10), last]), head([last]))


def test_linear_head_is_pooling_then_a_linear_layer():
    head = HEADS.build("linear", in_channels=16, num_outputs=4)
    x = torch.randn(2, 16, 3, 3)
    torch.testing.assert_close(head([x]), head.fc(x.mean(dim=(2, 3))))
    assert n_params(head) == 16 * 4 + 4


def test_gap_head_is_a_1x1_convolution_then_averaging():
    head = HEADS.build("gap", in_channels=16, num_outputs=4)
    x = torch.randn(2, 16, 6, 6)
    expected = torch.einsum("bchw,kc->bk", x, head.conv.weight[:, :, 0, 0]) / 36 + head.conv.bias
    torch.testing.assert_close(head([x]), expected)
    assert n_params(head) == 16 * 4 + 4


def test_mlp_head_layers_and_parameter_count():
    head = HEADS.build("mlp", in_channels=512, num_outputs=10)
    # default: one hidden layer of 256 with batch norm (linear bias dropped) and a 256->10 output
    assert n_params(head) == 512 * 256 + 2 * 256 + 256 * 10 + 10
    plain = HEADS.build("mlp", in_channels=512, num_outputs=10, hidden=(64, 32), batch_norm=False, dropout=0.3)
    assert n_params(plain) == (512 * 64 + 64) + (64 * 32 + 32) + (32 * 10 + 10)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.modules())
    assert [m.p for m in plain.modules() if isinstance(m, torch.nn.Dropout)] == [0.3, 0.3]
    assert plain([torch.randn(4, 512, 2, 2)]).shape == (4, 10)


@pytest.mark.parametrize("head_name", HEAD_NAMES)
def test_dropout_is_active_in_training_only(head_name):
    head = HEADS.build(head_name, in_channels=32, num_outputs=3, dropout=0.9)
    x = [torch.randn(4, 32, 2, 2)]
    torch.manual_seed(0)
    assert not torch.equal(head.train()(x), head(x))
    head.eval()
    torch.testing.assert_close(head(x), head(x))


def test_head_options_are_checked():
    with pytest.raises(ComponentOptionError, match="does not accept"):
        HEADS.build("linear", in_channels=8, num_outputs=2, hidden=(4,))
    with pytest.raises(ComponentOptionError, match="hidden"):
        HEADS.build("mlp", in_channels=8, num_outputs=2, hidden=(-1,))
