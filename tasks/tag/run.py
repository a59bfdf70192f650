"""What `tk tag` does: read tagged sentences, train an encoder with a per-token head, score entities.

Tokens are scored one by one during training (token accuracy, and the loss ignores
padding), but what a user of a named-entity tagger cares about is whole entities: a person
tagged B-PER I-PER counts only if both tags are right. So after the test evaluation the best
model tags every test sentence and `seqeval` scores the entities (precision, recall, F1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from taskkit import drive
from taskkit.data.folds import plain_fold
from taskkit.train.engine import IGNORE_INDEX
from taskkit.errors import BadInputError
from taskkit.registries import LOSSES, TOKENIZERS
from taskkit.report.answers import print_tags
from taskkit.storage.runs import read_run
from taskkit.sequence import UNK_ID
from taskkit.text.model import (build_model, check_sequence_parts, encoder_options, evaluation_loader,
                                load_model, text_loaders)
from taskkit.train.flow import evaluation_split, fit_and_test, record_baseline, report_and_print, warn_skipped
from taskkit.text.batching import TokenDataset, pad_batch
from taskkit.text.conll import TaggedSentences, read_conll
from taskkit.text.data import TextData, everything_in_test, given_splits
from taskkit.text.tag_baseline import entity_metrics, tag_baseline
from taskkit.text.vocab import Vocabulary
from taskkit.train.training import TrainOptions, resolve_device, step_options


class PerTokenLoss(nn.Module):
    """A classification loss over every labelled token of `[B, T, tags]` logits (padding ignored)."""

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.loss = loss

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def tag_order(tags: set[str]) -> list[str]:
    """`O` first, then the entity tags by type and position (B before I)."""
    return sorted(tags, key=lambda t: (t != "O", t[2:] if t[1:2] == "-" else t, t))


def load_tag_data(options: dict[str, Any], vocab: Vocabulary | None = None, tags: list[str] | None = None,
                  whole: bool = False) -> TextData:
    """Read, split by sentence (seeded), and encode; `vocab` and `tags` are a trained run's."""
    files = {"train": options.get("train") or options.get("data")}
    if not files["train"]:
        raise BadInputError("pass --data FILE (CoNLL style: a token and its tag per line), or --train FILE")
    files.update({s: options[s] for s in ("val", "test") if options.get("train") and options.get(s)})
    read = {s: read_conll(path, options["encoding"], options["strict"]) for s, path in files.items()}
    sentences = [s for part in read.values() for s in part.sentences]
    tag_lists = [t for part in read.values() for t in part.tags]
    found = {t for row in tag_lists for t in row}
    tags = tags or tag_order(found)
    unknown = sorted(found - set(tags))
    if unknown:
        raise BadInputError(f"the data has tag '{unknown[0]}' that the trained run does not know")
    if len(tags) < 2:
        raise BadInputError(f"{files['train']} has one tag only ('{tags[0]}'); tagging needs at least 2")
    parts = _split(read, options, whole)
    words = [[w.lower() if options["lowercase"] else w for w in s[: options["max_len"]]] for s in sentences]
    vocab = vocab or Vocabulary.build((words[i] for i in parts["train"]), options["min_freq"], options["max_vocab"])
    ids = [vocab.encode(w) for w in words]
    targets = [[tags.index(t) for t in row[: options["max_len"]]] for row in tag_lists]
    datasets = {s: TokenDataset([ids[i] for i in idx], [targets[i] for i in idx]) for s, idx in parts.items()}
    skipped = [s for part in read.values() for s in part.skipped]
    return TextData(datasets["train"], datasets["val"], datasets["test"], tags, vocab, skipped,
                    ", ".join(str(p) for p in files.values()))


def _split(read: dict[str, TaggedSentences], options: dict[str, Any], whole: bool) -> dict[str, np.ndarray]:
    """Given splits as they are; missing ones carved from train at random (sentences have no single label)."""
    given = given_splits({split: len(part.sentences) for split, part in read.items()})
    if whole:
        return everything_in_test(sum(len(part.sentences) for part in read.values()))
    pool = np.random.default_rng(options["seed"]).permutation(given["train"])
    parts = {}
    for split, fraction in (("test", options["test_split"]), ("val", options["val_split"])):
        if split in given:
            parts[split] = given[split]
        else:
            count = max(1, round(fraction * len(given["train"]))) if fraction > 0 else 0  # never an empty split
            parts[split], pool = np.sort(pool[:count]), pool[count:]
    if len(pool) == 0:
        raise BadInputError("no sentence is left to train on; lower --val-split/--test-split or add sentences")
    fold = drive.current().fold if drive.current() else None
    if fold is not None:  # `tk cv`: this fold of everything outside the test split validates
        train, val = plain_fold(np.concatenate([pool, parts["val"]]), fold, options["seed"], "sentence")
        return {"train": train, "val": val, "test": parts["test"]}
    parts["train"] = np.sort(pool)
    return parts


