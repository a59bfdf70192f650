"""Training throughput of `--channels-last`, `--compile` and `--precision bf16-mixed`, through tk and by hand.

For each setting (none, each option alone, all together) this runs `tk classify` exactly as
a user types it and reads the epoch times from its metrics.csv, then a hand-written loop
with the same model (built from tk's registry, so the network is identical), data, batch
size, optimizer and options: `model.to(memory_format=torch.channels_last)` and NHWC
batches, `torch.compile(model)`, `torch.autocast(dtype=torch.bfloat16)`. Both time whole
epochs, validation included; the first epoch is dropped as warm-up, which for `--compile` is
where compiling happens (its length is printed separately). Throughput is training images
per second of epoch time.

On a CPU the default is resnet18 on digits resized to 64x64; on a GPU, pass
`--backbone resnet50 --img-size 224`. A CPU without native bfloat16 (no AVX-512 BF16 or AMX)
runs bf16-mixed many times slower than float32; `--classes 0,1` shortens each epoch to a fifth
for such a run. Run: `python benchmarks/fast_paths.py [--epochs 3] [--backbone resnet18]
[--img-size 64] [--device cpu] [--settings plain,channels-last,...] [--classes 0,1]`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from taskkit.cli.app import main as tk_main
from taskkit.data import load_image_data
from taskkit.tasks.classify.run import build_model

SETTINGS = {
    "plain": [],
    "channels-last": ["--channels-last"],
    "compile": ["--compile"],
    "bf16-mixed": ["--precision", "bf16-mixed"],
    "all": ["--channels-last", "--compile", "--precision", "bf16-mixed"],
}


def tk_epoch_times(args: argparse.Namespace, flags: list[str], out: Path) -> list[float]:
    command = ["classify", "--data", "digits", "--backbone", args.backbone, "--img-size", str(args.img_size),
               "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--device", args.device,
               "--precision", "32", *flags, "--out", str(out), "--name", "bench", "--quiet", "--json"]
    if args.classes:
        command += ["--classes", args.classes]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            tk_main(command)
    except SystemExit as exit_:
        assert exit_.code in (0, None), f"tk exited with {exit_.code}"
    with open(out / "bench" / "metrics.csv") as handle:
        return [float(row["time"]) for row in csv.DictReader(handle)]


def hand_epoch_times(args: argparse.Namespace, flags: list[str], data, train: TensorDataset,
                     val: TensorDataset) -> list[float]:
    """The loop a careful user writes, with each option done the way PyTorch's documentation shows."""
    device = torch.device(args.device)
    spec = {"backbone": args.backbone, "backbone_options": {}, "head": "linear", "head_options": {"dropout": 0.0},
            "in_channels": data.in_channels, "img_size": data.img_size, "classes": data.classes}
    torch.manual_seed(0)
    model = build_model(spec).to(device)
    memory_format = torch.channels_last if "--channels-last" in flags else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    trained = torch.compile(model) if "--compile" in flags else model
    dtype = torch.bfloat16 if "bf16-mixed" in flags else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val, batch_size=args.batch_size)

    def autocast():
        return torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()

    times = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        model.train()
        for x, y in train_loader:
            x, y = x.to(device, memory_format=memory_format), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(trained(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad(), autocast():
            for x, y in val_loader:
                (model(x.to(device, memory_format=memory_format)).argmax(1) == y.to(device)).sum().item()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--classes", help="train on these digits only, e.g. 0,1 (a shorter epoch)")
    args = parser.parse_args()
    data = load_image_data("digits", img_size=args.img_size, seed=0,
                           keep_classes=args.classes.split(",") if args.classes else None)
    as_tensors = lambda d: TensorDataset(*map(torch.stack, zip(*((x, torch.tensor(y)) for x, y in d))))  # noqa: E731
    train, val = as_tensors(data.train), as_tensors(data.val)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
          f"{platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {args.device}")
    print(f"{args.backbone} at {args.img_size}x{args.img_size}, batch {args.batch_size}, {len(train)} training and "
          f"{len(val)} validation images per epoch; median of epochs 2..{args.epochs}")
    print("setting        tk img/s  hand img/s  tk/hand  tk first epoch")
    baseline = None
    for name in args.settings.split(","):
        flags = SETTINGS[name]
        with tempfile.TemporaryDirectory() as out:
            tk_times = tk_epoch_times(args, flags, Path(out))
        hand_times = hand_epoch_times(args, flags, data, train, val)
        tk_rate, hand_rate = (len(train) / statistics.median(t[1:]) for t in (tk_times, hand_times))
        baseline = baseline or tk_rate
        print(f"{name:<14} {tk_rate:8.1f}  {hand_rate:10.1f}  {tk_rate / hand_rate:7.3f}  {tk_times[0]:8.1f} s"
              f"   ({tk_rate / baseline:.2f}x plain)", flush=True)


if __name__ == "__main__":
    main()
