"""The figures and numbers of docs/tutorials/optimizers.md: five optimizers and five
learning-rate schedules on one model, tk's `mlp` backbone on scikit-learn's digits.

Nine `tk classify` runs of 10 epochs (sgd without and with momentum, nesterov, adam and adamw
at a constant rate; adamw under step, cosine, warmup+cosine and onecycle) and one
`tk lr-find`; then `optimizers.png`, `schedules.png`, `lr_find.png` and `numbers.json`.
About 3 minutes on 2 idle CPU cores (7 when they were busy with other jobs).
Run: `python docs/tutorials/optimizers.py [--work runs/tutorials/optimizers] [--out docs/tutorials/optimizers]`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from common import arguments, fresh, history, plt, run_json, tk, tk_json, write_numbers

MODEL = ["--data", "digits", "--backbone", "mlp", "--epochs", "10", "--label-smoothing", "0", "--quiet"]
#: label -> options. SGD-style optimizers share one rate, Adam-style ones tk's default, 3e-3.
OPTIMIZERS = {
    "sgd, no momentum": ["--optimizer", "sgd", "--momentum", "0", "--lr", "0.05"],
    "sgd, momentum 0.9": ["--optimizer", "sgd", "--lr", "0.05"],
    "nesterov 0.9": ["--optimizer", "nesterov", "--lr", "0.05"],
    "adam": ["--optimizer", "adam", "--lr", "3e-3"],
    "adamw": ["--optimizer", "adamw", "--lr", "3e-3"],
}
#: label -> options, all adamw at a peak rate of 3e-3; "none" is the adamw run above.
SCHEDULES = {
    "none": None,
    "step": ["--scheduler", "step"],
    "cosine": ["--scheduler", "cosine"],
    "warmup+cosine (3 epochs)": ["--scheduler", "warmup+cosine", "--warmup-epochs", "3"],
    "onecycle": ["--scheduler", "onecycle"],
}


def slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-")


def run(work: Path, name: str, options: list[str]) -> Path:
    fresh(work / name)
    tk("classify", *MODEL, *options, "--out", work, "--name", name)
    return work / name


def train(work: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    optimizers = {label: run(work, "opt-" + slug(label), [*options, "--scheduler", "none"])
                  for label, options in OPTIMIZERS.items()}
    schedules = {label: optimizers["adamw"] if options is None else
                 run(work, "sched-" + slug(label), ["--optimizer", "adamw", "--lr", "3e-3", *options])
                 for label, options in SCHEDULES.items()}
    return optimizers, schedules


def plot(ax, runs: dict[str, Path], key: str, **axes) -> None:
    for index, (label, run_dir) in enumerate(runs.items()):
        rows = history(run_dir)
        ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], "-o", ms=3, color=f"C{index}", label=label)
    ax.set(xlabel="epoch", **axes)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def figures(optimizers: dict[str, Path], schedules: dict[str, Path], out: Path) -> None:
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    plot(loss_ax, optimizers, "train_loss", ylabel="training loss (log scale)", yscale="log", title="training loss")
    plot(acc_ax, optimizers, "val_acc", ylabel="validation accuracy", title="validation accuracy", ylim=(0.8, 1.0))
    fig.suptitle("mlp on digits, constant learning rate: sgd-style 0.05, adam-style 3e-3", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "optimizers.png", dpi=100)
    plt.close(fig)

    fig, (lr_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
    plot(lr_ax, schedules, "lr", ylabel="learning rate at the end of the epoch", title="learning rate")
    plot(loss_ax, schedules, "train_loss", ylabel="training loss (log scale)", yscale="log", title="training loss")
    fig.suptitle("mlp on digits, adamw, peak rate 3e-3", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "schedules.png", dpi=100)
    plt.close(fig)


def summary(run_dir: Path) -> dict:
    rows = history(run_dir)
    record = run_json(run_dir)
    return {"train_loss_epoch1": round(rows[0]["train_loss"], 4), "final_train_loss": round(rows[-1]["train_loss"], 4),
            "final_val_loss": round(rows[-1]["val_loss"], 4), "best_epoch": record["best_epoch"],
            "best_val_acc": round(rows[record["best_epoch"] - 1]["val_acc"], 4),
            "test_accuracy": round(record["metrics"]["test"]["accuracy"], 4),
            "lr_per_epoch": [float(f"{r['lr']:.3g}") for r in rows]}


def lr_finder(work: Path, out: Path) -> dict:
    fresh(work / "lr-find-classify")
    result = tk_json("lr-find", "classify", *MODEL, "--optimizer", "adamw", "--out", work)
    shutil.copy(result["plot"], out / "lr_find.png")
    return {k: result[k] for k in ("suggested_lr", "min_loss_lr", "steps_run")}


def main() -> None:
    args = arguments("optimizers", __doc__.splitlines()[0])
    optimizers, schedules = train(args.work)
    figures(optimizers, schedules, args.out)
    write_numbers(args.out, {
        "optimizers": {label: summary(run_dir) for label, run_dir in optimizers.items()},
        "schedules": {label: summary(run_dir) for label, run_dir in schedules.items()},
        "lr_find": lr_finder(args.work, args.out),
    })


if __name__ == "__main__":
    main()
