"""The figures and numbers of docs/recipe.md, regenerated from real `tk` runs.

Every step is a `tk` command a user can type; this script only runs them, copies the plots
they write into docs/recipe/ and draws the comparison charts from their run.json and
metrics.csv files. The numbers it prints (and writes to docs/recipe/figures.json) are the
ones the page quotes. About ten minutes on two CPU cores.
Run: `python docs/recipe_figures.py [--work runs/recipe] [--out docs/recipe]`.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REGULARISERS = {
    "none": ["--weight-decay", "0"],
    "dropout 0.5": ["--weight-decay", "0", "--dropout", "0.5"],
    "weight decay 0.5": ["--weight-decay", "0.5"],
    "l1 1e-4": ["--weight-decay", "0", "--l1", "1e-4"],
    "mixup 0.4": ["--weight-decay", "0", "--mixup", "0.4"],
    "cutmix 1.0": ["--weight-decay", "0", "--cutmix", "1.0"],
    "ema 0.95": ["--weight-decay", "0", "--ema", "0.95"],
}
#: A tenth of digits to train on (about 180 images) and 40 epochs: LeNet overfits, and its
#: validation loss turns back up after about 16 epochs.
OVERFIT = ["--data", "digits", "--backbone", "lenet", "--val-split", "0.45", "--test-split", "0.45",
           "--epochs", "40", "--label-smoothing", "0", "--quiet"]
BALANCES = {"none": ["--balance", "none"], "oversample": ["--balance", "oversample"],
            "class-weights": ["--balance", "class-weights"], "focal": ["--loss", "focal"]}


def tk(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "taskkit", *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"tk {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def fresh(path: Path) -> Path:
    """`path` gone, so the command writes there anew instead of beside (or resuming) an old run."""
    if path.exists():
        shutil.rmtree(path)
    return path


def run_json(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def paired_bars(groups: list[str], series: dict[str, list[float]], path: Path, legend: str, **axes) -> None:
    """Side-by-side bars: one group per entry of `groups`, one bar in it per series."""
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        offset = (i - (len(series) - 1) / 2) * width
        ax.bar([g + offset for g in range(len(groups))], values, width, label=label)
    ax.set_xticks(range(len(groups)), groups)
    ax.set(**axes)
    ax.legend(loc=legend)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def augmentations(work: Path, out: Path, numbers: dict) -> None:
    tk("data", "shapes", str(fresh(work / "shapes")), "--count", "16", "--seed", "3")
    target = out / "aug_preview.png"
    target.unlink(missing_ok=True)
    tk("aug", "preview", "--data", str(work / "shapes"), "--aug", "hflip,rotate=30,color-jitter",
       "--img-size", "96", "--out", str(target))


def lr_finder(work: Path, out: Path, numbers: dict) -> None:
    fresh(work / "lr-find-classify")
    result = json.loads(tk("lr-find", "classify", "--data", "digits", "--quiet", "--out", str(work), "--json"))
    shutil.copy(result["plot"], out / "lr_find.png")
    numbers["lr_find"] = {k: result[k] for k in ("suggested_lr", "min_loss_lr", "steps_run")}


def regularisation(work: Path, out: Path, numbers: dict) -> None:
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
    numbers["regularisation"] = {}
    for label, extra in REGULARISERS.items():
        name = "reg-" + label.replace(" ", "-")
        fresh(work / name)
        tk("classify", *OVERFIT, *extra, "--out", str(work), "--name", name)
        rows = list(csv.DictReader(open(work / name / "metrics.csv")))
        epochs = [int(r["epoch"]) for r in rows]
        acc_ax.plot(epochs, [float(r["val_acc"]) for r in rows], label=label)
        loss_ax.plot(epochs, [float(r["val_loss"]) for r in rows], label=label)
        record = run_json(work / name)
        numbers["regularisation"][label] = {
            "test_accuracy": record["metrics"]["test"]["accuracy"], "best_epoch": record["best_epoch"],
            "lowest_val_loss": min(float(r["val_loss"]) for r in rows), "final_val_loss": float(rows[-1]["val_loss"])}
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy", ylim=(0.8, 1.0))
    loss_ax.set(xlabel="epoch", ylabel="validation loss", title="validation loss", ylim=(0, 1.0))
    for ax in (acc_ax, loss_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("LeNet on a tenth of digits, 40 epochs", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "regularisation.png", dpi=100)
    plt.close(fig)


def eights_manifest(work: Path) -> Path:
    """Digits as PNG files labelled `8` or `other`: a natural 1:9 imbalance."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = work / "eights"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["path,label"]
    for i, (image, target) in enumerate(zip(digits.images, digits.target)):
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(folder / f"{i:04d}.png")
        lines.append(f"eights/{i:04d}.png,{'8' if target == 8 else 'other'}")
    manifest = work / "eights.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def imbalance(work: Path, out: Path, numbers: dict) -> None:
    manifest = eights_manifest(work)
    recalls = {}
    for label, extra in BALANCES.items():
        name = f"balance-{label}"
        fresh(work / name)
        tk("classify", "--data", str(manifest), "--backbone", "lenet", "--img-size", "8", "--epochs", "3",
           "--quiet", *extra, "--out", str(work), "--name", name)
        per_class = run_json(work / name)["metrics"]["test"]["per_class"]
        recalls[label] = {c: per_class[c]["recall"] for c in ("8", "other")}
    numbers["imbalance"] = recalls
    paired_bars(list(recalls), {f"recall of '{c}'": [r[c] for r in recalls.values()] for c in ("8", "other")},
                out / "imbalance.png", legend="lower right", ylim=(0, 1.05), ylabel="test recall",
                title="digit 8 against the rest (1:9), LeNet, 3 epochs")


