"""Labelled texts into train/val/test token datasets, with the vocabulary of the train split.

One file is split like images (stratified, by seed); `--train` with optional `--val` and
`--test` files keeps the user's split and carves only what is missing. Texts are tokenized
once, truncated to `max_len` tokens, and encoded with a vocabulary built from the train
split alone, or with a trained run's vocabulary for evaluation. A trainable tokenizer (`bpe`,
`wordpiece`) is fitted here, for a new run, on the train split's texts alone, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from taskkit.data.splits import stratified_splits
from taskkit.data.time_order import time_column, time_keys, time_splits
from taskkit.errors import BadInputError
from taskkit.sequence import UNK_ID
from taskkit.text.batching import TokenDataset
from taskkit.text.ids import text_ids
from taskkit.text.table import TextTable, read_table
from taskkit.text.tokenizing import is_trainable
from taskkit.text.vocab import Vocabulary


@dataclass
class TextData:
    """Token datasets per split and what a run records about them."""

    train: TokenDataset
    val: TokenDataset
    test: TokenDataset
    classes: list[str]
    vocab: Vocabulary
    skipped: list[tuple[int, str]]
    source: str
    #: The raw texts of each split, for a classical baseline that reads them its own way.
    texts: dict[str, list[str]] = field(default_factory=dict)

    def train_targets(self) -> list[int]:
        return list(self.train.targets)


def natural_order(labels: set[str]) -> list[str]:
    """Class names sorted as numbers when they all are (so 2 comes before 10), else as text."""
    if all(label.lstrip("-").isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def encode(texts: list[str], tokenize: Callable[[str], list[str]], vocab: Vocabulary, max_len: int) -> list[list[int]]:
    """Token ids per text, truncated to `max_len`; a text with no token becomes one unknown token."""
    return [text_ids(tokenize(text), vocab.index, UNK_ID, max_len) for text in texts]


def load_text_data(options: dict[str, Any], tokenize: Callable[[str], list[str]],
                   vocab: Vocabulary | None = None, classes: list[str] | None = None,
                   whole: bool = False) -> TextData:
    """Read, split, tokenize and encode; `vocab` and `classes` are a trained run's, `whole` puts everything in test."""
    if options["max_len"] < 1:
        raise BadInputError(f"--max-len must be positive, got {options['max_len']}")
    tables = _read_tables(options)
    texts = [t for table in tables.values() for t in table.texts]
    labels = [label for table in tables.values() for label in table.labels]
    found = set(labels)
    if classes is None:
        classes = natural_order(found)
        if len(classes) < 2:
            raise BadInputError(f"{tables['train'].source} has one class only ('{classes[0]}'); "
                                f"classification needs at least 2 (check --label-col)")
    unknown = sorted(found - set(classes))
    if unknown:
        raise BadInputError(f"the data has class '{unknown[0]}' that the trained run does not know "
                            f"(its classes: {', '.join(classes[:10])})")
    targets = np.array([classes.index(label) for label in labels], dtype=np.int64)
    parts = _split(tables, targets, classes, options, whole)
    trainable = vocab is None and is_trainable(tokenize)
    if trainable:
        tokenize.fit([texts[i] for i in parts["train"]])  # type: ignore[attr-defined]
    tokens = [tokenize(text)[: options["max_len"]] for text in texts]
    if vocab is None:
        # Every piece a trained tokenizer cuts the training split into is kept: it already chose
        # its pieces by frequency, and a piece dropped here could leave a training word unspellable.
        min_freq = 1 if trainable else options["min_freq"]
        vocab = Vocabulary.build((tokens[i] for i in parts["train"]), min_freq, options["max_vocab"])
    ids = [text_ids(t, vocab.index, UNK_ID, options["max_len"]) for t in tokens]
    datasets = {split: TokenDataset([ids[i] for i in idx], targets[idx].tolist()) for split, idx in parts.items()}
    skipped = [s for table in tables.values() for s in table.skipped]
    return TextData(datasets["train"], datasets["val"], datasets["test"], classes, vocab, skipped,
                    ", ".join(sorted({t.source for t in tables.values()})),
                    {split: [texts[i] for i in idx] for split, idx in parts.items()})


def _read_tables(options: dict[str, Any]) -> dict[str, TextTable]:
    read = {"text_col": options["text_col"], "label_col": options["label_col"], "encoding": options["encoding"],
            "strict": options["strict"], "time_col": time_column(options)}
    if options.get("train"):
        tables = {"train": read_table(options["train"], **read)}
        for split in ("val", "test"):
            if options.get(split):
                tables[split] = read_table(options[split], **read)
        return tables
    if not options.get("data"):
        raise BadInputError("pass --data FILE (a .csv, .tsv or .jsonl of texts and labels), or --train FILE")
    return {"train": read_table(options["data"], **read)}


def given_splits(sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Index ranges of the files read one after another (train first), by split."""
    given, start = {}, 0
    for split, size in sizes.items():
        given[split] = np.arange(start, start + size)
        start += size
    return given


def everything_in_test(count: int) -> dict[str, np.ndarray]:
    """The split `tk eval --split all` reads: every item in test."""
    empty = np.array([], dtype=np.int64)
    return {"train": empty, "val": empty, "test": np.arange(count)}


def _split(tables: dict[str, TextTable], targets: np.ndarray, classes: list[str], options: dict[str, Any],
           whole: bool) -> dict[str, np.ndarray]:
    if whole:
        return everything_in_test(len(targets))
    given = given_splits({split: len(table.texts) for split, table in tables.items()})
    if time_column(options):
        times = [t for table in tables.values() for t in table.times]
        where = [f"{table.source} line {n}" for table in tables.values() for n in table.lines]
        return time_splits(time_keys(times, where.__getitem__), given, options["val_split"], options["test_split"],
                           noun="example")
    return stratified_splits(targets, given, classes, options["val_split"], options["test_split"], options["seed"],
                             noun="example")
