"""Pretrained word vectors in every format a user downloads: GloVe, word2vec text and binary, fastText
.vec, gzipped or not; lowercase matching, coverage, bad files, and frozen or fine-tuned vectors."""

import csv
import gzip
import json
import random
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import one_line_error, tk_in_process
from taskkit.errors import BadInputError
from taskkit.text.embeddings import read_vectors
from taskkit.text.vocab import Vocabulary

DIM = 300
# "300" and "6" are words here as well as the numbers of a word2vec header: "6 300".
FILE_WORDS = ["the", "film", "300", "Paris", "6", "zebra"]
VOCAB = Vocabulary(["<pad>", "<unk>", "the", "film", "300", "paris", "6", "absent"])


def _vectors(words, dim, seed=0):
    """Random float32 vectors, so that text written with repr() reads back bit for bit."""
    rng = np.random.default_rng(seed)
    return {word: rng.standard_normal(dim).astype(np.float32) for word in words}


VECTORS = _vectors(FILE_WORDS, DIM)


def _rows(vectors, trailing=""):
    return "".join(f"{w} {' '.join(repr(float(x)) for x in v)}{trailing}\n" for w, v in vectors.items())


def glove(vectors):
    return _rows(vectors).encode()


def word2vec_text(vectors):
    return (f"{len(vectors)} {len(next(iter(vectors.values())))}\n" + _rows(vectors)).encode()


def fasttext_vec(vectors):  # fastText ends each row with a space
    return (f"{len(vectors)} {len(next(iter(vectors.values())))}\n" + _rows(vectors, trailing=" ")).encode()


def word2vec_binary(vectors, newline=True):
    """The C tool's layout: header, then per word its bytes, a space, float32 values and a newline."""
    header = f"{len(vectors)} {len(next(iter(vectors.values())))}\n".encode()
    return header + b"".join(w.encode() + b" " + v.astype("<f4").tobytes() + (b"\n" if newline else b"")
                             for w, v in vectors.items())


FORMATS = {
    "glove.txt": (glove, "GloVe text"),
    "word2vec.txt": (word2vec_text, "word2vec/fastText text"),
    "wiki-news.vec": (fasttext_vec, "word2vec/fastText text"),
    "vectors.bin": (word2vec_binary, "word2vec binary"),
    "no-newlines.bin": (lambda v: word2vec_binary(v, newline=False), "word2vec binary"),
    "glove.txt.gz": (lambda v: gzip.compress(glove(v)), "GloVe text, gzip"),
    "wiki-news.vec.gz": (lambda v: gzip.compress(fasttext_vec(v)), "word2vec/fastText text, gzip"),
    "GoogleNews.bin.gz": (lambda v: gzip.compress(word2vec_binary(v)), "word2vec binary, gzip"),
    "binary-named.txt": (word2vec_binary, "word2vec binary"),  # told by its bytes, not its name
    "text-named.bin": (word2vec_text, "word2vec/fastText text"),
}


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_reads_the_same_vectors(tmp_path, name):
    write, format_name = FORMATS[name]
    path = tmp_path / name
    path.write_bytes(write(VECTORS))
    vectors, dim = read_vectors(path, VOCAB)
    assert dim == DIM and vectors.format == format_name
    expected = {VOCAB.index[w.lower()]: VECTORS[w] for w in FILE_WORDS if w.lower() in VOCAB.index}
    assert sorted(vectors) == sorted(expected)  # "absent" is not in the file; "zebra" not in the vocabulary
    for index, vector in expected.items():
        assert torch.equal(vectors[index], torch.from_numpy(vector)), VOCAB.tokens[index]
    assert vectors.lowercase == 1  # "paris" from the file's "Paris"


def test_lowercase_forms_fill_in_and_an_exact_form_wins_wherever_it_comes(tmp_path):
    words = ["Paris", "berlin", "Rome", "rome", "LONDON", "London"]
    vectors = _vectors(words, 4, seed=1)
    path = tmp_path / "cased.vec"
    path.write_bytes(fasttext_vec(vectors))
    vocab = Vocabulary(["<pad>", "<unk>", "paris", "Berlin", "rome", "London", "london"])
    found, _ = read_vectors(path, vocab)
    index = vocab.index
    assert torch.equal(found[index["paris"]], torch.from_numpy(vectors["Paris"]))  # the file's other casing
    assert torch.equal(found[index["Berlin"]], torch.from_numpy(vectors["berlin"]))  # its own lowercase form
    assert torch.equal(found[index["rome"]], torch.from_numpy(vectors["rome"]))  # exact, though "Rome" came first
    assert torch.equal(found[index["London"]], torch.from_numpy(vectors["London"]))  # exact, after "LONDON"
    assert torch.equal(found[index["london"]], torch.from_numpy(vectors["LONDON"]))  # first casing in the file
    assert found.lowercase == 3


def _bad(path, content):
    path.write_bytes(content)
    with pytest.raises(BadInputError) as error:
        read_vectors(path, VOCAB)
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    return message


