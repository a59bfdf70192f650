"""The numbers and figures of docs/tutorials/transfer.md: fine-tuning with frozen stages, offline.

1. `tk classify` trains resnet18 on the digits 0-4 (the source task).
2. `tk finetune --weights <that run> --freeze N` trains on the digits 5-9 with only a tenth of
   their images for training (about 90; 45% each validate and test), for N = 0, 1, 2, 3 and
   all; `tk finetune ... --dry-run --json` gives what each N leaves training.
3. `tk classify` trains the same resnet18 from scratch on the same split, for the same epochs.
4. One gradual run: `--freeze all --unfreeze-at 3 --lr-decay 0.5`.

Every run uses one thread (OMP_NUM_THREADS=1 unless set). Writes freeze.png, curves.png and
numbers.json. About seven minutes on two CPU cores.
Run: `python docs/tutorials/transfer.py`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from common import arguments, curves, fresh, history, plt, run_json, tk, tk_json, write_numbers

PAGE = "transfer"
SOURCE, TARGET = "0,1,2,3,4", "5,6,7,8,9"
SOURCE_EPOCHS, EPOCHS = 4, 6
FREEZES = ["0", "1", "2", "3", "all"]
#: 10% of 5-9 trains, as when labels are scarce: that is where transfer pays.
SPLIT = ["--val-split", "0.45", "--test-split", "0.45"]
TARGET_DATA = ["--data", "digits", "--classes", TARGET, *SPLIT]
GRADUAL = ["--freeze", "all", "--unfreeze-at", "3", "--lr-decay", "0.5"]


def source(work: Path) -> Path:
    run = fresh(work / "source")
    tk("classify", "--data", "digits", "--classes", SOURCE, "--backbone", "resnet18", "--epochs", str(SOURCE_EPOCHS),
       "--quiet", "--out", str(work), "--name", "source")
    return run


def summarise(run: Path) -> dict:
    times = [row["time"] for row in history(run)]
    later = times[1:] or times
    return {"test_accuracy": round(run_json(run)["metrics"]["test"]["accuracy"], 4),
            "best_val_acc": round(max(row["val_acc"] for row in history(run)), 4),
            "seconds_per_epoch": round(sum(later) / len(later), 2)}


def stage_table(weights: Path, *freezing: str) -> dict:
    """`tk finetune --dry-run --json`: each stage, its parameters and whether it trains."""
    table = tk_json("finetune", *TARGET_DATA, "--weights", str(weights), *freezing, "--dry-run")
    rows = table["stages"]
    return {"stages": rows, "trainable": sum(r["parameters"] for r in rows if r["trainable"] == "yes"),
            "total": sum(r["parameters"] for r in rows)}


def finetune(work: Path, weights: Path, name: str, *freezing: str) -> dict:
    run = fresh(work / name)
    tk("finetune", *TARGET_DATA, "--weights", str(weights), *freezing, "--epochs", str(EPOCHS), "--quiet",
       "--out", str(work), "--name", name)
    return summarise(run)


def scratch(work: Path) -> dict:
    run = fresh(work / "scratch")
    tk("classify", *TARGET_DATA, "--backbone", "resnet18", "--epochs", str(EPOCHS), "--quiet", "--out", str(work),
       "--name", "scratch")
    result = summarise(run)
    result["trainable"] = tk_json("summary", str(run))["trainable_params"]
    return result


def freeze_figure(results: dict, scratch_result: dict, path: Path) -> None:
    """Test accuracy, trainable parameters and epoch time against --freeze; training from scratch as a line."""
    fig, (acc_ax, param_ax, time_ax) = plt.subplots(1, 3, figsize=(14, 4))
    labels = list(results)
    acc_ax.plot(labels, [r["test_accuracy"] for r in results.values()], "o-", label="fine-tuned from 0-4")
    acc_ax.axhline(scratch_result["test_accuracy"], color="C3", ls="--", label="from scratch")
    acc_ax.set(xlabel="--freeze", ylabel="test accuracy on 5-9", title=f"accuracy after {EPOCHS} epochs")
    acc_ax.legend(fontsize=8)
    bars = param_ax.bar(labels, [r["trainable"] for r in results.values()], color="C0")
    param_ax.bar_label(bars, [f"{r['trainable']:,}" for r in results.values()], fontsize=7)
    param_ax.set(xlabel="--freeze", ylabel="trainable parameters (log scale)", title="what still trains", yscale="log")
    time_ax.plot(labels, [r["seconds_per_epoch"] for r in results.values()], "o-", label="fine-tuned")
    time_ax.axhline(scratch_result["seconds_per_epoch"], color="C3", ls="--", label="from scratch")
    time_ax.set(xlabel="--freeze", ylabel="seconds per epoch", title="time per epoch", ylim=(0, None))
    time_ax.legend(fontsize=8)
    for ax in (acc_ax, param_ax, time_ax):
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("resnet18, digits 0-4 to 5-9, about 90 training images", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    args = arguments(PAGE, __doc__.splitlines()[0])
    start = time.perf_counter()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per run: steadier times on a busy machine
    weights = source(args.work)
    numbers = {"source": summarise(weights), "epochs": EPOCHS, "source_epochs": SOURCE_EPOCHS, "freeze": {}}
    for freeze in FREEZES:
        table = stage_table(weights, "--freeze", freeze)
        result = finetune(args.work, weights, f"freeze-{freeze}", "--freeze", freeze)
        numbers["freeze"][freeze] = {**result, "trainable": table["trainable"], "backbone_and_head": table["total"],
                                     "frozen_stages": [r["stage"] for r in table["stages"] if r["trainable"] != "yes"]}
        print(freeze, numbers["freeze"][freeze], flush=True)
    numbers["scratch"] = scratch(args.work)
    numbers["gradual"] = {**finetune(args.work, weights, "gradual", *GRADUAL),
                          "stages": stage_table(weights, *GRADUAL)["stages"]}
    freeze_figure(numbers["freeze"], numbers["scratch"], args.out / "freeze.png")
    curves({"--freeze 0": args.work / "freeze-0", "--freeze 3": args.work / "freeze-3",
            "--freeze all": args.work / "freeze-all", "gradual": args.work / "gradual",
            "from scratch": args.work / "scratch"}, "acc", args.out / "curves.png",
           title="validation accuracy on 5-9 by epoch", splits=("val",), ylabel="accuracy")
    numbers["script_minutes"] = round((time.perf_counter() - start) / 60, 1)
    write_numbers(args.out, numbers)


if __name__ == "__main__":
    main()
