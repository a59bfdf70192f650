"""`tk text`: reading texts, the vocabulary, bucketed batches, training, eval and predict."""

import csv
import json
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from conftest import one_line_error, tk_in_process, wait_for
from taskkit.errors import BadInputError
from taskkit.registries import TOKENIZERS
from taskkit.sequence import UNK_ID
from taskkit.text.batching import BucketBatchSampler, pad_batch
from taskkit.text.data import encode
from taskkit.text.table import read_table
from taskkit.text.vocab import Vocabulary

POSITIVE = ["good", "great", "wonderful", "excellent", "superb", "lovely", "brilliant", "enjoyable"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dull", "poor", "horrible", "weak"]
NEUTRAL = ["the", "film", "plot", "actor", "scene", "story", "was", "and", "a", "it", "movie", "with", "this",
           "of", "script", "music", "ending", "camera", "cast", "dialogue", "director", "an", "in", "on"]


def review(rng: random.Random) -> tuple[str, str]:
    """Neutral words around one sentiment word; "not" before it flips the label."""
    positive = rng.random() < 0.5
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(4, 24))]
    negated = rng.random() < 0.3
    cue = [*(["not"] if negated else []), rng.choice(POSITIVE if positive else NEGATIVE)]
    at = rng.randint(0, len(words))
    words[at:at] = cue
    return " ".join(words).capitalize() + ".", "positive" if positive != negated else "negative"


def write_reviews(path, count=2000, seed=0):
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(review(rng) for _ in range(count))
    return path


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    return write_reviews(tmp_path_factory.mktemp("text") / "reviews.csv")


def test_words_tokenizer_keeps_contractions_and_punctuation():
    tokenize = TOKENIZERS.build("words")
    assert tokenize("Don't miss it, it's GREAT!") == ["don't", "miss", "it", ",", "it's", "great", "!"]
    assert TOKENIZERS.build("chars")("a  b") == ["a", " ", "b"]


def test_vocabulary_comes_from_given_texts_and_maps_unknown_words():
    vocab = Vocabulary.build([["a", "b", "a"], ["a", "c"]], min_freq=1)
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b", "c"]
    assert vocab.encode(["a", "zebra"]) == [2, UNK_ID]
    assert Vocabulary.build([["a", "b", "a"]], min_freq=2).tokens == ["<pad>", "<unk>", "a"]
    assert Vocabulary.build([["a", "b", "b", "c"]], max_vocab=1).tokens == ["<pad>", "<unk>", "b"]


def test_texts_are_truncated_to_max_len_and_an_empty_one_is_one_unknown_token():
    vocab = Vocabulary.build([["a", "b", "c"]])
    tokenize = TOKENIZERS.build("words")
    assert encode(["a b c zebra e", "!!", ""], tokenize, vocab, 3) == [[2, 3, 4], [UNK_ID, UNK_ID], [UNK_ID]]


def test_a_plugin_tokenizer_trains_and_predicts(tk, tmp_path, plugin_data):
    corpus = write_reviews(tmp_path / "reviews.csv", count=300)
    env = {"TK_PLUGINS": str(plugin_data / "whitespace_tokenizer.py")}
    trained = tk("text", "--data", str(corpus), "--tokenizer", "whitespace", "--hidden", "8", "--epochs", "1",
                 "--quiet", "--out", str(tmp_path), "--name", "ws", env=env)
    assert trained.returncode == 0, trained.stderr
    record = json.loads((tmp_path / "ws" / "run.json").read_text())
    assert record["model"]["tokenizer"] == "whitespace"
    assert any(word.endswith(".") for word in record["model"]["vocabulary"])  # the words tokenizer splits "."
    answered = tk("predict", str(tmp_path / "ws"), "a great film.", env=env)
    assert answered.returncode == 0 and answered.stdout.startswith("a great film.: ")


