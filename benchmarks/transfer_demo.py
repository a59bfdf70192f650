"""Transfer learning on digits, offline: what a backbone learned on 0-4 is worth for 5-9.

1. `tk classify` trains resnet18 on the digits 0-4 (the source task) and saves the run.
2. `tk finetune --weights <that run> --freeze 3` trains only layer4 and a new head on 5-9.
3. `tk classify` trains the same resnet18 from scratch on 5-9, for the same epochs.

The target task keeps only a small training split (`--target-train`, a fraction of its
images; the rest is validation and test), as when labels are scarce, which is when transfer
matters. Both target runs see the same split, seed and number of epochs, each with its
command's default learning rate (finetune's is lower, 1e-3 against 3e-3); the table compares
their test accuracy. Every step is a `tk` command a user can type; nothing is downloaded.
Run: `python benchmarks/transfer_demo.py [--seeds 0 1 2] [--out runs/transfer-demo]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

SOURCE, TARGET = "0,1,2,3,4", "5,6,7,8,9"


def tk(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "taskkit", *args, "--quiet"], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"tk {' '.join(args)} failed: {result.stderr.strip()}")


def test_accuracy(run_dir: Path) -> float:
    return json.loads((run_dir / "run.json").read_text())["metrics"]["test"]["accuracy"]


def one_seed(seed: int, out: Path, args: argparse.Namespace) -> tuple[float, float]:
    common = ["--data", "digits", "--seed", str(seed), "--out", str(out)]
    split = ["--test-split", f"{(1 - args.target_train) / 2:.3f}", "--val-split", f"{(1 - args.target_train) / 2:.3f}"]
    source = f"source-{seed}"
    tk("classify", *common, "--classes", SOURCE, "--backbone", args.backbone, "--epochs", str(args.source_epochs),
       "--name", source)
    tk("finetune", *common, *split, "--classes", TARGET, "--weights", str(out / source), "--freeze", "3",
       "--epochs", str(args.epochs), "--name", f"finetune-{seed}")
    tk("classify", *common, *split, "--classes", TARGET, "--backbone", args.backbone, "--epochs", str(args.epochs),
       "--name", f"scratch-{seed}")
    return test_accuracy(out / f"finetune-{seed}"), test_accuracy(out / f"scratch-{seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--source-epochs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of both target runs")
    parser.add_argument("--target-train", type=float, default=0.1, help="fraction of 5-9 used for training")
    parser.add_argument("--out", type=Path, default=Path("runs/transfer-demo"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{args.backbone}: source digits 0-4 for {args.source_epochs} epochs; target digits 5-9 with "
          f"{args.target_train:.0%} of its images for training, {args.epochs} epochs each")
    print("| seed | fine-tuned (--freeze 3) | from scratch |")
    print("| --- | --- | --- |")
    results = []
    for seed in args.seeds:
        tuned, scratch = one_seed(seed, args.out, args)
        results.append((tuned, scratch))
        print(f"| {seed} | {tuned:.3f} | {scratch:.3f} |", flush=True)
    if len(results) > 1:
        print(f"| mean | {statistics.mean(r[0] for r in results):.3f} | "
              f"{statistics.mean(r[1] for r in results):.3f} |")
    print(f"runs saved under {args.out}")


if __name__ == "__main__":
    main()
