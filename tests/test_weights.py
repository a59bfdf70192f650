"""Starting weights: files read safely, names matched to the backbone, what does not fit named."""

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from taskkit.errors import BadInputError
from taskkit.registries import BACKBONES
from taskkit.model.weights import load_into, read_state_dict


@pytest.fixture(scope="module")
def torchvision_resnet18():
    torch.manual_seed(1)
    return torchvision.models.resnet18(num_classes=10).state_dict()


def test_a_torchvision_checkpoint_fills_the_builtin_resnet_and_skips_its_classifier(torchvision_resnet18):
    backbone = BACKBONES.build("resnet18", img_size=64, small_input=False)
    report = load_into(backbone, torchvision_resnet18, "resnet18.pth", "resnet18")
    assert report.loaded == len(backbone.state_dict())
    assert report.skipped == {"the old classifier; the head is new": ["fc.weight", "fc.bias"]}
    assert all(v.equal(torchvision_resnet18[k]) for k, v in backbone.state_dict().items())
    assert "skipped 2 (the old classifier; the head is new): fc.weight, fc.bias" in report.summary()


def test_the_first_convolution_adapts_to_grey_images(torchvision_resnet18):
    backbone = BACKBONES.build("resnet18", in_channels=1, img_size=64, small_input=False)
    report = load_into(backbone, torchvision_resnet18, "resnet18.pth", "resnet18")
    assert report.adapted == ["conv1.weight"]
    assert backbone.conv1.weight.equal(torchvision_resnet18["conv1.weight"].sum(1, keepdim=True))


def test_wrapped_and_prefixed_checkpoints_are_unwrapped(tmp_path, torchvision_resnet18):
    wrapped = {"state_dict": {f"module.{k}": v for k, v in torchvision_resnet18.items()}, "epoch": 3}
    torch.save(wrapped, tmp_path / "checkpoint.pth")
    state = read_state_dict(tmp_path / "checkpoint.pth")
    assert state.keys() == torchvision_resnet18.keys()
    prefixed = {f"backbone.{k}": v for k, v in torchvision_resnet18.items()}
    save_file(prefixed, tmp_path / "prefixed.safetensors")
    backbone = BACKBONES.build("resnet18", img_size=64, small_input=False)
    load_into(backbone, read_state_dict(tmp_path / "prefixed.safetensors"), "prefixed", "resnet18")
    assert backbone.layer4[1].bn2.running_var.equal(torchvision_resnet18["layer4.1.bn2.running_var"])


def test_a_shape_mismatch_names_the_tensor(torchvision_resnet18):
    small = BACKBONES.build("resnet18", img_size=16)  # the small-input stem has a 3x3 conv1
    with pytest.raises(BadInputError) as excinfo:
        load_into(small, torchvision_resnet18, "resnet18.pth", "resnet18", hint="; try --no-small-input")
    assert str(excinfo.value) == ("resnet18.pth does not fit resnet18: conv1.weight is 64x3x7x7 in the file but "
                                  "64x3x3x3 in the backbone; try --no-small-input")


def test_missing_tensors_and_other_architectures_are_refused(torchvision_resnet18):
    backbone = BACKBONES.build("resnet18", img_size=64, small_input=False)
    partial = {k: v for k, v in torchvision_resnet18.items() if not k.startswith("layer4")}
    with pytest.raises(BadInputError, match=r"25 of its 100 tensors are not in the file, e\.g\. layer4\.0"):
        load_into(backbone, partial, "partial.pth", "resnet18")
    vgg = torchvision.models.vgg11(num_classes=2).state_dict()
    with pytest.raises(BadInputError, match="none of its 100 tensors is in the file.*another architecture"):
        load_into(backbone, vgg, "vgg11.pth", "resnet18")


def test_files_that_are_not_state_dicts_are_refused(tmp_path):
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(BadInputError, match="not a readable weights file"):
        read_state_dict(tmp_path / "notes.pth")
    torch.save({"epoch": 3}, tmp_path / "empty.pth")
    with pytest.raises(BadInputError, match="does not hold a state dict"):
        read_state_dict(tmp_path / "empty.pth")


def test_a_timm_checkpoint_fills_the_timm_backbone_by_its_own_names():
    import timm

    torch.manual_seed(2)
    full = timm.create_model("resnet10t", num_classes=7).state_dict()
    backbone = BACKBONES.build("timm/resnet10t", img_size=64)
    report = load_into(backbone, full, "resnet10t.pth", "timm/resnet10t", backbone.weight_key)
    assert report.skipped == {"the old classifier; the head is new": ["fc.weight", "fc.bias"]}
    assert backbone.model.layer4[0].conv2.weight.equal(full["layer4.0.conv2.weight"])


def _published_backbones() -> list[str]:
    names = []
    for name in BACKBONES.names():
        factory = BACKBONES.get(name)
        if isinstance(factory, type) and getattr(factory, "published_weights", None):
            names.append(name)
    return names


def _slow_when_repeating(names: list[str]) -> list:
    """vgg13 and vgg16, plain and with BatchNorm, map their names as vgg11 and vgg11_bn do; building
    each 130-million-parameter reference takes seconds, so they run with the slow tests."""
    repeats = {"vgg13", "vgg13_bn", "vgg16", "vgg16_bn"}
    return [pytest.param(n, marks=pytest.mark.slow) if n in repeats else n for n in names]


@pytest.mark.parametrize("name", _slow_when_repeating(_published_backbones()))
def test_each_builtin_takes_the_torchvision_checkpoint_it_names(name):
    """What `tk finetune` without --weights downloads, built here with random values instead."""
    backbone = BACKBONES.build(name, img_size=224, small_input=False)
    torch.manual_seed(5)
    options = {"aux_logits": True, "init_weights": True} if backbone.published_weights == "googlenet" else {}
    reference = torchvision.models.get_model(backbone.published_weights, **options).state_dict()
    report = load_into(backbone, reference, backbone.published_weights, name)
    assert report.loaded == len(backbone.state_dict())
    own = backbone.state_dict()
    assert all(own[k].equal(reference[k]) for k in own if k in reference)
    assert all(key.startswith(("fc.", "classifier.", "aux1.", "aux2.")) for names in report.skipped.values()
               for key in names)
