"""The most-frequent-tag-per-word baseline beside every `tk tag` run: what it learns, from which
split, how it is scored, and where a run reports it."""

import json
import random

import pytest

from conftest import tk_in_process
from taskkit.report.baseline import baseline_line
from taskkit.text.tag_baseline import METHOD, MostFrequentTag, tag_baseline

TAGS = ["O", "B-PER", "I-PER", "B-LOC"]
O, B_PER, I_PER, B_LOC = range(4)
TRAIN_WORDS = [["john", "lives", "in", "paris"], ["paris", "is", "big"], ["john", "paris"]]
TRAIN_TAGS = [[B_PER, O, O, B_LOC], [B_LOC, O, O], [B_PER, B_PER]]  # paris: B-LOC twice, B-PER once


def test_the_baseline_scores_a_tiny_corpus_as_worked_out_by_hand():
    test_words = [["john", "visited", "paris"], ["paris", "john", "smith"]]
    test_tags = [[B_PER, O, B_LOC], [B_PER, B_PER, I_PER]]
    # guesses: john B-PER, visited (unseen) O, paris B-LOC | paris B-LOC, john B-PER, smith (unseen) O
    assert MostFrequentTag.fit(TRAIN_WORDS, TRAIN_TAGS).predict(test_words) == [[B_PER, O, B_LOC],
                                                                                [B_LOC, B_PER, O]]
    result = tag_baseline(TRAIN_WORDS, TRAIN_TAGS, test_words, test_tags, TAGS)
    assert result["method"] == METHOD == "most frequent tag per word"
    assert result["accuracy"] == pytest.approx(4 / 6)
    # per-tag F1: O 2/3 (1 right, 1 wrong guess), B-PER 0.8 (2 of 3 found, none wrong),
    # I-PER 0 (never guessed), B-LOC 2/3 (1 found, 1 wrong guess); macro over all four tags
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0 + 2 / 3) / 4, abs=1e-6)
    # entities: PER john and LOC paris right in the first sentence; in the second, LOC paris is
    # wrong and PER john is not PER "john smith": 2 of 4 found, 2 of 4 guessed right
    assert result["entity_f1"] == pytest.approx(0.5)
    assert result["seconds"] >= 0 and set(result) == {"method", "accuracy", "macro_f1", "entity_f1", "seconds"}


def test_an_unseen_word_gets_the_most_frequent_tag_over_all_training_tokens():
    words = [["ann", "bob", "met"], ["carl", "dan"], ["eve", "ran"]]
    tags = [[B_PER, B_PER, O], [B_PER, B_PER], [B_PER, O]]  # B-PER 5 of 7 tokens, though O is tag 0
    model = MostFrequentTag.fit(words, tags)
    assert model.fallback == B_PER and model.predict([["met", "zed"]]) == [[O, B_PER]]
    # the unknown id stands for words training never saw: it counts overall but gets no tag of its own
    with_unknown = MostFrequentTag.fit([[1, 1, 1, 7, 7]], [[B_LOC, B_LOC, B_LOC, O, O]], unknown=1)
    assert with_unknown.fallback == B_LOC and with_unknown.predict([[1, 7, 9]]) == [[B_LOC, O, B_LOC]]


def test_a_tie_goes_to_the_tag_listed_first_whatever_the_order_of_sentences():
    forward = MostFrequentTag.fit([["paris"], ["paris"]], [[B_LOC], [B_PER]])
    backward = MostFrequentTag.fit([["paris"], ["paris"]], [[B_PER], [B_LOC]])
    assert forward.by_word == backward.by_word == {"paris": B_PER}


def test_only_the_training_split_is_learned_from():
    test_words = [["lives", "lives", "in"], ["lives"]]
    as_in_training = tag_baseline(TRAIN_WORDS, TRAIN_TAGS, test_words, [[O, O, O], [O]], TAGS)
    # "lives" is a person in every test sentence, and only there: the baseline still says O
    test_only = tag_baseline(TRAIN_WORDS, TRAIN_TAGS, test_words, [[B_PER, B_PER, O], [B_PER]], TAGS)
    assert as_in_training["accuracy"] == 1.0 and test_only["accuracy"] == pytest.approx(1 / 4)


# ---- end to end: `tk tag`

PEOPLE, PLACES = ["John", "Mary", "Ahmed", "Li"], ["Paris", "London", "Tokyo"]


@pytest.fixture(scope="module")
def conll(tmp_path_factory):
    rng = random.Random(0)
    blocks = []
    for _ in range(200):
        pairs = [(rng.choice(PEOPLE), "B-PER"), ("lives", "O"), ("in", "O"), (rng.choice(PLACES), "B-LOC")]
        if rng.random() < 0.5:
            pairs.insert(1, ("Smith", "I-PER"))
        blocks.append("\n".join(f"{w} {t}" for w, t in pairs))
    path = tmp_path_factory.mktemp("tag_baseline") / "ner.conll"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def _tag(capsys, conll, out, name, *extra):
    return tk_in_process(capsys, "tag", "--data", str(conll), "--epochs", "1", "--hidden", "8", "--device", "cpu",
                         "--quiet", "--out", str(out), "--name", name, *extra)


def test_a_tag_run_reports_its_baseline_in_json_and_run_json(capsys, tmp_path, conll):
    code, out, err = _tag(capsys, conll, tmp_path, "with", "--json")
    assert code == 0, err
    baseline = json.loads(out)["test"]["baseline"]
    assert baseline["method"] == METHOD
    # every word here has one tag, so the lookup is perfect on tokens and entities
    assert baseline["accuracy"] == baseline["macro_f1"] == baseline["entity_f1"] == pytest.approx(1.0)
    record = json.loads((tmp_path / "with" / "run.json").read_text())
    assert record["baseline"] == record["metrics"]["test"]["baseline"] == baseline


def test_the_printed_report_shows_the_baseline_line(capsys, tmp_path, conll):
    code, out, err = _tag(capsys, conll, tmp_path, "printed")
    assert code == 0, err
    report = json.loads((tmp_path / "printed" / "run.json").read_text())["metrics"]["test"]
    printed = " ".join(out.split())  # the console wraps long lines
    assert baseline_line(report) in printed
    assert printed.count("baseline (most frequent tag per word): accuracy 1.0000, macro-F1 1.0000, entity F1") == 1


def test_no_baseline_fits_nothing(capsys, tmp_path, conll):
    code, out, err = _tag(capsys, conll, tmp_path, "without", "--no-baseline", "--json")
    assert code == 0, err
    assert "baseline" not in json.loads(out)["test"]
    assert "baseline" not in json.loads((tmp_path / "without" / "run.json").read_text())
