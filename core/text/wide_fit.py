"""Fit the linear n-gram part of a blended text classifier with scikit-learn, and score its parts.

The n-grams are read by the module itself (`NGramLinear`'s hashing, on the run's token ids), so
what scikit-learn fits is exactly what the model computes. Two classical models are fitted and
the validation split chooses between them and their regularisation strengths.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from taskkit.text.baseline import STRENGTHS
from taskkit.text.batching import TokenDataset, pad_batch
from taskkit.text.ngrams import bag_of_ngrams
from taskkit.text.wide import BlendedClassifier, NGramLinear

#: What each kind of features is called in run.json and the report.
METHODS = {"tfidf": "TF-IDF of hashed word 1-2 grams + logistic regression",
           "nb": "naive-Bayes-weighted hashed word 1-2 grams + logistic regression (NB-LR)"}
#: NB-LR's features are presences scaled by log-count ratios of a few units, not unit-length
#: TF-IDF vectors, so the strengths that suit it are smaller (Wang and Manning's NBSVM used C=1).
NB_STRENGTHS = (0.1, 0.3, 1.0, 4.0)


@dataclass
class Fitted:
    """One candidate linear model over the seen n-gram rows: its validation accuracy, what the
    module's buffers take (`idf` for TF-IDF; `weight` `[rows, columns]`, `bias`), its strength."""

    score: float
    features: str
    idf: np.ndarray | None
    weight: np.ndarray
    bias: np.ndarray
    strength: float


def ngram_counts(wide: NGramLinear, ids: Sequence[list[int]], batch_size: int = 256):
    """A `[texts, buckets]` sparse matrix of how often each hashed n-gram occurs in each text."""
    from scipy.sparse import csr_matrix

    indptr, indices, counts = [0], [], []
    for start in range(0, len(ids), batch_size):
        (tokens, lengths), _ = pad_batch([(list(i), 0) for i in ids[start: start + batch_size]])
        rows, present = bag_of_ngrams(tokens, lengths, wide.ngrams, wide.buckets)
        for text_rows, text_present in zip(rows.numpy(), present.numpy()):
            found, times = np.unique(text_rows[text_present], return_counts=True)
            indices.append(found)
            counts.append(times)
            indptr.append(indptr[-1] + len(found))
    return csr_matrix((np.concatenate(counts).astype(np.float64) if counts else np.zeros(0),
                       np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64), indptr),
                      shape=(len(ids), wide.buckets))


def fit_wide(wide: NGramLinear, splits: dict[str, TokenDataset]) -> dict[str, Any]:
    """Fit TF-IDF and logistic regression, and NB-LR, on `train`, each with its strength chosen on
    `val` (on `train` when val is empty); fill `wide` with the one better there:
    `{"method", "features", "C", "val_accuracy", "seconds"}`.

    Which of the two wins depends on the data (NB-LR on short polar snippets, Wang and Manning
    2012; TF-IDF on several classes), so the validation split decides, as it decides `C`."""
    started = time.perf_counter()
    chooser = splits["val"] if len(splits["val"]) else splits["train"]
    train_counts = ngram_counts(wide, splits["train"].ids)
    # Only rows some training text has can weigh anything; fitting on those columns alone is the
    # same model, several times faster than over every bucket.
    seen = np.flatnonzero(np.asarray((train_counts > 0).sum(axis=0)).ravel())
    counts = (train_counts[:, seen], ngram_counts(wide, chooser.ids)[:, seen])
    targets = (np.asarray(splits["train"].targets), np.asarray(chooser.targets))
    tfidf, nb = fit_tfidf(*counts, *targets), fit_nb(*counts, *targets, wide.classes)
    best = nb if nb.score > tfidf.score else tfidf
    load_fitted(wide, seen, best)
    return {"method": METHODS[best.features], "features": best.features, "C": best.strength,
            "val_accuracy": round(best.score, 4), "seconds": round(time.perf_counter() - started, 2)}


def load_fitted(wide: NGramLinear, seen: np.ndarray, fitted: Fitted) -> None:
    """Put a fitted model's weights at the `seen` rows of `wide` (zero elsewhere) and set its features."""
    wide.features = fitted.features
    with torch.no_grad():
        for buffer in (wide.idf, wide.weight):
            buffer.zero_()
        if fitted.idf is not None:
            wide.idf[seen] = torch.as_tensor(fitted.idf, dtype=wide.idf.dtype)
        wide.weight[seen] = torch.as_tensor(fitted.weight, dtype=wide.weight.dtype)
        wide.bias.copy_(torch.as_tensor(fitted.bias, dtype=wide.bias.dtype))


def _logistic(features, targets: np.ndarray, strength: float):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a convergence warning on a tiny split says nothing here
        return LogisticRegression(C=strength, max_iter=1000).fit(features, targets)


def fit_tfidf(train_counts, val_counts, train_targets: np.ndarray, val_targets: np.ndarray) -> Fitted:
    from sklearn.feature_extraction.text import TfidfTransformer

    tfidf = TfidfTransformer(sublinear_tf=True).fit(train_counts)
    train, val = tfidf.transform(train_counts), tfidf.transform(val_counts)
    best = None
    for strength in STRENGTHS:
        model = _logistic(train, train_targets, strength)
        score = float((model.predict(val) == val_targets).mean())
        if best is None or score > best.score:
            best = Fitted(score, "tfidf", tfidf.idf_, model.coef_.T, model.intercept_, strength)
    return best


def fit_nb(train_counts, val_counts, train_targets: np.ndarray, val_targets: np.ndarray, classes: int) -> Fitted:
    """NB-LR: each n-gram's presence scaled by its log-count ratio between a class and the rest
    (smoothed by 1), one logistic regression per class against the rest (one for two classes);
    the ratios are folded into the weights, so the module sums presences times weights."""
    train, val = (train_counts > 0).astype(np.float64), (val_counts > 0).astype(np.float64)
    positives = [1] if classes == 2 else list(range(classes))
    ratios = []
    for k in positives:
        inside = train_targets == k
        p = 1 + np.asarray(train[inside].sum(axis=0)).ravel()
        q = 1 + np.asarray(train[~inside].sum(axis=0)).ravel()
        ratios.append(np.log((p / p.sum()) / (q / q.sum())))
    best = None
    for strength in NB_STRENGTHS:
        models = [_logistic(train.multiply(r).tocsr(), train_targets == k, strength) for k, r in zip(positives, ratios)]
        weight = np.stack([r * m.coef_[0] for r, m in zip(ratios, models)], axis=1)
        bias = np.array([m.intercept_[0] for m in models])
        scores = val @ weight + bias
        predicted = (scores[:, 0] > 0).astype(int) if classes == 2 else scores.argmax(axis=1)
        score = float((predicted == val_targets).mean())
        if best is None or score > best.score:
            best = Fitted(score, "nb", None, weight, bias, strength)
    return best


def part_logits(model: BlendedClassifier, dataset: TokenDataset, batch_size: int = 256) -> tuple[torch.Tensor, ...]:
    """`(network logits, linear logits, targets)` of every text of `dataset`, in its order."""
    network, linear = [], []
    device = model.wide.idf.device
    model.eval()
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            (tokens, lengths), _ = pad_batch([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
            a, b = model.parts(tokens.to(device), lengths)
            network.append(a.float())
            linear.append(b.float())
    return torch.cat(network), torch.cat(linear), torch.as_tensor(dataset.targets)
