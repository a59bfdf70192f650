"""The fastText-style `ngram` encoder: hashed word n-grams, order within them, and a run end to end."""

import json

import pytest
import torch

from conftest import one_line_error, tk_in_process
from taskkit.plugins.sequence.ngram import NGramEncoder
from taskkit.sequence import PAD_ID
from test_text import write_reviews


def encode(encoder, sentences):
    lengths = torch.tensor([len(s) for s in sentences])
    tokens = torch.full((len(sentences), int(lengths.max())), PAD_ID, dtype=torch.long)
    for row, ids in enumerate(sentences):
        tokens[row, : len(ids)] = torch.tensor(ids)
    return encoder.eval()(tokens, lengths)


def test_words_alone_give_the_mean_of_their_vectors():
    torch.manual_seed(0)
    encoder = NGramEncoder(20, embedding_dim=4, ngrams=1)
    _, summary = encode(encoder, [[3, 4, 5]])
    assert torch.allclose(summary[0], encoder.embedding.weight[[3, 4, 5]].mean(0))


def test_bigrams_add_the_vector_of_the_pair_ending_at_each_word():
    torch.manual_seed(0)
    encoder = NGramEncoder(20, embedding_dim=4, ngrams=2, ngram_buckets=101)
    outputs, _ = encode(encoder, [[3, 4, 5]])
    rows = encoder.ngram_rows(torch.tensor([[3, 4, 5]]), 2)[0]
    table, words = encoder.ngram_embedding.weight, encoder.embedding.weight
    assert torch.allclose(outputs[0, 0], words[3])  # no pair ends at the first word
    assert torch.allclose(outputs[0, 2], words[5] + table[rows[2]])
    assert rows[1] != encoder.ngram_rows(torch.tensor([[4, 3]]), 2)[0, 1]  # (3, 4) and (4, 3) differ


def test_word_order_matters_through_the_ngrams_only():
    torch.manual_seed(0)
    ordered, swapped = [[3, 4, 5, 6]], [[4, 3, 5, 6]]
    words_only = NGramEncoder(20, embedding_dim=4, ngrams=1)
    assert torch.allclose(encode(words_only, ordered)[1], encode(words_only, swapped)[1])
    with_pairs = NGramEncoder(20, embedding_dim=4, ngrams=3, ngram_buckets=101)
    assert not torch.allclose(encode(with_pairs, ordered)[1], encode(with_pairs, swapped)[1])


def test_an_ngram_hashes_to_the_same_row_wherever_it_stands():
    encoder = NGramEncoder(50, ngrams=3, ngram_buckets=997)
    early = encoder.ngram_rows(torch.tensor([[7, 8, 9, 1, 1]]), 3)[0, 2]
    late = encoder.ngram_rows(torch.tensor([[2, 2, 7, 8, 9]]), 3)[0, 4]
    assert early == late and 0 <= int(early) < 997


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    return write_reviews(tmp_path_factory.mktemp("ngram") / "reviews.csv", count=1200)


def test_an_ngram_run_learns_predicts_and_exports_to_onnx(reviews, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    code, out, err = tk_in_process(capsys, "text", "--data", str(reviews), "--encoder", "ngram", "--epochs", "6",
                                   "--device", "cpu", "--quiet", "--out", str(tmp_path), "--name", "ngram", "--json")
    assert code == 0, err
    assert json.loads(out)["test"]["accuracy"] > 0.8
    run = tmp_path / "ngram"
    spec = json.loads((run / "run.json").read_text())["model"]
    assert spec["encoder"] == "ngram" and spec["encoder_options"]["ngrams"] == 2
    texts = ["a wonderful film", "not good at all", "the plot was dull and the cast was weak", "superb"]
    code, out, err = tk_in_process(capsys, "predict", str(run), *texts, "--json")
    assert code == 0, err
    from_run = [row["predictions"][0]["label"] for row in json.loads(out)]
    code, out, err = tk_in_process(capsys, "export", str(run), "--format", "onnx")
    assert code == 0, err
    code, out, err = tk_in_process(capsys, "predict", str(run / "model.onnx"), *texts, "--json")
    assert code == 0, err
    assert [row["predictions"][0]["label"] for row in json.loads(out)] == from_run


def test_options_the_encoder_does_not_take_are_refused_in_one_line(reviews, tmp_path, capsys):
    line = one_line_error(capsys, "text", "--data", str(reviews), "--encoder", "lstm", "--ngrams", "3",
                          "--out", str(tmp_path))
    assert "encoder 'lstm' takes no --ngrams" in line
