"""Every classic backbone learns digits in 5 epochs (slow: run with `pytest -m slow`)."""

import json

import pytest

NAMES = ["lenet", "resnet18", "vgg11_bn", "mobilenet_v2", "shufflenet_v2", "squeezenet", "googlenet", "nin"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_backbone_reaches_90_percent_on_digits(tk, tmp_path, name):
    result = tk("classify", "--data", "digits", "--backbone", name, "--epochs", "5", "--quiet", "--json",
                "--out", str(tmp_path), timeout=1800)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test"]["accuracy"] >= 0.9
