"""The classical baseline a text classifier must beat: TF-IDF of word 1-2 grams and logistic regression.

On a few thousand sentences a linear model over word and bigram counts is hard to beat, and
it fits in seconds without a GPU; a network that does not beat it on the same split is not
worth its cost. So every `tk text` run fits it on the run's own training split, picks its
regularisation on the validation split (as the network picks its best epoch there), and
reports its test accuracy and macro-F1 beside the network's. It reads the raw texts with
scikit-learn's own word analyzer, whatever tokenizer the network uses, so the baseline is the
same well-known model on every run and anyone can reproduce it.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Sequence

import numpy as np

METHOD = "TF-IDF word 1-2 grams + logistic regression"
#: Inverse regularisation strengths tried; the one best on the validation split is kept.
STRENGTHS = (1.0, 4.0, 16.0, 64.0)


def fit_baseline(texts: dict[str, Sequence[str]], targets: dict[str, Sequence[int]], classes: int) -> dict[str, Any]:
    """Fit on `train`, choose the strength on `val` (on `train` when val is empty), score on `test`:
    `{"method", "accuracy", "macro_f1", "C", "seconds"}`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    train = vectorizer.fit_transform(texts["train"])
    train_targets = np.asarray(targets["train"])
    chooser = "val" if len(texts["val"]) else "train"
    chosen = vectorizer.transform(texts[chooser])
    best: tuple[float, Any, float] | None = None
    for strength in STRENGTHS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a convergence warning on a tiny split says nothing here
            model = LogisticRegression(C=strength, max_iter=1000).fit(train, train_targets)
        score = accuracy_score(targets[chooser], model.predict(chosen))
        if best is None or score > best[0]:
            best = (score, model, strength)
    _, model, strength = best
    predicted = model.predict(vectorizer.transform(texts["test"]))
    truth = np.asarray(targets["test"])
    return {"method": METHOD, "accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro", labels=list(range(classes)),
                                       zero_division=0)),
            "C": strength, "seconds": round(time.perf_counter() - started, 2)}
