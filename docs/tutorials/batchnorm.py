"""The figures and numbers of docs/tutorials/batchnorm.md: one network with and without
BatchNorm, trained on scikit-learn's digits at a modest and at a high learning rate.

The network is tk's `mlp` backbone made four hidden layers deep, registered under two names
(`deep_mlp`, `deep_mlp_bn`) by a short local plugin this script writes to its work folder
and loads with `tk --plugin`. Four `tk classify` runs (SGD with momentum, lr 0.05 and 0.5),
one of which is expected to stop with a NaN loss; then `batchnorm.png` and `numbers.json`.
About 2 minutes on 2 CPU cores, busy with other jobs; less when idle.
Run: `python docs/tutorials/batchnorm.py [--work runs/tutorials/batchnorm] [--out docs/tutorials/batchnorm]`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from common import arguments, fresh, history, plt, run_json, write_numbers

PLUGIN = '''"""taskkit plugin: tk's mlp backbone, four hidden layers deep, without and with BatchNorm."""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.dense.models import MLPBackbone

    class DeepMLP(MLPBackbone):
        """Four hidden layers of 128 units: Linear and ReLU, no normalisation."""

        batch_norm = False

        def __init__(self, in_channels: int = 3, img_size: int = 32):
            super().__init__(in_channels, img_size, hidden=(128,) * 4, batch_norm=self.batch_norm)

    class DeepMLPBN(DeepMLP):
        """The same four layers, each Linear followed by BatchNorm."""

        batch_norm = True

    backbones.register("deep_mlp")(DeepMLP)
    backbones.register("deep_mlp_bn")(DeepMLPBN)
'''
BACKBONES = {"no BatchNorm": "deep_mlp", "BatchNorm": "deep_mlp_bn"}
RATES = ("0.05", "0.5")
COMMON = ["--data", "digits", "--optimizer", "sgd", "--epochs", "10", "--label-smoothing", "0", "--quiet"]


def tk_may_fail(*args: str) -> str | None:
    """Run `tk ARGS`; None when it succeeds, else the last line of its error (a NaN loss exits 1)."""
    result = subprocess.run([sys.executable, "-m", "taskkit", *map(str, args)], capture_output=True, text=True)
    if result.returncode == 0:
        return None
    if result.returncode != 1:
        sys.exit(f"tk {' '.join(map(str, args))} failed: {result.stderr.strip()}")
    return result.stderr.strip().splitlines()[-1]


def train(work: Path) -> dict[tuple[str, str], tuple[Path, str | None]]:
    """(backbone label, lr) -> (run directory, error line or None)."""
    plugin = work / "deep_mlp.py"
    plugin.write_text(PLUGIN, encoding="utf-8")
    runs = {}
    for label, backbone in BACKBONES.items():
        for lr in RATES:
            name = f"{backbone}-lr{lr}"
            fresh(work / name)
            error = tk_may_fail("--plugin", plugin, "classify", *COMMON, "--backbone", backbone, "--lr", lr,
                                "--out", work, "--name", name)
            runs[(label, lr)] = (work / name, error)
    return runs


def figure(runs: dict, path: Path) -> None:
    """Training loss (log scale) and validation accuracy per epoch; a cross where a run blew up."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for index, ((label, lr), (run_dir, error)) in enumerate(runs.items()):
        rows = history(run_dir)
        epochs = [r["epoch"] for r in rows]
        style = "-" if label == "BatchNorm" else "--"
        name = f"{label}, lr {lr}" + (" (NaN loss)" if error else "")
        loss_ax.plot(epochs, [r["train_loss"] for r in rows], style, marker="o", ms=3, color=f"C{index}", label=name)
        acc_ax.plot(epochs, [r["val_acc"] for r in rows], style, marker="o", ms=3, color=f"C{index}", label=name)
        if error:
            loss_ax.plot([epochs[-1] + 1], [rows[-1]["train_loss"]], "x", ms=10, mew=2, color=f"C{index}")
    loss_ax.set(xlabel="epoch", ylabel="training loss (log scale)", yscale="log", title="training loss")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy", ylim=(0, 1.02))
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("a four-layer MLP on digits, SGD with momentum 0.9, warm-up and cosine", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(run_dir: Path, error: str | None) -> dict:
    rows = history(run_dir)
    if error:
        return {"stopped": error, "epochs_completed": len(rows),
                "epoch1": {k: round(rows[0][k], 4) for k in ("train_loss", "val_loss", "val_acc")}}
    record = run_json(run_dir)
    return {"epoch1_val_acc": round(rows[0]["val_acc"], 4), "epoch1_val_loss": round(rows[0]["val_loss"], 4),
            "final_train_loss": round(rows[-1]["train_loss"], 4), "best_epoch": record["best_epoch"],
            "best_val_acc": round(rows[record["best_epoch"] - 1]["val_acc"], 4),
            "test_accuracy": round(record["metrics"]["test"]["accuracy"], 4)}


def main() -> None:
    args = arguments("batchnorm", __doc__.splitlines()[0])
    runs = train(args.work)
    figure(runs, args.out / "batchnorm.png")
    write_numbers(args.out, {f"{label}, lr {lr}": summary(*run) for (label, lr), run in runs.items()})


if __name__ == "__main__":
    main()
