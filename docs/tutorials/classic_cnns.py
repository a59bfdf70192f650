"""The numbers and figures of docs/tutorials/classic_cnns.md: the classic CNNs trained on digits.

Each backbone is trained from scratch with `tk classify --data digits --backbone NAME
--epochs 2`: digits are 8x8, and tk raises them to each backbone's smallest input (LeNet 28,
VGG and MobileNet 16, AlexNet 15; the rest train at 8x8, on their small-input stems).
`tk summary RUN --json` then gives the parameters and multiply-adds of the model as trained
(backbone and head, at that size). Xception is only summarised (`tk summary xception
--input 1x8x8 --head linear --classes 10`), not trained: it is the slowest of all per epoch.
Every run uses one thread (OMP_NUM_THREADS=1 unless set). Writes accuracy.png, time.png
and numbers.json. About ten minutes on two busy CPU cores, most of it GoogLeNet and ResNet-18.
Run: `python docs/tutorials/classic_cnns.py`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from common import arguments, bars, fresh, history, plt, run_json, tk, tk_json, write_numbers

PAGE = "classic_cnns"
EPOCHS = 2
#: backbone -> extra options. NIN and SqueezeNet have no fully connected layers: their
#: classifier is a 1x1 convolution to one map per class and a global average, the `gap` head.
BACKBONES = {
    "lenet": [], "alexnet": [], "vgg11": [], "vgg11_bn": [], "nin": ["--head", "gap"], "googlenet": [],
    "resnet18": [], "mobilenet_v2": [], "shufflenet_v2": [], "squeezenet": ["--head", "gap"],
}
#: Summarised at the size it would train at, not trained (see the page).
SUMMARY_ONLY = {"xception": "1x8x8"}


def train(name: str, options: list[str], work: Path) -> dict:
    """One `tk classify` run, then `tk summary` on it; what the table needs."""
    run = fresh(work / name)
    tk("classify", "--data", "digits", "--backbone", name, *options, "--epochs", str(EPOCHS), "--quiet",
       "--out", str(work), "--name", name)
    record = run_json(run)
    summary = tk_json("summary", str(run))
    times = [row["time"] for row in history(run)]
    later = times[1:] or times  # the first epoch also pays for warming up
    return {"img_size": record["model"]["img_size"], "head": record["model"]["head"],
            "test_accuracy": round(record["metrics"]["test"]["accuracy"], 4),
            "params": summary["trainable_params"], "multiply_adds": summary["multiply_adds"],
            "seconds_per_epoch": round(sum(later) / len(later), 2), "first_epoch_seconds": round(times[0], 2)}


def summary_only(name: str, shape: str) -> dict:
    summary = tk_json("summary", name, "--input", shape, "--head", "linear", "--classes", "10")
    return {"input": shape, "params": summary["trainable_params"], "multiply_adds": summary["multiply_adds"]}


MARKERS = "os^Dv<>PX*"


def scatter(results: dict[str, dict], path: Path) -> None:
    """Test accuracy against parameters and against multiply-adds, log scales, one marker per network."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
    for ax, key, label in zip(axes, ("params", "multiply_adds"), ("trainable parameters", "multiply-adds per image")):
        for index, (name, row) in enumerate(results.items()):
            ax.scatter(row[key], row["test_accuracy"], color=f"C{index}", marker=MARKERS[index % len(MARKERS)], s=50,
                       label=name)
        ax.set(xscale="log", xlabel=f"{label} (log scale)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set(ylabel="test accuracy")
    axes[1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"classic CNNs on digits, {EPOCHS} epochs from scratch, each at its smallest input", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    args = arguments(PAGE, __doc__.splitlines()[0])
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per run: steadier times on a busy machine
    start = time.perf_counter()
    results = {}
    for name, options in BACKBONES.items():
        results[name] = train(name, options, args.work)
        print(name, results[name], flush=True)
    scatter(results, args.out / "accuracy.png")
    bars({name: row["seconds_per_epoch"] for name, row in results.items()}, args.out / "time.png",
         ylabel="seconds per epoch (the second)", title="time per epoch on one CPU thread")
    write_numbers(args.out, {"epochs": EPOCHS, "backbones": results,
                             "summary_only": {name: summary_only(name, shape) for name, shape in SUMMARY_ONLY.items()},
                             "script_minutes": round((time.perf_counter() - start) / 60, 1)})


if __name__ == "__main__":
    main()
