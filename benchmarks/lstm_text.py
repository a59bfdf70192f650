"""Training tokens per second of `tk text --encoder lstm` against a hand-written packed-LSTM loop.

The corpus is generated here: reviews whose lengths follow a long-tailed distribution (median
about 30 words, a few hundred at most), as real reviews do, since that is where padding
costs and bucketing pays. Three measurements, in this one process and one thread:

- tk: `tk text` as a user types it (bucketed batches, the default), from its metrics.csv;
- tk --no-bucket: the same with random batches, for the gain of bucketing;
- hand: a BiLSTM written directly in PyTorch with packed sequences, random batches of the
  same size, the same embedding, hidden size, dropout, max pooling, optimizer, clipping and
  loss, over the same token ids (tk's vocabulary), so only the training loop differs.

Validation is off (`--val-split 0`) so an epoch is training only. Tokens per second count real
tokens, not padding. The three run in turn, round after round, and each round's second epoch
is the one timed (the first warms up), so a machine that slows down during the run slows all
three alike. Run: `python benchmarks/lstm_text.py [--reviews 4000] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.data import DataLoader

from taskkit.cli.app import main as tk_main
from taskkit.registries import TOKENIZERS
from taskkit.tasks.text import Text

DEFAULTS = Text.declaration().defaults()  # what `tk text` runs with when given nothing
from taskkit.text.batching import pad_batch
from taskkit.text.data import load_text_data

WORDS = ["the", "film", "plot", "actor", "scene", "story", "was", "and", "a", "it", "with", "this", "of",
         "music", "ending", "cast", "director", "in", "on", "but", "quite", "really", "very", "some"]
CUES = {"positive": ["good", "great", "wonderful", "superb"], "negative": ["bad", "awful", "dull", "boring"]}
BATCH, EMBED, HIDDEN, LR = 32, 128, 128, 2e-3


def write_corpus(path: Path, count: int) -> None:
    rng = random.Random(0)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(count):
            label = rng.choice(list(CUES))
            length = min(400, max(3, int(rng.lognormvariate(3.4, 0.8))))
            words = [rng.choice(WORDS) for _ in range(length)]
            words.insert(rng.randint(0, length), rng.choice(CUES[label]))
            writer.writerow([" ".join(words), label])


def tk_epoch_times(corpus: Path, out: Path, epochs: int, bucket: bool) -> list[float]:
    name = "bucket" if bucket else "random"
    args = ["text", "--data", str(corpus), "--encoder", "lstm", "--val-split", "0", "--epochs", str(epochs),
            "--batch-size", str(BATCH), "--quiet", "--device", "cpu", "--out", str(out), "--name", name, "--json",
            "--bucket" if bucket else "--no-bucket"]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            tk_main(args)
    except SystemExit as exit_:
        assert exit_.code in (0, None), f"tk exited with {exit_.code}"
    with open(out / name / "metrics.csv") as handle:
        return [float(row["time"]) for row in csv.DictReader(handle)][1:]


class HandBiLSTM(nn.Module):
    """What a careful user writes: embedding, packed BiLSTM, masked max pooling, linear; tk's dropouts."""

    def __init__(self, vocab_size: int, classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, EMBED, padding_idx=0)
        self.embedding_dropout = nn.Dropout(0.2)
        self.lstm = nn.LSTM(EMBED, HIDDEN, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.3)
        self.out = nn.Linear(2 * HIDDEN, classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding_dropout(self.embedding(tokens))
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        outputs, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=tokens.shape[1])
        mask = (torch.arange(tokens.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
        pooled = self.dropout(outputs).masked_fill(~mask, float("-inf")).max(1).values
        return self.out(pooled)


def hand_epoch_times(corpus: Path, epochs: int) -> list[float]:
    options = {**DEFAULTS, "data": str(corpus), "val_split": 0.0}
    data = load_text_data(options, TOKENIZERS.build("words"))
    torch.manual_seed(0)
    model = HandBiLSTM(len(data.vocab), len(data.classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    loader = DataLoader(data.train, batch_size=BATCH, shuffle=True, collate_fn=pad_batch,
                        generator=torch.Generator().manual_seed(0))
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for (tokens, lengths), labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(tokens, lengths), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three measurements")
    args = parser.parse_args()
    torch.set_num_threads(1)
    times: dict[str, list[float]] = {"hand": [], "tk": [], "tk --no-bucket": []}
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "reviews.csv"
        write_corpus(corpus, args.reviews)
        data = load_text_data({**DEFAULTS, "data": str(corpus), "val_split": 0.0}, TOKENIZERS.build("words"))
        tokens = sum(data.train.lengths())
        for round_ in range(args.rounds):
            times["hand"] += hand_epoch_times(corpus, 2)
            times["tk"] += tk_epoch_times(corpus, Path(folder) / str(round_), 2, bucket=True)
            times["tk --no-bucket"] += tk_epoch_times(corpus, Path(folder) / str(round_), 2, bucket=False)
    rates = {name: tokens / statistics.median(seconds) for name, seconds in times.items()}
    print(f"{args.reviews} reviews, {tokens} training tokens, batch {BATCH}, BiLSTM {EMBED}/{HIDDEN}, "
          f"torch {torch.__version__}, 1 thread, {platform.machine()}, median of {args.rounds} rounds")
    for name, rate in rates.items():
        print(f"{name:>15}: {rate:,.0f} tokens/s  (epochs: {', '.join(f'{t:.1f} s' for t in times[name])})")
    print(f"tk / hand: {rates['tk'] / rates['hand']:.2f}; tk --no-bucket / hand: "
          f"{rates['tk --no-bucket'] / rates['hand']:.2f}; bucketing gain: {rates['tk'] / rates['tk --no-bucket']:.2f}")


if __name__ == "__main__":
    main()
