"""Segmentation on the generated shapes: the mean IoU each decoder reaches, and in what time.

Writes the shapes dataset (`tk data shapes`), then trains each configuration with `tk segment`
on it and reads the test report from the run. Every step is a `tk` command a user can type.
The defaults are the ones docs/benchmarks.md records: 400 images of 64x64 (320 to train),
U-Net on ResNet-18 and SegNet on its small encoder, each for 12 epochs with `ce+dice`.
Run: `python benchmarks/segment_shapes.py [--count 400] [--epochs 12] [--out runs/segment-shapes]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = {
    "unet": ["--backbone", "resnet18", "--head", "unet"],
    "unet-transposed": ["--backbone", "resnet18", "--head", "unet", "--upsample", "transposed"],
    "segnet": ["--backbone", "segnet_small", "--head", "segnet"],
    "fcn": ["--backbone", "resnet18", "--head", "fcn"],
    "psp": ["--backbone", "resnet18", "--head", "psp"],
}


def tk(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "taskkit", *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"tk {' '.join(args)} failed: {result.stderr.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--configs", nargs="+", default=["unet", "segnet"], choices=list(CONFIGS))
    parser.add_argument("--extra", default="--batch-size 8 --loss ce+dice --aug none",
                        help="options given to every run")
    parser.add_argument("--out", type=Path, default=Path("runs/segment-shapes"))
    args = parser.parse_args()
    data = args.out / "data"
    if data.exists():
        shutil.rmtree(data)
    tk("data", "shapes", str(data), "--count", str(args.count))
    print("| decoder | options | epochs | mean IoU | mean Dice | pixel accuracy | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.configs:
        started = time.perf_counter()
        tk("segment", "--data", str(data), *CONFIGS[name], *args.extra.split(), "--epochs", str(args.epochs),
           "--out", str(args.out), "--name", name, "--quiet")
        seconds = time.perf_counter() - started
        report = json.loads((args.out / name / "run.json").read_text())["metrics"]["test"]
        print(f"| {name} | `{' '.join(CONFIGS[name] + args.extra.split())}` | {args.epochs} | {report['mean_iou']:.3f} "
              f"| {report['mean_dice']:.3f} | {report['pixel_accuracy']:.3f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
