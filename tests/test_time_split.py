"""`--split time --time-col COL`: the latest rows test, the ones before them validate, for
image manifests and text files alike; and `tk cv` on time-ordered data."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from conftest import one_line_error, tk_in_process


def test_time_splits_put_the_latest_in_test_and_the_ones_before_in_val():
    from taskkit.data.time_order import time_splits

    keys = np.random.default_rng(0).permutation(100).astype(float)  # row i happened at time keys[i]
    parts = time_splits(keys, {"train": np.arange(100)}, 0.1, 0.2)
    assert [len(parts[s]) for s in ("train", "val", "test")] == [70, 10, 20]
    assert sorted(keys[parts["test"]]) == list(range(80, 100))
    assert sorted(keys[parts["val"]]) == list(range(70, 80))
    assert keys[parts["train"]].max() < keys[parts["val"]].min() < keys[parts["test"]].min()


def test_time_folds_train_on_the_past_and_validate_on_what_follows():
    from taskkit.data.time_order import time_splits
    from taskkit.drive import Drive, Fold, driving

    keys = np.arange(60, dtype=float)[::-1]  # the last row is the earliest
    plain = time_splits(keys, {"train": np.arange(60)}, 0.1, 0.2)
    seen = []
    for index in range(3):
        with driving(Drive(fold=Fold(index, 3))):
            parts = time_splits(keys, {"train": np.arange(60)}, 0.1, 0.2)
        assert np.array_equal(parts["test"], plain["test"])
        assert keys[parts["train"]].max() < keys[parts["val"]].min()
        assert keys[parts["val"]].max() < keys[parts["test"]].min()
        seen.append(len(parts["train"]))
    assert seen == sorted(seen) and seen[0] < seen[-1]  # each fold trains on a longer past


def test_time_keys_read_numbers_or_iso_dates_and_name_a_bad_row():
    from taskkit.data.time_order import time_keys
    from taskkit.errors import BadInputError

    assert time_keys(["3", "1.5", "2"], str).tolist() == [3.0, 1.5, 2.0]
    dates = time_keys(["2024-05-02", "2024-05-01T23:00", "2024-05-01T23:00+02:00"], str)
    assert dates.argsort().tolist() == [2, 1, 0]
    with pytest.raises(BadInputError, match="row 7: time 'yesterday'"):
        time_keys(["2024-05-01", "yesterday"], lambda i: "row 7")


@pytest.fixture
def timed_manifest(tmp_path):
    """40 images whose class and brightness change over time; rows written out of time order."""
    rows = []
    for i in range(40):
        label = "dark" if i % 2 else "light"
        path = tmp_path / "img" / f"{i:02d}.png"
        path.parent.mkdir(exist_ok=True)
        Image.new("L", (8, 8), 40 if label == "dark" else 220).save(path)
        rows.append((f"img/{i:02d}.png", label, f"2024-01-{1 + i % 28:02d}T{i // 28:02d}:00"))
    manifest = tmp_path / "photos.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "taken"])
        writer.writerows(reversed(rows))
    return manifest, {str((tmp_path / r[0]).resolve()): r[2] for r in rows}


def test_an_image_manifest_splits_by_its_time_column(timed_manifest):
    from taskkit.data import load_image_data
    from taskkit.data.time_order import time_keys

    manifest, taken = timed_manifest
    data = load_image_data(str(manifest), img_size=8, val_split=0.1, test_split=0.25, time_col="taken")
    latest = lambda paths: time_keys([taken[p] for p in paths], str)
    assert (len(data.train), len(data.val), len(data.test)) == (26, 4, 10)
    assert latest(data.train.paths).max() < latest(data.val.paths).min() <= latest(data.val.paths).max() \
        < latest(data.test.paths).min()


def test_classify_with_a_time_split_runs_and_evaluates_the_same_test_rows(timed_manifest, tmp_path, capsys):
    manifest, _ = timed_manifest
    code, out, err = tk_in_process(capsys, "classify", "--data", str(manifest), "--split", "time", "--time-col",
                                   "taken", "--test-split", "0.25", "--backbone", "linear", "--epochs", "2",
                                   "--quiet", "--json", "--out", str(tmp_path / "runs"))
    assert code == 0, err
    trained = json.loads(out)["test"]
    code, out, err = tk_in_process(capsys, "eval", str(tmp_path / "runs" / "classify"), "--json")
    assert code == 0, err
    assert json.loads(out)["test"]["confusion_matrix"] == trained["confusion_matrix"]
    assert trained["samples"] == 10


def test_a_text_file_splits_by_its_time_column(tmp_path):
    from taskkit.text.data import _read_tables, _split

    path = tmp_path / "reviews.csv"
    lines = ["text,label,year"] + [f"review {i},{'pos' if i % 3 else 'neg'},{2000 + (i * 7) % 50}" for i in range(50)]
    path.write_text("\n".join(lines) + "\n")
    options = {"data": str(path), "train": None, "text_col": "text", "label_col": "label", "encoding": "utf-8",
               "strict": False, "val_split": 0.2, "test_split": 0.2, "seed": 0, "split": "time", "time_col": "year"}
    tables = _read_tables(options)
    targets = np.array([0 if label == "neg" else 1 for label in tables["train"].labels])
    parts = _split(tables, targets, ["neg", "pos"], options, whole=False)
    years = np.array([int(y) for y in tables["train"].times])
    assert sorted(years[parts["test"]]) == list(range(2040, 2050))
    assert sorted(years[parts["val"]]) == list(range(2030, 2040))


def test_time_split_mistakes_are_one_line_errors(timed_manifest, tmp_path, capsys):
    manifest, _ = timed_manifest
    assert "needs --time-col" in one_line_error(capsys, "classify", "--data", str(manifest), "--split", "time")
    assert "only with --split time" in one_line_error(capsys, "classify", "--data", str(manifest), "--time-col", "taken")
    assert "not a .csv or .jsonl manifest" in one_line_error(capsys, "classify", "--split", "time", "--time-col", "t")
    assert "no 'when' column" in one_line_error(capsys, "classify", "--data", str(manifest), "--split", "time",
                                                "--time-col", "when")
    text = manifest.read_text().splitlines()
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join([text[0], text[1], text[2].rsplit(",", 1)[0] + ",", *text[3:]]) + "\n")
    line = one_line_error(capsys, "classify", "--data", str(broken), "--split", "time", "--time-col", "taken")
    assert "line 3 has an empty 'taken' (time)" in line
    assert broken.read_text().splitlines()[2].endswith(",")
