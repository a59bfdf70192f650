"""Each classic backbone trained from scratch on digits for 5 epochs: test accuracy and epoch time.

Every run is `tk classify --data digits --backbone NAME --epochs 5` with the default options, so
each backbone gets digits at its own minimum input size and its small-input stem.
Run: `python benchmarks/zoo_digits.py [NAME ...]`; prints one Markdown table row per backbone.
"""

from __future__ import annotations

import csv
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT = ["lenet", "resnet18", "vgg11_bn", "mobilenet_v2", "shufflenet_v2", "squeezenet", "googlenet", "nin"]


def run(name: str, out: Path, epochs: int = 5) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "taskkit", "classify", "--data", "digits", "--backbone", name,
         "--epochs", str(epochs), "--quiet", "--json", "--out", str(out), "--name", name],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        return {"name": name, "error": result.stderr.strip().splitlines()[-1]}
    test = json.loads(result.stdout)["test"]
    record = json.loads((out / name / "run.json").read_text())
    times = [float(r["time"]) for r in csv.DictReader(open(out / name / "metrics.csv"))]
    return {"name": name, "accuracy": test["accuracy"], "img_size": record["model"]["img_size"],
            "epoch_time": sum(times) / len(times)}


def main() -> None:
    names = sys.argv[1:] or DEFAULT
    print(f"machine: {platform.machine()}, CPython {platform.python_version()}")
    print("| backbone | input | test accuracy | seconds per epoch |\n| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as out:
        for name in names:
            row = run(name, Path(out))
            if "error" in row:
                print(f"| {name} | - | failed: {row['error']} | - |", flush=True)
            else:
                print(f"| {name} | {row['img_size']}x{row['img_size']} | {row['accuracy']:.3f} | "
                      f"{row['epoch_time']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