def cross_validation(work: Path, out: Path, numbers: dict) -> None:
    fresh(work / "cv-classify")
    summary = json.loads(tk("cv", "classify", "--data", "digits", "--folds", "5", "--epochs", "5", "--quiet",
                            "--out", str(work), "--json"))
    metrics = summary["metrics"]
    numbers["cv"] = {k: {"mean": metrics[k]["mean"], "std": metrics[k]["std"]} for k in ("val_acc", "test_accuracy")}
    series = {f"{key}: {metrics[key]['mean']:.3f} ± {metrics[key]['std']:.3f}": metrics[key]["values"]
              for key in ("val_acc", "test_accuracy")}
    paired_bars([f"fold {i + 1}" for i in range(summary["folds"])], series, out / "cv.png", legend="best",
                ylim=(0.9, 1.0), ylabel="accuracy", title="5-fold cross-validation, LeNet on digits")


def tuning(work: Path, out: Path, numbers: dict) -> None:
    fresh(work / "tune-classify")
    results = json.loads(tk("tune", "classify", "--data", "digits", "--trials", "16", "--epochs", "4", "--quiet",
                            "--param", "lr=loguniform(1e-4,1e-1)", "--param", "dropout=uniform(0,0.5)",
                            "--out", str(work), "--json"))
    shutil.copy(Path(results["study_dir"]) / "history.png", out / "tune_history.png")
    states = [t["state"] for t in results["trials"]]
    numbers["tune"] = {"best_value": results["best"]["value"], "best_params": results["best"]["params"],
                       "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED")}


def tta(work: Path, out: Path, numbers: dict) -> None:
    run = work / "reg-none"
    plain = json.loads(tk("eval", str(run), "--json"))["test"]["accuracy"]
    flipped = json.loads(tk("eval", str(run), "--tta", "hflip", "--json"))["test"]["accuracy"]
    numbers["tta_digits"] = {"plain": plain, "hflip": flipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/recipe"))
    parser.add_argument("--out", type=Path, default=Path("docs/recipe"))
    parser.add_argument("--only", nargs="*", default=None,
                        help="augmentations lr_finder regularisation imbalance cross_validation tuning tta")
    args = parser.parse_args()
    if args.work.exists() and args.only is None:
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = args.out / "figures.json"
    numbers = json.loads(figures.read_text()) if figures.exists() else {}
    steps = [augmentations, lr_finder, regularisation, imbalance, cross_validation, tuning, tta]
    for step in steps:
        if args.only is None or step.__name__ in args.only:
            step(args.work, args.out, numbers)
            print(f"{step.__name__}: done", file=sys.stderr)
    figures.write_text(json.dumps(numbers, indent=2) + "\n")
    print(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
