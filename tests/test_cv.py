"""`tk cv`: K-fold runs through the task's own command, the fold splits, and the summary."""

import json
import statistics

import numpy as np
import pytest

from conftest import one_line_error, tk_in_process


@pytest.fixture(scope="module")
def cv_digits(tmp_path_factory):
    from taskkit.cli.app import main

    out = tmp_path_factory.mktemp("cv")
    with pytest.raises(SystemExit) as exit_info:
        main(["cv", "classify", "--data", "digits", "--folds", "3", "--epochs", "2", "--quiet", "--out", str(out)])
    assert exit_info.value.code == 0
    return out / "cv-classify"


def test_three_fold_runs_and_a_summary_whose_mean_is_the_folds_mean(cv_digits):
    assert sorted(p.name for p in cv_digits.iterdir() if p.is_dir()) == ["fold-1", "fold-2", "fold-3"]
    summary = json.loads((cv_digits / "cv.json").read_text())
    records = [json.loads((cv_digits / f"fold-{i}" / "run.json").read_text()) for i in (1, 2, 3)]
    assert [r["fold"] for r in records] == [{"index": i, "folds": 3} for i in (1, 2, 3)]
    test_accuracy = [r["metrics"]["test"]["accuracy"] for r in records]
    best_val = [r["metrics"]["history"][r["best_epoch"] - 1]["val_acc"] for r in records]
    for name, values in (("test_accuracy", test_accuracy), ("val_acc", best_val)):
        row = summary["metrics"][name]
        assert row["values"] == pytest.approx(values)
        assert row["mean"] == pytest.approx(statistics.fmean(values))
        assert row["std"] == pytest.approx(statistics.stdev(values))
    assert summary["metrics"]["test_accuracy"]["mean"] > 0.8
    lines = (cv_digits / "summary.csv").read_text().splitlines()
    assert lines[0] == "metric,mean,std,fold_1,fold_2,fold_3"
    assert any(line.startswith("test_accuracy,") for line in lines)


def test_every_fold_tests_on_the_same_split_and_validates_on_its_own_part(cv_digits, capsys):
    sizes = {}
    for split in ("val", "test"):
        for i in (1, 2, 3):
            code, out, err = tk_in_process(capsys, "eval", str(cv_digits / f"fold-{i}"), "--split", split, "--json")
            assert code == 0, err
            sizes[split, i] = json.loads(out)["test"]["samples"]
    assert sizes["test", 1] == sizes["test", 2] == sizes["test", 3] == 180
    assert sum(sizes["val", i] for i in (1, 2, 3)) == 1797 - 180
    record = json.loads((cv_digits / "fold-2" / "run.json").read_text())
    code, out, _ = tk_in_process(capsys, "eval", str(cv_digits / "fold-2"), "--split", "val", "--json")
    assert json.loads(out)["test"]["accuracy"] == pytest.approx(
        record["metrics"]["history"][record["best_epoch"] - 1]["val_acc"], abs=1e-6)


def test_folds_partition_the_pool_outside_the_test_split_stratified():
    from taskkit.data.splits import stratified_splits
    from taskkit.drive import Drive, Fold, driving

    labels = np.repeat(np.arange(3), [50, 30, 20])
    given = {"train": np.arange(100)}
    plain = stratified_splits(labels, given, ["a", "b", "c"], 0.1, 0.2, seed=1)
    vals = []
    for index in range(4):
        with driving(Drive(fold=Fold(index, 4))):
            parts = stratified_splits(labels, given, ["a", "b", "c"], 0.1, 0.2, seed=1)
        assert np.array_equal(parts["test"], plain["test"])
        assert not set(parts["val"]) & set(parts["train"])
        assert sorted([*parts["val"], *parts["train"], *parts["test"]]) == list(range(100))
        assert np.bincount(labels[parts["val"]]).tolist() in ([10, 6, 4],)
        vals.append(set(parts["val"].tolist()))
    assert set().union(*vals) == set(range(100)) - set(plain["test"].tolist())
    assert sum(len(v) for v in vals) == 80


def test_segmentation_folds_keep_the_test_images(tmp_path):
    from taskkit.drive import Drive, Fold, driving
    from taskkit.segmentation.data import _split
    from taskkit.segmentation.masks import CheckedPairs

    pairs = [(f"i{n:02d}.png", f"m{n:02d}.png") for n in range(20)]
    checked = {"train": CheckedPairs(pairs, [], [], [], [])}
    plain = _split(checked, 0.2, 0.2, 0, False)
    vals = []
    for index in range(2):
        with driving(Drive(fold=Fold(index, 2))):
            parts = _split(checked, 0.2, 0.2, 0, False)
        assert parts["test"] == plain["test"] and len(parts["val"]) == 8
        vals.append(set(parts["val"]))
    assert not vals[0] & vals[1]


def test_bad_cv_requests_are_one_line_errors(capsys):
    assert "--folds must be at least 2" in one_line_error(capsys, "cv", "classify", "--folds", "1")
    assert "does not take --resume" in one_line_error(capsys, "cv", "classify", "--resume", "runs/x")
    assert "did you mean 'classify'" in one_line_error(capsys, "cv", "clasify", "--folds", "2")
    assert "--epochs" in one_line_error(capsys, "cv", "classify", "--folds", "2", "--epochs", "many")


def test_too_few_items_per_class_for_the_folds_is_named(tmp_path, capsys):
    from PIL import Image

    data = tmp_path / "photos"
    for name, count in (("cat", 6), ("dog", 3)):
        (data / name).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(data / name / f"{i}.png")
    line = one_line_error(capsys, "cv", "classify", "--data", str(data), "--folds", "4", "--test-split", "0",
                          "--out", str(tmp_path / "runs"))
    assert "class 'dog' has only 3" in line and "--folds 4" in line
    assert not (tmp_path / "runs" / "cv-classify").exists()


def test_tagging_folds_cut_the_sentences_outside_the_test_split():
    from taskkit.drive import Drive, Fold, driving
    from taskkit.tasks.tag.run import _split
    from taskkit.text.conll import TaggedSentences

    read = {"train": TaggedSentences([[f"w{i}"] for i in range(30)], [["O"]] * 30)}
    options = {"seed": 0, "val_split": 0.1, "test_split": 0.2}
    plain = _split(read, options, whole=False)
    vals = []
    for index in range(3):
        with driving(Drive(fold=Fold(index, 3))):
            parts = _split(read, options, whole=False)
        assert np.array_equal(parts["test"], plain["test"]) and len(parts["val"]) == 8
        assert sorted([*parts["train"], *parts["val"], *parts["test"]]) == list(range(30))
        vals.append(set(parts["val"].tolist()))
    assert len(set().union(*vals)) == 24