def train(options: dict[str, Any], explicit: set[str], resume: Path | None) -> tuple[Path, dict[str, Any]]:
    """Check everything, read and encode the sentences, train, test and score entities."""
    train_options = TrainOptions.from_options(options)
    resolve_device(train_options.device)
    check_sequence_parts(options["encoder"], "token")
    prior = read_run(resume)["model"] if resume is not None else None
    data = load_tag_data(options, Vocabulary(prior["vocabulary"]) if prior else None,
                         prior["classes"] if prior else None)
    spec = prior or {"encoder": options["encoder"], "encoder_options": encoder_options(options, explicit),
                     "head": "token", "head_options": {}, "classes": data.classes,
                     "lowercase": options["lowercase"], "max_len": options["max_len"],
                     "vocabulary": data.vocab.tokens}
    torch.manual_seed(options["seed"])
    model = build_model(spec)
    loss = PerTokenLoss(LOSSES.build("cross-entropy", ignore_index=IGNORE_INDEX))
    run_dir, report = fit_and_test("tag", options, resume, model, spec, data, train_options, loss_fn=loss,
                                   loader_factory=lambda opts, gen: text_loaders(data, opts, gen, options["bucket"]))
    report.update(entity_scores(model, data.test, data.classes))
    baseline = None
    if options.get("baseline", True):  # recomputed on --resume: it takes a second
        baseline = tag_baseline(data.train.ids, data.train.targets, data.test.ids, data.test.targets,
                                data.classes, unknown=UNK_ID)
    record_baseline(run_dir, report, baseline)
    return run_dir, report


def predict_tags(model: nn.Module, ids: list[list[int]], tags: list[str], batch_size: int = 256) -> list[list[str]]:
    """The tag of every token of every sentence, in the order given."""
    model.eval()
    predicted = []
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            chunk = ids[start: start + batch_size]
            (tokens, lengths), _ = pad_batch([(i, 0) for i in chunk])
            best = model(tokens, lengths).argmax(-1)
            predicted += [[tags[j] for j in best[row, : len(i)].tolist()] for row, i in enumerate(chunk)]
    return predicted


def entity_scores(model: nn.Module, dataset: TokenDataset, tags: list[str]) -> dict[str, Any]:
    """Entity-level precision, recall and F1 (seqeval, BIO) over the sentences of `dataset`."""
    truth = [[tags[t] for t in row] for row in dataset.targets]
    return entity_metrics(truth, predict_tags(model, dataset.ids, tags) if truth else [])


def evaluate_run(run_dir: Path, record: dict[str, Any], data: str | None, split: str | None, as_json: bool) -> None:
    """Token and entity metrics of a trained tagger on a split of its data or on another file (all of it)."""
    from taskkit.train.engine import evaluate
    from taskkit.report.metrics import classification_report

    options, split = evaluation_split(run_dir, data, split)
    if data:
        options = {**options, "data": data, "train": None}
    spec = record["model"]
    loaded = load_tag_data(options, Vocabulary(spec["vocabulary"]), spec["classes"], whole=split == "all")
    warn_skipped(loaded.skipped)
    dataset = loaded.test if split == "all" else getattr(loaded, split)
    model = load_model(run_dir, record)
    loss = PerTokenLoss(LOSSES.build("cross-entropy", ignore_index=IGNORE_INDEX))
    result = evaluate(model, evaluation_loader(dataset), loss, step_options(TrainOptions(), resolve_device("cpu")))
    report = classification_report(result.logits, result.targets, spec["classes"])
    report.update(entity_scores(model, dataset, spec["classes"]))
    report_and_print(run_dir, report, as_json)


def predict_sentences(run_dir: Path, record: dict[str, Any], sentences: list[str], as_json: bool) -> None:
    """Each sentence's tokens with their tags: `John/B-PER lives/O in/O Paris/B-LOC`."""
    spec = record["model"]
    split = TOKENIZERS.build("words", lowercase=False)
    words = [split(s)[: spec["max_len"]] for s in sentences]
    vocab = Vocabulary(spec["vocabulary"])
    ids = [vocab.encode([w.lower() if spec["lowercase"] else w for w in row]) or [UNK_ID] for row in words]
    tagged = predict_tags(load_model(run_dir, record), ids, spec["classes"])
    print_tags(sentences, list(zip(words, tagged)), as_json)
