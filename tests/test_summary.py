"""`tk summary` against hand computations, and model cards in `tk info`."""

import json

import pytest
from torch import nn

from taskkit.errors import BadInputError
from taskkit.model.summary import parse_input_shape, recurrent_flops, summarize


def test_a_5x5_convolution_by_hand():
    """10 filters of 5x5 over 32x32x3, stride 1, pad 2: 32x32x10 and (5*5*3+1)*10 = 760 parameters."""
    summary = summarize(nn.Sequential(nn.Conv2d(3, 10, 5, stride=1, padding=2)), [3, 32, 32])
    (row,) = summary.rows
    assert row.output_shape == [10, 32, 32]
    assert row.trainable == 760 == summary.total_trainable
    assert summary.multiply_adds == 32 * 32 * 10 * 5 * 5 * 3  # bias adds are not counted by torch
    assert row.flops == 2 * summary.multiply_adds
    assert row.receptive_field == 5


def test_three_3x3_convolutions_see_as_far_as_one_7x7_with_fewer_weights():
    channels = 16
    stacked = nn.Sequential(*[nn.Conv2d(channels, channels, 3, padding=1) for _ in range(3)])
    single = nn.Sequential(nn.Conv2d(channels, channels, 7, padding=3))
    small, large = summarize(stacked, [channels, 32, 32]), summarize(single, [channels, 32, 32])
    assert [r.receptive_field for r in small.rows] == [3, 5, 7]
    assert large.rows[0].receptive_field == 7
    assert small.total_trainable == 3 * (9 * channels**2 + channels) < large.total_trainable == 49 * channels**2 + channels


def test_strides_and_pooling_widen_the_field():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.AdaptiveAvgPool2d(1))
    fields = [r.receptive_field for r in summarize(net, [1, 64, 64]).rows]
    assert fields == [3, 5, 5 + 2 * 4, 64]


def test_frozen_parameters_are_counted_apart():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3))
    net[0].requires_grad_(False)
    summary = summarize(net, [3, 16, 16])
    assert (summary.total_trainable, summary.total_frozen) == (8 * 8 * 9 + 8, 3 * 8 * 9 + 8)
    assert (summary.rows[0].trainable, summary.rows[0].frozen) == (0, 224)


def test_input_shape_parsing():
    assert parse_input_shape("3x224x224") == [3, 224, 224]
    with pytest.raises(BadInputError, match="--input must look like 3x224x224"):
        parse_input_shape("224x224")


def test_resnet18_multiply_adds_and_receptive_field(tk_here):
    result = tk_here("summary", "resnet18", "--input", "3x224x224", "--head", "linear", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["multiply_adds"] == pytest.approx(1.81e9, rel=0.02)
    assert report["flops"] == pytest.approx(3.63e9, rel=0.02)
    assert report["trainable_params"] == 11_689_512
    layer4 = next(r for r in report["layers"] if r["name"] == "backbone.layer4.1.bn2")
    assert layer4["output_shape"] == [512, 7, 7] and layer4["receptive_field"] == 435
    text = tk_here("summary", "resnet18", "--depth", "1")
    assert "1.81 G multiply-adds (3.63 G FLOPs as torch's flop counter counts them, 2 per multiply-add)" in text.stdout


def test_model_card_lists_stages(tk_here):
    result = tk_here("info", "resnet18", "--json")
    stages = json.loads(result.stdout)[0]["stages"]
    assert [(s["stage"], s["out_channels"], s["reduction"]) for s in stages] == [
        ("stem", 64, 4), ("layer1", 64, 4), ("layer2", 128, 8), ("layer3", 256, 16), ("layer4", 512, 32)]
    assert sum(s["params"] for s in stages) == 11_176_512


def test_recurrent_layers_are_counted_by_hand_where_torch_s_counter_sees_nothing(tk_here):
    """A 2-layer GRU, 8 inputs, 16 hidden, one direction, over 10 tokens: 3 gates x (in x h + h x h) per layer."""
    gru = nn.GRU(8, 16, num_layers=2, batch_first=True)
    assert recurrent_flops(gru, 10) == 2 * 10 * (3 * (8 * 16 + 16 * 16) + 3 * (16 * 16 + 16 * 16))
    result = tk_here("summary", "lstm", "--input", "10", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["input_shape"] == [10]
    lstm = next(r for r in report["layers"] if r["name"] == "rnn")
    assert lstm["output_shape"] == [10, 256] and lstm["flops"] == 2 * 10 * 2 * 4 * (128 * 128 + 128 * 128)
    assert report["flops"] == lstm["flops"] and report["trainable_params"] == 10_000 * 128 + lstm["trainable"]
    wrong = tk_here("summary", "gru", "--input", "3x32x32")
    assert wrong.returncode == 2 and "a number of tokens" in wrong.stderr
