"""Test-time augmentation (`--tta`) and the promise that `--aug` never reaches eval or predict."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import one_line_error, tk_in_process


class Lopsided(nn.Module):
    """A classifier and a dense model in one that treat the left half unlike the right."""

    def __init__(self, dense: bool):
        super().__init__()
        self.dense = dense
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        torch.manual_seed(0)
        nn.init.normal_(self.conv.weight)

    def forward(self, x):
        ramp = torch.linspace(0, 2, x.shape[-1])
        maps = self.conv(x) * ramp
        return maps if self.dense else maps.mean((2, 3))


def test_classifier_tta_is_the_mean_of_the_flipped_probabilities():
    from taskkit.model.tta import FlipAveraged

    model, x = Lopsided(dense=False), torch.randn(4, 1, 6, 6)
    expected = (model(x).softmax(1) + model(x.flip(3)).softmax(1) + model(x.flip(2)).softmax(1)) / 3
    averaged = FlipAveraged(model, ["hflip", "vflip"])(x)
    assert torch.allclose(averaged.exp(), expected, atol=1e-6)
    assert torch.allclose(averaged.exp().sum(1), torch.ones(4), atol=1e-6)


def test_dense_tta_flips_each_output_back_so_it_is_flip_equivariant():
    from taskkit.model.tta import FlipAveraged

    model, x = Lopsided(dense=True), torch.randn(2, 1, 5, 7)
    assert not torch.allclose(model(x.flip(3)), model(x).flip(3))  # the model alone is not
    tta = FlipAveraged(model, ["hflip"])
    assert torch.allclose(tta(x.flip(3)), tta(x).flip(3), atol=1e-5)
    expected = (model(x).softmax(1) + model(x.flip(3)).flip(3).softmax(1)) / 2
    assert torch.allclose(tta(x).exp(), expected, atol=1e-6)


def test_unknown_tta_and_tta_on_a_text_run_are_refused():
    from taskkit.cli.app import _tta_option
    from taskkit.errors import BadInputError
    from taskkit.registries import TASKS
    from taskkit.model.tta import parse_tta

    with pytest.raises(BadInputError, match="did you mean 'hflip'"):
        parse_tta("hflp")
    assert parse_tta("hflip,vflip,hflip") == ["hflip", "vflip"] and parse_tta("none") == []
    with pytest.raises(BadInputError, match="does not read images"):
        _tta_option(TASKS.get("text"), {"task": "text"}, "hflip")
    assert _tta_option(TASKS.get("segment"), {"task": "segment"}, "hflip") == {"tta": "hflip"}


@pytest.fixture(scope="module")
def augmented_run(tmp_path_factory):
    from taskkit.cli.app import main

    out = tmp_path_factory.mktemp("runs")
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", "--data", "digits", "--backbone", "lenet", "--epochs", "2", "--aug", "rotate=40,blur",
              "--quiet", "--out", str(out), "--name", "aug"])
    assert exit_info.value.code == 0
    return out / "aug"


def test_eval_and_predict_of_an_augmented_run_see_plain_images(augmented_run, tmp_path, capsys):
    record = json.loads((augmented_run / "run.json").read_text())
    runs = []
    for _ in range(2):
        code, out, err = tk_in_process(capsys, "eval", str(augmented_run), "--json")
        assert code == 0, err
        runs.append(json.loads(out)["test"])
    assert runs[0]["accuracy"] == runs[1]["accuracy"] == pytest.approx(record["metrics"]["test"]["accuracy"])
    assert runs[0]["confusion_matrix"] == record["metrics"]["test"]["confusion_matrix"]
    image = tmp_path / "digit.png"
    Image.fromarray((np.arange(64).reshape(8, 8) * 4).astype(np.uint8)).save(image)
    answers = [json.loads(tk_in_process(capsys, "predict", str(augmented_run), str(image), "--json")[1])
               for _ in range(2)]
    assert answers[0] == answers[1]


def test_eval_with_tta_changes_digits_scores_but_not_the_run(augmented_run, capsys):
    before = (augmented_run / "run.json").read_bytes()
    plain = json.loads(tk_in_process(capsys, "eval", str(augmented_run), "--json")[1])["test"]
    flipped = json.loads(tk_in_process(capsys, "eval", str(augmented_run), "--tta", "hflip", "--json")[1])["test"]
    assert flipped["samples"] == plain["samples"]
    assert flipped["confusion_matrix"] != plain["confusion_matrix"]  # digits are not mirror-symmetric
    assert (augmented_run / "run.json").read_bytes() == before
    assert "unknown --tta 'sideways'" in one_line_error(capsys, "eval", str(augmented_run), "--tta", "sideways")
