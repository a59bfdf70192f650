"""The linear n-gram part of a blended text classifier: it computes what scikit-learn fitted, padding
and unseen n-grams change nothing, the blend mixes probabilities by a share chosen on validation,
and `tk text` records its parts."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pytest
import torch

from conftest import tk_in_process
from taskkit.text.batching import TokenDataset, pad_batch
from taskkit.text.wide import SHARES, BlendedClassifier, NGramLinear, blend, choose_share
from taskkit.text.wide_fit import fit_nb, fit_tfidf, fit_wide, load_fitted, ngram_counts, part_logits


def _splits(classes=2, seed=0, count=120):
    """Texts of ids 2..40 whose class is told by which of a few marker ids (and pairs) they hold."""
    rng = random.Random(seed)
    splits = {}
    for split, size in (("train", count), ("val", count // 3)):
        ids, targets = [], []
        for _ in range(size):
            target = rng.randrange(classes)
            text = [rng.randrange(2 + classes, 40) for _ in range(rng.randint(2, 12))]
            text.insert(rng.randrange(len(text) + 1), 2 + target)
            if rng.random() < 0.3:
                text += text[:3]  # repeated words and pairs: counted once each, with sublinear frequency
            ids.append(text)
            targets.append(target)
        splits[split] = TokenDataset(ids, targets)
    return splits


def _fitted(kind, classes):
    splits = _splits(classes)
    wide = NGramLinear(classes, buckets=4096)
    train_counts = ngram_counts(wide, splits["train"].ids)
    seen = np.flatnonzero(np.asarray((train_counts > 0).sum(axis=0)).ravel())
    counts = (train_counts[:, seen], ngram_counts(wide, splits["val"].ids)[:, seen])
    targets = (np.asarray(splits["train"].targets), np.asarray(splits["val"].targets))
    fitted = fit_tfidf(*counts, *targets) if kind == "tfidf" else fit_nb(*counts, *targets, classes)
    load_fitted(wide, seen, fitted)
    return wide, fitted, splits, train_counts


def _scores(wide, texts):
    (tokens, lengths), _ = pad_batch([(t, 0) for t in texts])
    scores = wide(tokens, lengths)
    if wide.classes == 2:
        assert torch.equal(scores[:, 0], torch.zeros(len(texts)))
        return scores[:, 1].numpy()
    return scores.numpy()


@pytest.mark.parametrize("classes", [2, 3])
def test_the_tfidf_module_scores_what_scikit_learn_fitted(classes):
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    wide, fitted, splits, counts = _fitted("tfidf", classes)
    assert wide.features == "tfidf" and fitted.strength in (1.0, 4.0, 16.0, 64.0) and fitted.score > 0.8
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
    tfidf.idf_ = wide.idf.double().numpy()
    model = LogisticRegression(C=fitted.strength, max_iter=1000).fit(tfidf.transform(counts), splits["train"].targets)
    texts = splits["val"].ids[:20]
    expected = model.decision_function(tfidf.transform(ngram_counts(wide, texts)))
    np.testing.assert_allclose(_scores(wide, texts), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("classes", [2, 3])
def test_the_nb_module_sums_the_weights_of_the_ngrams_present(classes):
    wide, fitted, splits, _ = _fitted("nb", classes)
    assert wide.features == "nb" and fitted.score > 0.8
    texts = splits["val"].ids[:20]
    present = (ngram_counts(wide, texts) > 0).astype(np.float64)
    expected = present @ wide.weight.double().numpy() + wide.bias.double().numpy()
    np.testing.assert_allclose(_scores(wide, texts), expected[:, 0] if classes == 2 else expected, rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("classes", [2, 3])
def test_the_fit_keeps_the_model_better_on_validation(classes):
    splits = _splits(classes)
    wide = NGramLinear(classes, buckets=4096)
    info = fit_wide(wide, splits)
    scores = [_fitted(kind, classes)[1].score for kind in ("tfidf", "nb")]
    assert info["val_accuracy"] == round(max(scores), 4) and info["features"] == wide.features
    predicted = _scores(wide, splits["val"].ids)
    predicted = (predicted > 0).astype(int) if classes == 2 else predicted.argmax(1)
    assert (predicted == np.asarray(splits["val"].targets)).mean() == pytest.approx(max(scores))


def test_repeats_count_once_with_a_sublinear_frequency_or_once_as_present():
    wide = NGramLinear(2, ngrams=1, buckets=64)
    wide.idf.fill_(1.0)
    wide.weight.fill_(1.0)
    tokens = torch.tensor([[5, 5, 5, 7]])
    # words 5 (three times) and 7: tf-idf (1 + ln 3, 1), unit length, summed by the all-ones weights
    expected = (1 + np.log(3) + 1) / np.sqrt((1 + np.log(3)) ** 2 + 1)
    assert wide(tokens, torch.tensor([4]))[0, 1].item() == pytest.approx(expected, rel=1e-6)
    wide.features = "nb"
    assert wide(tokens, torch.tensor([4]))[0, 1].item() == pytest.approx(2.0)  # two distinct words present


def test_padding_and_unseen_ngrams_change_nothing():
    splits = _splits()
    wide = NGramLinear(2, buckets=4096)
    fit_wide(wide, splits)
    text = splits["val"].ids[0]
    (alone, alone_lengths), _ = pad_batch([(text, 0)])
    (batch, lengths), _ = pad_batch([(text, 0), (list(range(2, 40)), 0)])
    assert torch.allclose(wide(alone, alone_lengths)[0], wide(batch, lengths)[0], atol=1e-6)
    unseen = 1000  # no training text has it, so neither it nor the pair it ends weighs anything
    (longer, longer_lengths), _ = pad_batch([(text + [unseen], 0)])
    assert torch.allclose(wide(alone, alone_lengths), wide(longer, longer_lengths), atol=1e-6)


class _Encoder(torch.nn.Module):
    out_channels = [4]

    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(50, 4)

    def forward(self, tokens, lengths):
        outputs = self.embedding(tokens)
        return outputs, outputs.mean(1)


class _Head(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, outputs, summary, lengths):
        return self.linear(summary)


def test_training_sees_the_network_alone_and_evaluation_the_mixed_probabilities():
    splits = _splits()
    wide = NGramLinear(2, buckets=4096)
    fit_wide(wide, splits)
    model = BlendedClassifier(_Encoder(), _Head(), wide, network_share=0.3)
    (tokens, lengths), _ = pad_batch([(t, 0) for t in splits["val"].ids[:8]])
    network, linear = model.parts(tokens, lengths)
    model.train()
    assert torch.equal(model(tokens, lengths), network)
    model.eval()
    probabilities = model(tokens, lengths).exp()
    assert torch.allclose(probabilities, 0.3 * network.softmax(1) + 0.7 * linear.softmax(1), atol=1e-6)
    assert torch.allclose(probabilities.sum(1), torch.ones(8), atol=1e-6)
    model.network_share = 1.0
    assert torch.equal(model(tokens, lengths), network)
    assert torch.allclose(blend(network, linear, 0.0), linear.log_softmax(1), atol=1e-6)
    assert not any(p.requires_grad for p in wide.buffers()) and not list(wide.parameters())
    network_logits, linear_logits, targets = part_logits(model, splits["val"])
    assert network_logits.shape == linear_logits.shape == (len(splits["val"]), 2)
    assert (linear_logits.argmax(1) == targets).float().mean() > 0.8


def test_the_share_follows_the_part_that_is_right():
    targets = torch.tensor([0, 1] * 50)
    right = torch.nn.functional.one_hot(targets, 2).float() * 4  # confident and right
    noise = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    assert choose_share(right, noise, targets) == 1.0
    assert choose_share(noise, right, targets) == 0.0
    first_half = torch.arange(100)[:, None] < 50
    network = torch.where(first_half, right, right.flip(1))  # sure on every text, wrong on the second half
    linear = torch.where(first_half, right.flip(1), right)  # the other way round
    assert choose_share(network, linear, targets) == 0.5  # each part covers the other's mistakes


GOOD, BAD = ("great", "lovely", "superb", "fine"), ("awful", "dull", "poor", "bad")
FILLER = ("the", "film", "plot", "was", "and", "a", "with", "story", "cast", "music")


def _write(path, count=240, seed=0):
    rng = random.Random(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(count):
            label = rng.choice(["pos", "neg"])
            words = [rng.choice(FILLER) for _ in range(rng.randint(3, 9))]
            words.insert(rng.randrange(len(words) + 1), rng.choice(GOOD if label == "pos" else BAD))
            writer.writerow([" ".join(words), label])
    return path


def test_tk_text_blends_by_default_and_records_each_part(tmp_path, capsys):
    data = _write(tmp_path / "reviews.csv")
    common = ["text", "--data", str(data), "--epochs", "1", "--embedding-dim", "8", "--hidden", "8", "--quiet"]
    code, out, _ = tk_in_process(capsys, *common, "--out", str(tmp_path), "--name", "wide", "--json")
    assert code == 0
    report = json.loads(out)["test"]
    record = json.loads((tmp_path / "wide" / "run.json").read_text())
    assert record["model"]["wide"] == {"ngrams": 2, "buckets": 2 ** 20, "features": record["wide"]["features"],
                                       "network_share": record["model"]["wide"]["network_share"]}
    assert record["model"]["wide"]["network_share"] in SHARES
    assert record["wide"]["features"] in ("tfidf", "nb") and "hashed word 1-2 grams" in record["wide"]["method"]
    parts = record["metrics"]["test"]["parts"]
    assert set(parts) == {"the network", "a linear model of word 1-2 grams"}
    assert parts["a linear model of word 1-2 grams"]["accuracy"] > 0.9  # one word tells the class
    share = record["model"]["wide"]["network_share"]
    assert parts["the network"]["share"] == share and parts["a linear model of word 1-2 grams"]["share"] == round(1 - share, 1)
    assert report["parts"] == parts and report["accuracy"] >= 0.9
    code, out, _ = tk_in_process(capsys, "predict", str(tmp_path / "wide"), "a superb and lovely film",
                                 "dull poor plot", "--json")
    answers = json.loads(out)
    assert [a["predictions"][0]["label"] for a in answers] == ["pos", "neg"]

    # Whatever share validation chose, a mixture of both parts exports and answers like the run
    # (tk export checks the file against PyTorch on batches of mixed lengths).
    record["model"]["wide"]["network_share"] = 0.5
    (tmp_path / "wide" / "run.json").write_text(json.dumps(record))
    code, out, err = tk_in_process(capsys, "export", str(tmp_path / "wide"), "--format", "onnx", "--json")
    assert code == 0, err
    exported = json.loads(out)
    assert exported["within_tolerance"] and len(exported["checked_batches"]) > 1

    code, shown, _ = tk_in_process(capsys, *common, "--out", str(tmp_path), "--name", "alone", "--no-wide")
    assert code == 0
    record = json.loads((tmp_path / "alone" / "run.json").read_text())
    assert "wide" not in record["model"] and "parts" not in record["metrics"]["test"]
    assert "the model mixes" not in shown and "baseline (" in shown