def test_undecodable_and_empty_rows_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("text,label\nfine film,pos\n".encode() + b"caf\xe9 scene,neg\n" + b",pos\nok,\n"
                     + "très bien,pos\n".encode())
    table = read_table(path)
    assert table.texts == ["fine film", "très bien"] and table.labels == ["pos", "pos"]
    assert [n for n, _ in table.skipped] == [3, 4, 5]
    assert "not valid utf-8 (byte 0xe9" in table.skipped[0][1] and table.skipped[1][1] == "empty text"
    assert read_table(path, encoding="latin-1").texts[1] == "café scene"
    with pytest.raises(BadInputError, match="line 3 is not valid utf-8"):
        read_table(path, strict=True)


def test_a_run_names_the_rows_it_skipped_and_leaves_the_file_alone(capsys, tmp_path, reviews):
    data = tmp_path / "with_bad_rows.csv"
    data.write_bytes(reviews.read_bytes() + b",positive\ncaf\xe9 film,negative\n")
    before = data.read_bytes()
    code, _, err = tk_in_process(capsys, "text", "--data", str(data), "--hidden", "8", "--epochs", "1", "--quiet",
                                 "--out", str(tmp_path), "--name", "bad")
    assert code == 0, err
    assert err.splitlines()[0] == ("warning: skipped 2 rows: line 2002 (empty text), line 2003 (not valid utf-8 "
                                   "(byte 0xe9 at column 4)); all are listed in run.json (--strict stops instead)")
    assert json.loads((tmp_path / "bad" / "run.json").read_text())["skipped_files"][0] == [2002, "empty text"]
    assert data.read_bytes() == before


def test_tsv_and_jsonl_read_their_columns(tmp_path):
    (tmp_path / "a.tsv").write_text("review\tstars\ngood, really\t5\n", encoding="utf-8")
    assert read_table(tmp_path / "a.tsv", "review", "stars").texts == ["good, really"]
    (tmp_path / "a.jsonl").write_text('{"text": "good", "label": 1}\nnot json\n', encoding="utf-8")
    table = read_table(tmp_path / "a.jsonl")
    assert table.labels == ["1"] and table.skipped[0][0] == 2


def test_bucketing_keeps_similar_lengths_together_and_covers_every_text():
    lengths = [random.Random(i).randint(1, 100) for i in range(1000)]
    sampler = BucketBatchSampler(lengths, 20, torch.Generator().manual_seed(0))
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 10  # random batches of 20 span about 90
    again = list(BucketBatchSampler(lengths, 20, torch.Generator().manual_seed(0)))
    assert again == batches


def test_padding_makes_tokens_lengths_and_ignored_targets():
    (tokens, lengths), targets = pad_batch([([5, 6, 7], [1, 2, 1]), ([8], [0])])
    assert tokens.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]
    assert targets.tolist() == [[1, 2, 1], [0, -100, -100]]


