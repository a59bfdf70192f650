"""The classical baseline beside a tagger: each word's most frequent tag in the training split.

A dictionary lookup already tags most tokens of many corpora right (parts of speech above
all), so a tagger's scores mean little until they are set beside it; it costs a second and no
GPU. It is learned from the training split alone, as the network is, so the test split stays
unseen. Words are whatever the caller passes: `tk tag` passes the ids its network reads, so the
run's lowercase setting and vocabulary apply alike to both. A word the training split never
tagged (and the unknown id, which stands for such words) gets the tag most frequent over all
training tokens. It is scored with the network's own definitions: token accuracy and macro F1
over all tags as torchmetrics computes them (taskkit.report.metrics), entity F1 by seqeval.

Entity scoring lives here too (`entity_metrics`), so that the network and its baseline are
scored by one function.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import torch
from torchmetrics.functional import classification as tmf

METHOD = "most frequent tag per word"


@dataclass
class MostFrequentTag:
    """A tag per word seen in training, and the tag for every other word."""

    by_word: dict[Hashable, int]
    fallback: int

    @classmethod
    def fit(cls, words: Sequence[Sequence[Hashable]], tags: Sequence[Sequence[int]],
            unknown: Hashable | None = None) -> "MostFrequentTag":
        """Count tags per word over tagged sentences; ties go to the tag listed first (lowest id),
        so the result does not depend on the order of sentences. `unknown` counts towards the
        overall tag but gets no tag of its own."""
        per_word: dict[Hashable, Counter] = {}
        overall: Counter = Counter()
        for sentence, sentence_tags in zip(words, tags):
            for word, tag in zip(sentence, sentence_tags):
                overall[tag] += 1
                if word != unknown:
                    per_word.setdefault(word, Counter())[tag] += 1
        return cls({word: _most_frequent(counts) for word, counts in per_word.items()},
                   _most_frequent(overall) if overall else 0)

    def predict(self, words: Sequence[Sequence[Hashable]]) -> list[list[int]]:
        return [[self.by_word.get(word, self.fallback) for word in sentence] for sentence in words]


def _most_frequent(counts: Counter) -> int:
    return min(counts, key=lambda tag: (-counts[tag], tag))


def tag_baseline(train_words: Sequence[Sequence[Hashable]], train_tags: Sequence[Sequence[int]],
                 test_words: Sequence[Sequence[Hashable]], test_tags: Sequence[Sequence[int]],
                 tag_names: list[str], unknown: Hashable | None = None) -> dict[str, Any]:
    """Fit on the training sentences, tag the test ones and score them: the record a tagger's test
    report and run.json keep under `baseline` (see taskkit.report.baseline)."""
    start = time.perf_counter()
    model = MostFrequentTag.fit(train_words, train_tags, unknown)
    guess = model.predict(test_words)
    scores = token_scores(test_tags, guess, len(tag_names))
    entities = entity_metrics([[tag_names[t] for t in row] for row in test_tags],
                              [[tag_names[t] for t in row] for row in guess])
    return {"method": METHOD, **scores, "entity_f1": entities["entity_f1"],
            "seconds": round(time.perf_counter() - start, 4)}


def token_scores(truth: Sequence[Sequence[int]], guess: Sequence[Sequence[int]], num_tags: int) -> dict[str, float]:
    """Token accuracy and macro F1 over all `num_tags` tags, defined as the network's test report defines them."""
    targets = torch.tensor([t for row in truth for t in row], dtype=torch.long)
    predicted = torch.tensor([t for row in guess for t in row], dtype=torch.long)
    if len(targets) == 0:
        return {"accuracy": 0.0, "macro_f1": 0.0}
    kwargs = {"num_classes": num_tags, "validate_args": False}
    return {"accuracy": tmf.multiclass_accuracy(predicted, targets, average="micro", **kwargs).item(),
            "macro_f1": tmf.multiclass_f1_score(predicted, targets, average="macro", **kwargs).item()}


def entity_metrics(truth: list[list[str]], guess: list[list[str]]) -> dict[str, Any]:
    """Entity-level precision, recall and F1 (seqeval, BIO), overall and per entity type."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    if not truth:
        return {"entity_f1": 0.0, "entity_precision": 0.0, "entity_recall": 0.0, "per_entity": {}}
    with warnings.catch_warnings():  # its averages over no entities at all are NaN, and say so
        warnings.simplefilter("ignore", RuntimeWarning)
        per_type = classification_report(truth, guess, output_dict=True, zero_division=0)
    return {"entity_f1": f1_score(truth, guess, zero_division=0),
            "entity_precision": precision_score(truth, guess, zero_division=0),
            "entity_recall": recall_score(truth, guess, zero_division=0),
            "per_entity": {k: {m: float(v) for m, v in row.items()} for k, row in per_type.items()
                           if not k.endswith("avg")}}
