"""The figures and numbers of docs/tutorials/regularisation.md: weight decay and dropout on
the overfitting run of docs/tutorials/fitting.md (LeNet on a tenth of digits, 40 epochs).

Seven `tk classify` runs: no regularisation, three strengths of `--weight-decay`, two of
`--dropout` and one with both; then `curves.png` (validation and training loss of each),
`test_accuracy.png` and `numbers.json`.
About 3 minutes on 2 idle CPU cores (13 when they were busy with other jobs).
Run: `python docs/tutorials/regularisation.py [--work runs/tutorials/regularisation] [--out docs/tutorials/regularisation]`.
"""

from __future__ import annotations

from pathlib import Path

from common import arguments, fresh, history, plt, run_json, tk, write_numbers

OVERFIT = ["--data", "digits", "--backbone", "lenet", "--val-split", "0.45", "--test-split", "0.45",
           "--epochs", "40", "--label-smoothing", "0", "--quiet"]
WEIGHT_DECAY = {
    "none": ["--weight-decay", "0"],
    "weight decay 1": ["--weight-decay", "1"],
    "weight decay 5": ["--weight-decay", "5"],
    "weight decay 20": ["--weight-decay", "20"],
}
DROPOUT = {
    "dropout 0.25": ["--weight-decay", "0", "--dropout", "0.25"],
    "dropout 0.5": ["--weight-decay", "0", "--dropout", "0.5"],
    "weight decay 5 + dropout 0.5": ["--weight-decay", "5", "--dropout", "0.5"],
}


def train(work: Path, runs: dict[str, list[str]]) -> dict[str, Path]:
    dirs = {}
    for label, options in runs.items():
        name = "".join(c if c.isalnum() else "-" for c in label)
        fresh(work / name)
        tk("classify", *OVERFIT, *options, "--out", work, "--name", name)
        dirs[label] = work / name
    return dirs


def panel(ax, runs: dict[str, Path], key: str, **axes) -> None:
    """One line per run of a metrics.csv column against the epoch."""
    for index, (label, run_dir) in enumerate(runs.items()):
        rows = history(run_dir)
        ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], color=f"C{index}", label=label)
    ax.set(xlabel="epoch", **axes)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def accuracy_bars(accuracy: dict[str, float], path: Path) -> None:
    """Like common's `bars`, zoomed in on the top of the scale and with each value written on its bar."""
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(range(len(accuracy)), list(accuracy.values()), color=[f"C{i}" for i in range(len(accuracy))])
    for i, value in enumerate(accuracy.values()):
        ax.text(i, value + 0.003, f"{value:.3f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(accuracy)), [label.replace(" + ", "\n+ ") for label in accuracy], fontsize=8)
    ax.set(ylabel="test accuracy (809 images)", ylim=(0.7, 1.0), title="test accuracy of the kept epoch's weights")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def figures(decay: dict[str, Path], dropout: dict[str, Path], out: Path) -> None:
    groups = {"weight decay": decay, "dropout": {"none": decay["none"], **dropout}}
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for column, (name, runs) in enumerate(groups.items()):
        panel(axes[0][column], runs, "val_loss", ylabel="validation loss", ylim=(0.1, 1.1), title=name)
        panel(axes[1][column], runs, "train_loss", ylabel="training loss (log scale)", yscale="log")
    fig.suptitle("LeNet on a tenth of digits (179 training images), 40 epochs", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)
    accuracy_bars({label: run_json(d)["metrics"]["test"]["accuracy"] for label, d in {**decay, **dropout}.items()},
                  out / "test_accuracy.png")


def summary(run_dir: Path) -> dict:
    rows = history(run_dir)
    record = run_json(run_dir)
    lowest = min(rows, key=lambda r: r["val_loss"])
    return {"test_accuracy": round(record["metrics"]["test"]["accuracy"], 4), "best_epoch": record["best_epoch"],
            "lowest_val_loss": round(lowest["val_loss"], 4), "lowest_val_loss_epoch": int(lowest["epoch"]),
            "final_val_loss": round(rows[-1]["val_loss"], 4), "final_train_loss": round(rows[-1]["train_loss"], 4),
            "final_train_acc": round(rows[-1]["train_acc"], 4)}


def main() -> None:
    args = arguments("regularisation", __doc__.splitlines()[0])
    decay = train(args.work, WEIGHT_DECAY)
    dropout = train(args.work, DROPOUT)
    figures(decay, dropout, args.out)
    write_numbers(args.out, {label: summary(d) for label, d in {**decay, **dropout}.items()})


if __name__ == "__main__":
    main()
