"""The figures and numbers of docs/tutorials/fitting.md: an underfitted, an overfitted and a
well-fitted classifier on scikit-learn's digits, read from their train and validation curves.

Three `tk classify` runs (softmax regression, LeNet on a small training split for 40 epochs,
LeNet on the default split), then `loss.png` and `accuracy.png` drawn from their metrics.csv
and `numbers.json` from their run.json.
About 2 minutes on 2 idle CPU cores (5 when they were busy with other jobs).
Run: `python docs/tutorials/fitting.py [--work runs/tutorials/fitting] [--out docs/tutorials/fitting]`.
"""

from __future__ import annotations

from pathlib import Path

from common import arguments, fresh, history, plt, run_json, tk, write_numbers

#: Nothing that regularises or softens the loss, so the curves show the model alone.
PLAIN = ["--data", "digits", "--label-smoothing", "0", "--weight-decay", "0", "--quiet"]
#: label -> (run name, options). The first is too simple a model, the second too little data
#: for too long, the third the default LeNet run.
RUNS = {
    "underfit: linear": ("underfit", ["--backbone", "linear", "--epochs", "15"]),
    "overfit: LeNet, 10% train": ("overfit", ["--backbone", "lenet", "--val-split", "0.45",
                                               "--test-split", "0.45", "--epochs", "40"]),
    "good fit: LeNet": ("goodfit", ["--backbone", "lenet", "--epochs", "15"]),
}


def train(work: Path) -> dict[str, Path]:
    """Run each command of RUNS into a fresh run directory; label -> run directory."""
    dirs = {}
    for label, (name, options) in RUNS.items():
        fresh(work / name)
        tk("classify", *PLAIN, *options, "--out", work, "--name", name)
        dirs[label] = work / name
    return dirs


def summary(run_dir: Path) -> dict:
    """What the page quotes of one run: the last epoch, the lowest validation loss, the kept epoch."""
    rows = history(run_dir)
    record = run_json(run_dir)
    last = rows[-1]
    lowest = min(rows, key=lambda r: r["val_loss"])
    best = rows[record["best_epoch"] - 1]
    return {
        "epochs": len(rows),
        "train_samples": _train_samples(record),
        "final": {k: round(last[k], 4) for k in ("train_loss", "val_loss", "train_acc", "val_acc")},
        "final_gap_loss": round(last["val_loss"] - last["train_loss"], 4),
        "final_gap_acc": round(last["train_acc"] - last["val_acc"], 4),
        "lowest_val_loss": round(lowest["val_loss"], 4),
        "lowest_val_loss_epoch": int(lowest["epoch"]),
        "best_epoch": record["best_epoch"],
        "best_val_acc": round(best["val_acc"], 4),
        "best_val_loss": round(best["val_loss"], 4),
        "test_accuracy": round(record["metrics"]["test"]["accuracy"], 4),
    }


def _train_samples(record: dict) -> int:
    """Digits has 1797 images; the training split is what validation and test leave."""
    return 1797 - record["evaluated"]["val"] - record["evaluated"]["test"]


def panel(runs: dict[str, Path], metric: str, path: Path, ylabel: str, log: bool = False,
          ylim: tuple[float, float] | None = None) -> None:
    """Like common's `curves`, with a log scale or a zoom, and a dot on the epoch each run keeps."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for index, (label, run_dir) in enumerate(runs.items()):
        rows = history(run_dir)
        epochs = [r["epoch"] for r in rows]
        for split, style in (("train", "--"), ("val", "-")):
            ax.plot(epochs, [r[f"{split}_{metric}"] for r in rows], style, color=f"C{index}",
                    label=f"{label} ({split})")
        best = run_json(run_dir)["best_epoch"]
        ax.plot([best], [rows[best - 1][f"val_{metric}"]], "o", color=f"C{index}")
    ax.set(xlabel="epoch", ylabel=ylabel, title="train (dashed) and validation (solid); dot: the epoch tk keeps")
    if log:
        ax.set_yscale("log")
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def figures(runs: dict[str, Path], out: Path) -> None:
    panel(runs, "loss", out / "loss.png", "cross-entropy (log scale)", log=True)
    panel(runs, "acc", out / "accuracy.png", "accuracy", ylim=(0.8, 1.005))


def main() -> None:
    args = arguments("fitting", __doc__.splitlines()[0])
    runs = train(args.work)
    figures(runs, args.out)
    write_numbers(args.out, {label: summary(run_dir) for label, run_dir in runs.items()})


if __name__ == "__main__":
    main()
