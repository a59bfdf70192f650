"""`tk tag`: CoNLL files, a BiLSTM tagger, entity F1, eval and predict."""

import json
import random

import pytest
from safetensors.torch import load_file

from conftest import kill_at_a_random_step_then_resume, one_line_error, tk_in_process
from taskkit.text.conll import read_conll

FIRST = ["John", "Mary", "Ahmed", "Li", "Olga", "Pedro", "Sara", "Ken", "Amina", "Tom"]
LAST = ["Smith", "Chen", "Garcia", "Ivanova", "Okafor", "Tanaka"]
PLACES = ["Paris", "London", "New York", "Tokyo", "Rio de Janeiro", "Berlin", "Cairo", "Lima"]
TEMPLATES = ["{P} lives in {L} .", "{P} met {P} in {L} yesterday .", "the weather in {L} was cold .",
             "{P} flew from {L} to {L} .", "we asked {P} about the trip .", "nobody saw {P} in {L} ."]


def sentence(rng: random.Random) -> list[tuple[str, str]]:
    """Words with BIO tags: people (one or two words) and places (one to three words) in context."""
    pairs = []
    for word in rng.choice(TEMPLATES).split():
        if word == "{P}":
            name = [rng.choice(FIRST)] + ([rng.choice(LAST)] if rng.random() < 0.5 else [])
            pairs += [(w, ("B-" if i == 0 else "I-") + "PER") for i, w in enumerate(name)]
        elif word == "{L}":
            pairs += [(w, ("B-" if i == 0 else "I-") + "LOC") for i, w in enumerate(rng.choice(PLACES).split())]
        else:
            pairs.append((word, "O"))
    return pairs


def write_conll(path, count=800, seed=0):
    rng = random.Random(seed)
    blocks = ["\n".join(f"{w} {t}" for w, t in sentence(rng)) for _ in range(count)]
    path.write_text("-DOCSTART- O\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def conll(tmp_path_factory):
    return write_conll(tmp_path_factory.mktemp("tag") / "ner.conll")


def test_conll_reading_skips_docstart_and_reports_untagged_lines(tmp_path):
    path = tmp_path / "a.conll"
    path.write_text("-DOCSTART- -X- O\n\nJohn NNP B-PER\nruns VBZ O\n\nalone\nParis NNP B-LOC\n", encoding="utf-8")
    read = read_conll(path)
    assert read.sentences == [["John", "runs"], ["Paris"]] and read.tags == [["B-PER", "O"], ["B-LOC"]]
    assert read.skipped == [(6, "a token but no tag")]


def test_bilstm_tagger_finds_entities_then_tags_new_sentences(capsys, tmp_path, conll):
    code, out, err = tk_in_process(capsys, "tag", "--data", str(conll), "--hidden", "64", "--epochs", "6",
                                   "--quiet", "--out", str(tmp_path), "--name", "ner", "--json")
    assert code == 0, err
    report = json.loads(out)["test"]
    assert report["entity_f1"] >= 0.9 and report["accuracy"] >= 0.9
    assert set(report["per_entity"]) == {"PER", "LOC"}
    run = tmp_path / "ner"
    code, out, err = tk_in_process(capsys, "predict", str(run), "Mary Chen lives in New York .")
    assert code == 0, err
    assert out.strip() == "Mary/B-PER Chen/I-PER lives/O in/O New/B-LOC York/I-LOC ./O"
    code, out, err = tk_in_process(capsys, "eval", str(run), "--json")
    assert code == 0, err
    assert json.loads(out)["test"]["entity_f1"] == pytest.approx(report["entity_f1"])


def test_bad_tagged_input_is_one_line(capsys, tmp_path):
    assert "does not exist" in one_line_error(capsys, "tag", "--data", str(tmp_path / "none.conll"))
    (tmp_path / "blank.conll").write_text("\n\n", encoding="utf-8")
    assert "no tagged sentences" in one_line_error(capsys, "tag", "--data", str(tmp_path / "blank.conll"))
    (tmp_path / "one.conll").write_text("a O\n\nb O\n\nc O\n", encoding="utf-8")
    assert "one tag only ('O')" in one_line_error(capsys, "tag", "--data", str(tmp_path / "one.conll"))


@pytest.mark.slow  # three processes, about 30 s
def test_sigkill_at_a_random_step_then_resume_matches_an_uninterrupted_run(tmp_path):
    data = write_conll(tmp_path / "ner.conll", count=1500)
    whole, killed, delay = kill_at_a_random_step_then_resume(
        "tag", ["--data", str(data), "--hidden", "32", "--quiet", "--device", "cpu"], tmp_path)
    for name in ("model.safetensors",):
        a, b = load_file(whole / name), load_file(killed / name)
        assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a), f"weights differ (killed {delay:.2f} s in)"
