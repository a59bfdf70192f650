"""Epoch time through `tk classify` against a minimal hand-written PyTorch loop.

Both train the same LeNet on the same digits data with the same seed, batch size,
optimizer, schedule and loss (cross-entropy with tk's default label smoothing of 0.1), and
both compute validation loss and accuracy after each epoch. tk's epoch times come from the
`time` column of its metrics.csv; the hand loop times itself the same way.

Both run in this one process, alternately, with one intra-op thread: on a small virtual
machine, separate processes and two threads make single runs swing by a third, which would
drown the difference being measured. The first epoch of every run is dropped as warm-up.
Run: `python benchmarks/overhead.py [--epochs 8] [--repeats 5]`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from taskkit.backbone import BackboneWithHead
from taskkit.cli.app import main as tk_main
from taskkit.data import load_image_data
from taskkit.registries import BACKBONES, HEADS

SETTINGS = {"batch_size": 32, "lr": 3e-3, "weight_decay": 1e-4, "seed": 0}


def tk_epoch_times(epochs: int, out: Path) -> list[float]:
    """`tk classify` exactly as a user types it, then its per-epoch times from metrics.csv."""
    args = ["classify", "--data", "digits", "--backbone", "lenet", "--epochs", str(epochs),
            "--batch-size", str(SETTINGS["batch_size"]), "--lr", str(SETTINGS["lr"]),
            "--weight-decay", str(SETTINGS["weight_decay"]), "--seed", str(SETTINGS["seed"]),
            "--out", str(out), "--name", "bench", "--quiet", "--device", "cpu", "--json"]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the --json report is not needed here
            tk_main(args)
    except SystemExit as exit_:
        assert exit_.code in (0, None), f"tk exited with {exit_.code}"
    with open(out / "bench" / "metrics.csv") as handle:
        return [float(row["time"]) for row in csv.DictReader(handle)]


def as_tensors(dataset) -> TensorDataset:
    images, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return TensorDataset(torch.stack(images), torch.tensor(labels))


def hand_epoch_times(epochs: int, train: TensorDataset, val: TensorDataset, img_size: int) -> list[float]:
    """What a careful user writes by hand: the same model, optimizer, schedule and loss."""
    torch.manual_seed(SETTINGS["seed"])
    backbone = BACKBONES.build("lenet", in_channels=1, img_size=img_size)
    model = BackboneWithHead(backbone, HEADS.build("linear", in_channels=backbone.out_channels[-1], num_outputs=10))
    optimizer = torch.optim.AdamW(model.parameters(), lr=SETTINGS["lr"], weight_decay=SETTINGS["weight_decay"])
    steps = math.ceil(len(train) / SETTINGS["batch_size"])

    def warmup_cosine(step: int) -> float:
        t = step / steps
        return t + 1e-3 if t < 1 else 0.5 * (1 + math.cos(math.pi * (t - 1) / (epochs - 1)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    generator = torch.Generator()
    train_loader = DataLoader(train, batch_size=SETTINGS["batch_size"], shuffle=True, generator=generator)
    val_loader = DataLoader(val, batch_size=SETTINGS["batch_size"])
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        generator.manual_seed(SETTINGS["seed"] * 1000 + epoch)
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        correct, val_loss = 0, 0.0
        with torch.no_grad():
            for x, y in val_loader:
                logits = model(x)
                val_loss += loss_fn(logits, y).item() * len(y)
                correct += (logits.argmax(1) == y).sum().item()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_image_data("digits", min_img_size=28, seed=SETTINGS["seed"])
    train, val = as_tensors(data.train), as_tensors(data.val)
    tk_times, hand_times = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            tk_run = tk_epoch_times(args.epochs, Path(out))[1:]
        hand_run = hand_epoch_times(args.epochs, train, val, data.img_size)[1:]
        print(f"  run: tk {statistics.median(tk_run):.4f} s, hand {statistics.median(hand_run):.4f} s", flush=True)
        tk_times += tk_run
        hand_times += hand_run
    tk_median, hand_median = statistics.median(tk_times), statistics.median(hand_times)
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"torch {torch.__version__}, 1 thread")
    print(f"epochs timed: {len(tk_times)} per side ({args.repeats} runs of {args.epochs}, first epoch dropped)")
    print(f"tk classify   median epoch {tk_median:.4f} s")
    print(f"hand loop     median epoch {hand_median:.4f} s")
    print(f"ratio tk / hand: {tk_median / hand_median:.3f}")


if __name__ == "__main__":
    main()