def test_a_file_of_another_format_is_one_line_naming_the_file_and_what_was_expected(tmp_path):
    expected = "expected GloVe, word2vec (text or binary) or fastText .vec word vectors"
    prose = _bad(tmp_path / "notes.txt", b"The film was long.\nThe plot was thin but the music was good.\n")
    assert "line 1 is not a word followed by its numbers" in prose and expected in prose
    whole = word2vec_binary(VECTORS)
    truncated = _bad(tmp_path / "cut.bin", whole[: len(whole) - 700])
    assert "ends after 5 of the 6 vectors its header promises" in truncated and "word2vec binary" in truncated
    cut_gzip = _bad(tmp_path / "cut.bin.gz", gzip.compress(whole)[:-200])
    assert "damaged or truncated gzip file" in cut_gzip
    short_row = word2vec_text(VECTORS).decode().splitlines()
    short_row[3] = short_row[3].rsplit(" ", 1)[0]
    assert "line 4 has 299 values where the rows before it have 300" in _bad(
        tmp_path / "short.txt", "\n".join(short_row).encode())
    assert "line 2 has 300 values where the header says 30" in _bad(
        tmp_path / "header.vec", b"6 30\n" + glove(VECTORS))
    assert "holds no vectors" in _bad(tmp_path / "empty.txt", b"\n\n")
    with zipfile.ZipFile(tmp_path / "crawl.vec.zip", "w") as archive:
        archive.writestr("crawl.vec", fasttext_vec(VECTORS))
    assert "is a zip archive; unzip it" in _bad(tmp_path / "crawl.vec.zip", (tmp_path / "crawl.vec.zip").read_bytes())


def test_a_row_longer_than_the_rest_is_a_word_with_spaces(tmp_path):
    """glove.840B.300d.txt has a few words with spaces in them ('. . .')."""
    vectors = _vectors(["the", ". . .", "film"], 5, seed=2)
    path = tmp_path / "glove.840B.txt"
    path.write_bytes(glove(vectors))
    found, dim = read_vectors(path, Vocabulary(["<pad>", "<unk>", "film", ". . ."]))
    assert dim == 5 and torch.equal(found[3], torch.from_numpy(vectors[". . ."]))


# ---- end to end: `tk text --embeddings FILE`

POSITIVE = ["good", "great", "wonderful", "superb"]
NEGATIVE = ["bad", "awful", "boring", "dull"]
NEUTRAL = ["the", "film", "plot", "was", "and", "a", "it", "music", "cast"]
E2E_FILE_WORDS = ["Wonderful", "awful", "the", "film", "plot", "nosuchword"]  # "Wonderful": lowercase match


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embeddings")
    rng = random.Random(0)
    with open(folder / "reviews.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(200):
            positive = rng.random() < 0.5
            words = [rng.choice(NEUTRAL) for _ in range(rng.randint(3, 8))]
            words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if positive else NEGATIVE))
            writer.writerow([" ".join(words), "positive" if positive else "negative"])
    vectors = _vectors(E2E_FILE_WORDS, 8, seed=3)
    (folder / "vectors.bin.gz").write_bytes(gzip.compress(word2vec_binary(vectors)))
    return folder, vectors


def _train(capsys, folder, name, *extra):
    code, out, err = tk_in_process(capsys, "text", "--data", str(folder / "reviews.csv"), "--embeddings",
                                   str(folder / "vectors.bin.gz"), "--epochs", "1", "--hidden", "8", "--device",
                                   "cpu", "--quiet", "--out", str(folder), "--name", name, *extra)
    assert code == 0, err
    record = json.loads((folder / name / "run.json").read_text())
    weight = load_file(folder / name / "model.safetensors")["encoder.embedding.weight"]
    return err, record, weight


def _rows_from_file(record, weight, vectors):
    vocabulary = record["model"]["vocabulary"]
    return [(weight[vocabulary.index(word.lower())], torch.from_numpy(vectors[word]))
            for word in E2E_FILE_WORDS if word.lower() in vocabulary]


def test_a_run_reports_coverage_and_fine_tunes_the_vectors_by_default(capsys, corpus):
    folder, vectors = corpus
    err, record, weight = _train(capsys, folder, "tuned")
    words = len(record["model"]["vocabulary"]) - 2
    assert (f"(word2vec binary, gzip): 8 dimensions, 5 of {words} vocabulary words found "
            f"({5 / words:.0%}; 1 of them matched in lower case)") in err
    assert record["embeddings"] == {"source": str(folder / "vectors.bin.gz"), "dim": 8,
                                    "coverage": round(5 / words, 4)}
    rows = _rows_from_file(record, weight, vectors)
    assert len(rows) == 5 and all(not torch.equal(trained, pretrained) for trained, pretrained in rows)
    assert all(torch.allclose(trained, pretrained, atol=0.1) for trained, pretrained in rows)  # moved, a little


def test_frozen_vectors_are_unchanged_after_training(capsys, corpus):
    folder, vectors = corpus
    _, record, weight = _train(capsys, folder, "frozen", "--freeze-embeddings")
    rows = _rows_from_file(record, weight, vectors)
    assert len(rows) == 5 and all(torch.equal(trained, pretrained) for trained, pretrained in rows)


def test_a_file_of_another_format_stops_the_run_with_one_line(capsys, corpus, tmp_path):
    folder, _ = corpus
    notes = tmp_path / "notes.txt"
    notes.write_text("Some prose, not vectors.\n", encoding="utf-8")
    line = one_line_error(capsys, "text", "--data", str(folder / "reviews.csv"), "--embeddings", str(notes),
                          "--out", str(tmp_path))
    assert f"{notes} line 1 is not a word followed by its numbers; expected GloVe" in line
