"""Test accuracy of `tk text --data reviews.csv`, no other option, against a hand-written BiLSTM.

The claim under test: tk's defaults are what a careful engineer would choose for sentence-level
data of about ten thousand examples, so typing nothing but `--data` should do as well as a
well-written BiLSTM. The corpus is generated (`write_reviews`) so that word counting is not
enough: each review has one to three clauses, each with one sentiment word that "not",
"never" or "hardly" may flip, and a clause after "but" decides the label; without "but" the
majority of the clauses does. Lengths are long-tailed, and 2% of the labels are flipped, so
about 98% is the best any model can score.

The hand model is the textbook one: its own vocabulary of every train-split word, a 128-wide
embedding, a packed BiLSTM of 128 per direction whose final states are concatenated, dropout
0.5, Adam at 1e-3, gradient norm clipped at 5, random batches of 32, 10 epochs, and the test
score of the epoch best on validation. Both use the same train/validation/test split (tk's,
from its seed). Run: `python benchmarks/text_defaults.py [--seeds 0 1 2] [--reviews 10000]`;
`--write FILE` only writes the corpus (the walk-through in docs/text.md uses it).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import io
import json
import platform
import random
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.data import DataLoader

from taskkit.cli.app import main as tk_main
from taskkit.data.splits import stratified_splits
from taskkit.tasks.text import Text

DEFAULTS = Text.declaration().defaults()  # what `tk text` runs with when given nothing
from taskkit.text.batching import TokenDataset, pad_batch

NEUTRAL = ("the film movie story plot script cast actor actress director camera music score scene scenes ending "
           "opening dialogue character characters pacing editing effects set costumes sound performance lead "
           "hero villain sequel premise twist runtime hour minutes second half first act finale screen studio "
           "audience critics friends family weekend cinema theatre version cut trailer budget a an this that it "
           "was is were felt seemed looked came turned out to be of in on at with for from by about as its his "
           "her their our my some much very quite rather really so too just also still even again overall "
           "mostly somewhat frankly honestly").split()
POSITIVE = ("good great wonderful excellent superb lovely brilliant enjoyable moving charming delightful gripping "
            "touching clever beautiful fun stunning memorable witty solid").split()
NEGATIVE = ("bad awful terrible boring dull poor horrible weak tedious clumsy bland messy flat forgettable "
            "predictable silly lifeless shallow sloppy annoying").split()
NEGATORS = ("not", "never", "hardly")


def clause(rng: random.Random) -> tuple[list[str], int]:
    """Neutral words around one sentiment word, perhaps negated; returns the words and the polarity."""
    polarity = rng.choice((1, -1))
    cue = [rng.choice(POSITIVE if polarity > 0 else NEGATIVE)]
    if rng.random() < 0.3:
        cue.insert(0, rng.choice(NEGATORS))
        polarity = -polarity
    words = [rng.choice(NEUTRAL) for _ in range(min(40, int(rng.lognormvariate(1.9, 0.6))))]
    at = rng.randint(0, len(words))
    return words[:at] + cue + words[at:], polarity


def review(rng: random.Random) -> tuple[str, str]:
    """One to three clauses; a clause after "but" decides, otherwise the majority does."""
    count = rng.choice((1, 2, 3))
    clauses = [clause(rng) for _ in range(count)]
    joined = list(clauses[0][0])
    contrast = count == 2 or (count == 3 and rng.random() < 0.5)
    for index, (words, _) in enumerate(clauses[1:], start=1):
        joined += [",", "but" if contrast and index == count - 1 else "and", *words]
    polarities = [p for _, p in clauses]
    label = polarities[-1] if contrast else (1 if sum(polarities) > 0 else -1)
    if rng.random() < 0.02:
        label = -label
    return " ".join(joined).capitalize() + ".", "positive" if label > 0 else "negative"


def write_reviews(path: Path, count: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(review(rng) for _ in range(count))
    return path


def tk_json(args: list[str]) -> dict:
    """What `tk ARGS --json` prints, run in this process; a non-zero exit fails the benchmark."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            tk_main([*args, "--json"])
    except SystemExit as exit_:
        assert exit_.code in (0, None), f"tk {' '.join(args)} exited with {exit_.code}"
    return json.loads(buffer.getvalue())


