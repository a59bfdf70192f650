"""The timm and torchvision adapters: listing, maps, stages, parameter counts, weights, offline refusal."""

import subprocess
import sys

import pytest
import timm
import torch
from torchvision import models as tv_models

from taskkit.backbone import Backbone, check_backbone
from taskkit.errors import BadInputError
from taskkit.plugins.timm_models import models as timm_adapter
from taskkit.plugins.timm_models.models import timm_key
from taskkit.plugins.torchvision_models import models as tv_adapter
from taskkit.registries import BACKBONES, HEADS

#: name -> (smallest size tested, whether maps are exactly ceil(size / reduction))
CASES = {
    "timm/resnet18": (28, True),
    "timm/mobilenetv3_small_100": (28, True),
    "timm/efficientnet_b0": (28, True),
    "timm/convnext_atto": (32, True),  # its 2x2 stride-2 convolutions need 32 pixels
    "tv/resnet18": (28, True),
    "tv/mobilenet_v3_small": (28, True),
    "tv/efficientnet_b0": (28, True),
    "tv/squeezenet1_1": (28, False),  # unpadded convolutions shrink maps a little faster
}
TV_FINAL = {"resnet18": "fc", "mobilenet_v3_small": "classifier.3", "efficientnet_b0": "classifier.1",
            "squeezenet1_1": "classifier.1"}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def one_line_error(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_names_are_listed_without_importing_timm():
    code = ("import sys; from taskkit.registries import BACKBONES; "
            "r = BACKBONES.names('timm/*resnet*'); t = BACKBONES.names('tv/*'); "
            "print(len(r), len(t), 'timm/resnet18' in r, 'tv/resnet50' in t, 'timm' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found, tv_count, has_resnet18, has_resnet50, imported = result.stdout.split()
    assert int(found) == len(timm.list_models("*resnet*"))
    assert int(tv_count) == 80 and has_resnet18 == has_resnet50 == "True" and imported == "False"


def test_scanned_names_are_the_libraries_own():
    assert timm_adapter.model_names() == sorted(timm.list_models())
    assert tv_adapter.model_names() == sorted(tv_models.list_models(module=tv_models))
    entry = BACKBONES.entry("timm/convnext_atto")
    assert entry.plugin == "timm_models" and "convnext_atto" in entry.summary
    assert BACKBONES.entry("tv/resnet50").plugin == "torchvision_models"
    assert {"pretrained", "weights", "in_channels", "img_size", "small_input"} <= set(entry.options())


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("channels", [1, 3])
def test_maps_follow_the_declared_stages_forward_and_backward(name, channels):
    smallest, exact = CASES[name]
    size = smallest if channels == 1 else 64
    torch.manual_seed(0)
    backbone = BACKBONES.build(name, in_channels=channels, img_size=size)
    check_backbone(backbone)
    assert isinstance(backbone, Backbone)
    maps = backbone(torch.randn(2, channels, size, size))
    assert len(maps) == len(backbone.stage_names) == len(backbone.stages())
    assert [m.shape[1] for m in maps] == backbone.out_channels
    assert all(m.dim() == 4 and m.shape[0] == 2 and m.shape[2] == m.shape[3] for m in maps)
    sides = [m.shape[2] for m in maps]
    if exact:
        assert sides == [-(-size // r) for r in backbone.reductions]
    assert sides == sorted(sides, reverse=True) and backbone.reductions == sorted(backbone.reductions)
    sum(m.mean() for m in maps).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in backbone.parameters())
    assert sum(n_params(stage) for stage in backbone.stages()) == n_params(backbone)


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("timm/")])
def test_timm_stages_are_timms_feature_info(name):
    info = timm.create_model(name[len("timm/"):], features_only=True).feature_info
    backbone = BACKBONES.build(name, img_size=224)
    assert backbone.out_channels == info.channels()
    assert backbone.reductions == info.reduction()
    assert backbone.stage_names == info.module_name()


def test_timm_stages_end_at_each_feature_module():
    backbone = BACKBONES.build("timm/resnet18", in_channels=1, img_size=28)
    net = backbone.model
    assert [list(stage) for stage in backbone.stages()] == [
        [net.conv1, net.bn1], [net.layer1], [net.layer2], [net.layer3], [net.layer4]]


def test_torchvision_resnet18_stages_and_outputs_match_torchvision():
    torch.manual_seed(0)
    reference = tv_models.resnet18().eval()
    backbone = BACKBONES.build("tv/resnet18", img_size=224).eval()
    assert backbone.stage_names == ["relu", "layer1", "layer2", "layer3", "layer4"]
    assert backbone.out_channels == [64, 64, 128, 256, 512]
    assert backbone.reductions == [2, 4, 8, 16, 32]
    backbone.load_state_dict({k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")})
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        maps = backbone(x)
        torch.testing.assert_close(maps[1], reference.layer1(reference.maxpool(maps[0])))
        torch.testing.assert_close(reference.fc(maps[-1].mean(dim=(2, 3))), reference(x))


@pytest.mark.parametrize("name", TV_FINAL)
def test_torchvision_backbone_plus_linear_head_is_torchvisions_network(name):
    reference = tv_models.get_model(name).eval()
    backbone = BACKBONES.build(f"tv/{name}", img_size=224).eval()
    head = HEADS.build("linear", in_channels=backbone.out_channels[-1], num_outputs=1000)
    assert n_params(backbone) + n_params(head) == n_params(reference)
    final = TV_FINAL[name]
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith(final + ".")}
    assert set(backbone.state_dict()) == set(state)
    backbone.load_state_dict(state, strict=True)
    if name != "squeezenet1_1":  # its last layer is a convolution followed by ReLU and pooling
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            logits = reference.get_submodule(final)(backbone(x)[-1].mean(dim=(2, 3)))
            torch.testing.assert_close(logits, reference(x))


def test_mobilenet_v3_hidden_layer_is_a_pre_logits_stage():
    backbone = BACKBONES.build("tv/mobilenet_v3_small", img_size=224)
    assert backbone.stage_names[-1] == "pre_logits"
    assert backbone.out_channels[-2:] == [576, 1024] and backbone.reductions[-2:] == [32, 224]
    assert n_params(backbone.stages()[-1]) == 576 * 1024 + 1024


def test_torchvision_backbone_follows_train_eval_and_dtype():
    backbone = BACKBONES.build("tv/squeezenet1_1", in_channels=1, img_size=28).eval()
    assert not backbone.extractor.training and not backbone.get_submodule("features.0").training
    backbone.train().double()
    assert backbone.extractor.training
    maps = backbone(torch.randn(2, 1, 28, 28, dtype=torch.float64))
    assert maps[-1].dtype == torch.float64


@pytest.mark.parametrize("name", ["timm/resnet18", "tv/resnet18"])
@pytest.mark.parametrize("variable", ["TK_OFFLINE", "HF_HUB_OFFLINE"])
def test_pretrained_weights_offline_are_refused_in_one_line(name, variable, monkeypatch):
    monkeypatch.setenv(variable, "1")
    with pytest.raises(BadInputError) as excinfo:
        BACKBONES.build(name, pretrained=True)
    message = one_line_error(excinfo)
    assert "could not fetch" in message and name in message and "--weights FILE" in message


def test_timm_weights_load_from_a_local_file(tmp_path):
    torch.manual_seed(0)
    source = timm.create_model("convnext_atto")
    state = source.state_dict()
    path = tmp_path / "convnext_atto.safetensors"
    from safetensors.torch import save_file
    save_file(state, str(path))
    backbone = BACKBONES.build("timm/convnext_atto", img_size=64, weights=str(path))
    for key, tensor in backbone.model.state_dict().items():
        torch.testing.assert_close(tensor, state[timm_key(key, state)])
    grey = BACKBONES.build("timm/convnext_atto", in_channels=1, img_size=64, weights=str(path))
    stem = grey.model.state_dict()["stem_0.weight"]
    torch.testing.assert_close(stem, state["stem.0.weight"].sum(dim=1, keepdim=True))


def test_torchvision_weights_load_from_a_local_file(tmp_path):
    torch.manual_seed(0)
    state = tv_models.resnet18().state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    backbone = BACKBONES.build("tv/resnet18", img_size=64, weights=str(path))
    for key, tensor in backbone.state_dict().items():
        torch.testing.assert_close(tensor, state[key])
    timm_path = tmp_path / "timm_resnet18.pth"
    torch.save({"state_dict": timm.create_model("resnet18").state_dict()}, timm_path)
    backbone = BACKBONES.build("timm/resnet18", img_size=64, weights=str(timm_path))
    torch.testing.assert_close(backbone.model.conv1.weight, torch.load(timm_path)["state_dict"]["conv1.weight"])


def test_weights_that_do_not_fit_are_refused_in_one_line(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(tv_models.resnet18().state_dict(), path)
    with pytest.raises(BadInputError) as excinfo:
        BACKBONES.build("tv/squeezenet1_1", img_size=64, weights=str(path))
    assert "does not fit tv/squeezenet1_1" in one_line_error(excinfo)
    with pytest.raises(BadInputError, match="no weights file"):
        BACKBONES.build("timm/resnet18", img_size=64, weights=str(tmp_path / "missing.pth"))


def test_too_small_an_image_is_refused_at_build_time():
    with pytest.raises(BadInputError) as excinfo:
        BACKBONES.build("timm/convnext_atto", img_size=16)
    assert "cannot take 16x16 images" in one_line_error(excinfo)