def test_lstm_learns_planted_sentiment_and_negation_then_predicts(capsys, tmp_path, reviews):
    code, out, err = tk_in_process(capsys, "text", "--data", str(reviews), "--encoder", "lstm", "--hidden", "64",
                                   "--epochs", "6", "--quiet", "--out", str(tmp_path), "--name", "lstm", "--json")
    assert code == 0, err
    trained = json.loads(out)["test"]
    assert trained["accuracy"] >= 0.95
    run = tmp_path / "lstm"
    record = json.loads((run / "run.json").read_text())
    assert record["model"]["vocabulary"][:2] == ["<pad>", "<unk>"] and "wonderful" in record["model"]["vocabulary"]
    code, out, err = tk_in_process(capsys, "predict", str(run), "the film was wonderful",
                                   "the plot was not wonderful", "zxqv was awful", "--json")
    assert code == 0, err
    answers = [a["predictions"][0]["label"] for a in json.loads(out)]
    assert answers == ["positive", "negative", "negative"]
    code, out, _ = tk_in_process(capsys, "predict", str(run), "a great movie")
    assert out.startswith("a great movie: positive ")
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("a great movie\n\nthe story was dull\n", encoding="utf-8")
    code, out, err = tk_in_process(capsys, "predict", str(run), "--file", str(sentences))
    assert code == 0, err
    assert [line.split(": ")[1].split()[0] for line in out.splitlines()] == ["positive", "negative"]
    # reloaded with its saved vocabulary, the model scores the test split exactly as at the end of training
    code, out, err = tk_in_process(capsys, "eval", str(run), "--json")
    assert code == 0, err
    again = json.loads(out)["test"]
    assert (again["accuracy"], again["samples"]) == (trained["accuracy"], trained["samples"])
    assert again["confusion_matrix"] == trained["confusion_matrix"]
    code, out, err = tk_in_process(capsys, "summary", str(run), "--input", "12", "--json")
    assert code == 0, err
    layers = {row["name"]: row for row in json.loads(out)["layers"]}
    assert layers["encoder.embedding"]["output_shape"] == [12, 128]
    assert layers["encoder.rnn"]["flops"] == 2 * 12 * 2 * 4 * (128 * 64 + 64 * 64)


def three_way(rng: random.Random) -> tuple[str, str]:
    """A review with a positive cue, a negative cue or none."""
    label = rng.choice(["positive", "negative", "neutral"])
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(3, 12))]
    if label != "neutral":
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label == "positive" else NEGATIVE))
    return " ".join(words), label


def test_given_splits_train_a_three_class_model_whose_vocabulary_is_the_train_files(capsys, tmp_path):
    rng = random.Random(1)
    files = {}
    for split, count in (("train", 900), ("val", 150), ("test", 150)):
        rows = [three_way(rng) for _ in range(count)]
        if split == "test":
            rows = [(text + " zebra", label) for text, label in rows]  # a word the train file never has
        files[split] = tmp_path / f"{split}.csv"
        with open(files[split], "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([("text", "label"), *rows])
    code, out, err = tk_in_process(capsys, "text", "--train", str(files["train"]), "--val", str(files["val"]),
                                   "--test", str(files["test"]), "--encoder", "gru", "--hidden", "32",
                                   "--epochs", "8", "--quiet", "--out", str(tmp_path), "--name", "three", "--json")
    assert code == 0, err
    report = json.loads(out)["test"]
    assert report["samples"] == 150 and report["accuracy"] >= 0.9
    assert len(report["per_class"]) == 3
    run = tmp_path / "three"
    record = json.loads((run / "run.json").read_text())
    assert record["model"]["classes"] == ["negative", "neutral", "positive"]
    assert "zebra" not in record["model"]["vocabulary"]
    code, out, err = tk_in_process(capsys, "predict", str(run), "the plot zebra", "the plot qqqq", "--json",
                                   "--top-k", "3")
    assert code == 0, err
    unknown_words = [answer["predictions"] for answer in json.loads(out)]
    assert unknown_words[0] == unknown_words[1] and len(unknown_words[0]) == 3


def test_pretrained_embeddings_load_report_their_coverage_and_stay_frozen(capsys, tmp_path, reviews):
    vocabulary = ["film", "wonderful", "awful", "notaword"]
    vectors = {word: [round(0.1 * i + 0.01 * j, 2) for j in range(6)] for i, word in enumerate(vocabulary)}
    glove = tmp_path / "glove.6d.txt"
    glove.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()), encoding="utf-8")
    code, out, err = tk_in_process(capsys, "text", "--data", str(reviews), "--embeddings", str(glove),
                                   "--freeze-embeddings", "--encoder", "textcnn", "--epochs", "1", "--quiet",
                                   "--out", str(tmp_path), "--name", "glove", "--json")
    assert code == 0, err
    record = json.loads((tmp_path / "glove" / "run.json").read_text())
    words = len(record["model"]["vocabulary"]) - 2
    assert f"6 dimensions, 3 of {words} vocabulary words found" in err
    assert record["embeddings"]["dim"] == 6 and record["embeddings"]["coverage"] == round(3 / words, 4)
    weight = load_file(tmp_path / "glove" / "model.safetensors")["encoder.embedding.weight"]
    assert weight.shape[1] == 6
    for word in vocabulary[:3]:
        index = record["model"]["vocabulary"].index(word)
        assert weight[index].tolist() == pytest.approx(vectors[word])


