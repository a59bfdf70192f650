"""`tk lr-find`: an exponential sweep on the task's own assembled run, its plot and its suggestion."""

import csv
import json
import math
import re

import pytest
from PIL import Image

from conftest import one_line_error, tk_in_process


def test_lr_find_on_digits_writes_the_plot_and_suggests_a_rate_in_the_sweep(tmp_path, capsys):
    code, out, err = tk_in_process(capsys, "lr-find", "classify", "--data", "digits", "--quiet", "--out", str(tmp_path))
    assert code == 0, err
    run_dir = tmp_path / "lr-find-classify"
    assert Image.open(run_dir / "lr_find.png").size[0] >= 600
    suggested = float(re.search(r"suggested --lr (\S+)", out).group(1))
    assert 1e-7 <= suggested <= 10.0
    rows = list(csv.DictReader(open(run_dir / "lr_find.csv")))
    rates = [float(r["lr"]) for r in rows]
    assert rates[0] == pytest.approx(1e-7)
    steps = [math.log(b / a) for a, b in zip(rates, rates[1:])]
    assert max(steps) == pytest.approx(min(steps)) and steps[0] == pytest.approx(math.log(1e8) / 199)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "lr-find" and record["task"] == "classify"
    assert record["lr_find"]["suggested_lr"] == pytest.approx(suggested, rel=0.01)
    # On digits LeNet learns between 1e-4 and 1e-1 with AdamW; far below nothing moves, far above it diverges.
    assert 1e-4 < suggested < 1e-1
    assert not (run_dir / "model.safetensors").exists()


def test_the_suggestion_is_the_steepest_fall_before_the_minimum():
    from taskkit.recipes.lr_find import suggest

    rates = [1e-6 * 10 ** (i / 20) for i in range(121)]  # 1e-6 .. 1
    # Flat, then falling fastest at 1e-3 (index 60), lowest at 1e-2, then rising.
    losses = [2 - 1 / (1 + math.exp(-(math.log10(r) + 3) * 4)) + max(0.0, math.log10(r) + 2) ** 2 for r in rates]
    steepest, lowest = suggest(rates, losses)
    assert steepest == pytest.approx(1e-3, rel=0.13)
    assert 5e-3 < lowest < 2e-2
    assert suggest(rates[:3], losses[:3]) == (None, None)


def test_bad_sweeps_are_one_line_errors(capsys):
    assert "0 < start < end" in one_line_error(capsys, "lr-find", "classify", "--start-lr", "1", "--end-lr", "0.1")
    assert "--steps must be at least 10" in one_line_error(capsys, "lr-find", "classify", "--steps", "3")
    assert "does not take --resume" in one_line_error(capsys, "lr-find", "classify", "--resume", "runs/x")