def run_tk(corpus: Path, out: Path, seed: int) -> float:
    """Test accuracy of `tk text --data corpus` with its defaults (and the seed)."""
    return tk_json(["text", "--data", str(corpus), "--seed", str(seed), "--quiet", "--out", str(out),
                    "--name", f"tk-{seed}"])["test"]["accuracy"]


class HandBiLSTM(nn.Module):
    def __init__(self, vocab_size: int, classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 128, padding_idx=0)
        self.lstm = nn.LSTM(128, 128, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(256, classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.embedding(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, (hidden, _) = self.lstm(packed)
        return self.out(self.dropout(torch.cat([hidden[-2], hidden[-1]], dim=1)))


def hand_datasets(corpus: Path, seed: int) -> tuple[dict[str, TokenDataset], int, int]:
    """tk's split of the corpus (the same stratified split from the same seed), with its own vocabulary."""
    rows = list(csv.DictReader(open(corpus, encoding="utf-8")))
    classes = sorted({row["label"] for row in rows})
    labels = np.array([classes.index(row["label"]) for row in rows])
    parts = stratified_splits(labels, {"train": np.arange(len(rows))}, classes, DEFAULTS["val_split"],
                              DEFAULTS["test_split"], seed)
    tokens = [re.findall(r"\w+|[^\w\s]", row["text"].lower()) for row in rows]
    train_words = sorted({word for i in parts["train"] for word in tokens[i]})
    index = {word: i for i, word in enumerate(train_words, start=2)}  # 0 pads, 1 is unknown
    datasets = {split: TokenDataset([[index.get(w, 1) for w in tokens[i]] for i in idx], labels[idx].tolist())
                for split, idx in parts.items()}
    return datasets, len(index) + 2, len(classes)


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    right = total = 0
    with torch.no_grad():
        for (tokens, lengths), labels in loader:
            right += (model(tokens, lengths).argmax(1) == labels).sum().item()
            total += len(labels)
    return right / total


def run_hand(corpus: Path, seed: int, epochs: int = 10) -> float:
    """Test accuracy of the hand-written BiLSTM at its best validation epoch."""
    datasets, vocab_size, classes = hand_datasets(corpus, seed)
    torch.manual_seed(seed)
    model = HandBiLSTM(vocab_size, classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    train = DataLoader(datasets["train"], batch_size=32, shuffle=True, collate_fn=pad_batch,
                       generator=torch.Generator().manual_seed(seed))
    val, test = (DataLoader(datasets[s], batch_size=256, collate_fn=pad_batch) for s in ("val", "test"))
    best, best_state = -1.0, None
    for _ in range(epochs):
        model.train()
        for (tokens, lengths), labels in train:
            optimizer.zero_grad()
            loss_fn(model(tokens, lengths), labels).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
        score = accuracy(model, val)
        if score > best:
            best, best_state = score, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return accuracy(model, test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--write", type=Path, help="only write the corpus to this file")
    args = parser.parse_args()
    if args.write:
        write_reviews(args.write, args.reviews)
        return
    print(f"{args.reviews} generated reviews, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.machine()}")
    print("| seed | tk text (defaults) | hand BiLSTM | tk s | hand s |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        corpus = write_reviews(Path(folder) / "reviews.csv", args.reviews)
        for seed in args.seeds:
            start = time.perf_counter()
            tk_accuracy = run_tk(corpus, Path(folder), seed)
            middle = time.perf_counter()
            hand_accuracy = run_hand(corpus, seed)
            end = time.perf_counter()
            print(f"| {seed} | {tk_accuracy:.3f} | {hand_accuracy:.3f} | {middle - start:.0f} | {end - middle:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