@pytest.mark.slow  # three processes, about 30 s; tests/test_classify.py keeps the same check in the default run
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    corpus = write_reviews(tmp_path / "reviews.csv", count=1500, seed=3)
    args = [sys.executable, "-m", "taskkit", "text", "--data", str(corpus), "--hidden", "32", "--epochs", "3",
            "--quiet", "--device", "cpu", "--out", str(tmp_path)]
    subprocess.run([*args, "--name", "whole"], check=True, capture_output=True)
    victim = subprocess.Popen([*args, "--name", "killed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / "killed" / "metrics.csv", victim)
    time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert len(list(csv.DictReader(open(tmp_path / "killed" / "metrics.csv")))) < 3, "finished before the kill"
    resumed = subprocess.run([sys.executable, "-m", "taskkit", "text", "--resume", str(tmp_path / "killed"),
                              "--quiet"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    whole, killed = (load_file(tmp_path / name / "model.safetensors") for name in ("whole", "killed"))
    assert whole.keys() == killed.keys() and all(whole[k].equal(killed[k]) for k in whole)
    assert len(list(csv.DictReader(open(tmp_path / "killed" / "metrics.csv")))) == 3


def test_a_plain_rnn_trains_and_learns_something(capsys, tmp_path, reviews):
    code, out, err = tk_in_process(capsys, "text", "--data", str(reviews), "--encoder", "rnn", "--epochs", "5",
                                   "--quiet", "--out", str(tmp_path), "--json")
    assert code == 0, err
    report = json.loads(out)["test"]
    assert report["samples"] == 200 and report["accuracy"] >= 0.85


def test_bad_text_input_is_one_line(capsys, tmp_path, reviews):
    line = one_line_error(capsys, "text", "--data", str(reviews), "--text-col", "review", "--out", str(tmp_path))
    assert "no column 'review'; its columns are text, label" in line
    (tmp_path / "empty.csv").write_text("text,label\n", encoding="utf-8")
    assert "has no usable rows" in one_line_error(capsys, "text", "--data", str(tmp_path / "empty.csv"))
    (tmp_path / "one.csv").write_text("text,label\na,x\nb,x\nc,x\n", encoding="utf-8")
    assert "one class only ('x')" in one_line_error(capsys, "text", "--data", str(tmp_path / "one.csv"))
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("film 0.1 0.2 0.3\nplot 0.4 0.5 0.6\n", encoding="utf-8")
    line = one_line_error(capsys, "text", "--data", str(reviews), "--embeddings", str(vectors),
                          "--embedding-dim", "50", "--out", str(tmp_path))
    assert "3-dimensional vectors but --embedding-dim is 50" in line
    line = one_line_error(capsys, "text", "--data", str(reviews), "--encoder", "resnet18", "--out", str(tmp_path))
    assert "encoder 'resnet18' is for images, not sequences" in line and "lstm" in line
    line = one_line_error(capsys, "classify", "--backbone", "lstm", "--out", str(tmp_path))
    assert "backbone 'lstm' is for sequences, not images" in line and "resnet18" not in line
    line = one_line_error(capsys, "classify", "--head", "attention", "--out", str(tmp_path))
    assert "head 'attention' is for sequences, not images; choose one of: gap, linear, mlp" in line
    assert "no such file" not in line and not list(tmp_path.glob("*/run.json"))
