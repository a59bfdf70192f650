"""The TF-IDF + logistic regression baseline every `tk text` run fits beside its network."""

import csv
import json
import random

import numpy as np
import pytest

from conftest import tk_in_process
from taskkit.text.baseline import METHOD, STRENGTHS, fit_baseline
from test_text import review

SMALL = ["--embedding-dim", "8", "--hidden", "8", "--epochs", "1", "--device", "cpu", "--quiet"]


def write_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def split_files(tmp_path_factory):
    """A train/val/test split given as files, so the test can fit the baseline on its own."""
    folder, rng = tmp_path_factory.mktemp("baseline"), random.Random(3)
    sizes = {"train": 400, "val": 100, "test": 150}
    return {split: write_rows(folder / f"{split}.csv", [review(rng) for _ in range(size)])
            for split, size in sizes.items()}


def independent_baseline(files):
    """The same model written out with scikit-learn alone: C chosen on val, scored on test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    rows = {split: list(csv.DictReader(open(path, encoding="utf-8"))) for split, path in files.items()}
    texts = {split: [r["text"] for r in rows[split]] for split in rows}
    labels = {split: np.array([r["label"] for r in rows[split]]) for split in rows}
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    train = vectorizer.fit_transform(texts["train"])
    fitted = {c: LogisticRegression(C=c, max_iter=1000).fit(train, labels["train"]) for c in STRENGTHS}
    val = vectorizer.transform(texts["val"])
    best = max(STRENGTHS, key=lambda c: (accuracy_score(labels["val"], fitted[c].predict(val)), -STRENGTHS.index(c)))
    guess = fitted[best].predict(vectorizer.transform(texts["test"]))
    return accuracy_score(labels["test"], guess), f1_score(labels["test"], guess, average="macro"), best


def test_separable_words_give_a_perfect_baseline():
    texts = {"train": ["good day", "bad day", "good film", "bad film"] * 5, "val": ["good", "bad"],
             "test": ["a good one", "a bad one", "so good", "so bad"]}
    targets = {"train": [1, 0, 1, 0] * 5, "val": [1, 0], "test": [1, 0, 1, 0]}
    result = fit_baseline(texts, targets, 2)
    assert result["method"] == METHOD and result["accuracy"] == 1.0 and result["macro_f1"] == 1.0
    assert result["C"] in STRENGTHS and result["seconds"] >= 0


def test_every_run_records_and_prints_the_baseline_it_fits_on_its_own_split(split_files, tmp_path, capsys):
    files = ["--train", str(split_files["train"]), "--val", str(split_files["val"]), "--test", str(split_files["test"])]
    code, out, err = tk_in_process(capsys, "text", *files, *SMALL, "--out", str(tmp_path), "--name", "run", "--json")
    assert code == 0, err
    reported = json.loads(out)["test"]["baseline"]
    accuracy, macro_f1, strength = independent_baseline(split_files)
    assert reported["accuracy"] == pytest.approx(accuracy) and reported["macro_f1"] == pytest.approx(macro_f1)
    assert reported["C"] == strength and reported["method"] == METHOD
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["baseline"] == reported and record["metrics"]["test"]["baseline"] == reported

    code, out, err = tk_in_process(capsys, "text", *files, *SMALL, "--out", str(tmp_path), "--name", "shown")
    assert code == 0, err
    shown = " ".join(out.split())
    assert f"baseline ({METHOD}): accuracy {accuracy:.4f}, macro-F1 {macro_f1:.4f}; the model:" in shown


def test_no_baseline_fits_none_and_a_resume_drops_the_earlier_one(split_files, tmp_path, capsys):
    files = ["--train", str(split_files["train"]), "--test", str(split_files["test"])]
    code, out, err = tk_in_process(capsys, "text", *files, *SMALL, "--out", str(tmp_path), "--name", "run")
    assert code == 0, err
    assert "baseline" in json.loads((tmp_path / "run" / "run.json").read_text())
    code, out, err = tk_in_process(capsys, "text", "--resume", str(tmp_path / "run"), "--epochs", "2",
                                   "--no-baseline", "--json")
    assert code == 0, err
    assert "baseline" not in json.loads(out)["test"]
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert "baseline" not in record and "baseline" not in record["metrics"]["test"]
