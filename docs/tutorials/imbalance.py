"""The figures and numbers of docs/tutorials/imbalance.md: label smoothing, focal loss,
oversampling and class weights on a version of scikit-learn's digits with two rare classes.

Writes the data set as PNG class folders with its own train/, val/ and test/ splits: digits
3 and 8 keep 6 training images each against about 96 for every other digit, while the test
split keeps 60 images of every digit, so the rare classes' recall is measured on as many
images as the others'. Then `tk data check` and five `tk classify` runs of LeNet, and
`imbalance.png` and `numbers.json` from their run.json.
About 3 minutes on 2 idle CPU cores (9 when they were busy with other jobs).
Run: `python docs/tutorials/imbalance.py [--work runs/tutorials/imbalance] [--out docs/tutorials/imbalance]`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common import arguments, fresh, plt, run_json, tk, tk_json, write_numbers

RARE = ("3", "8")
#: Images per class in each split: every digit has at least 174 in scikit-learn's copy.
TEST, VAL, RARE_TRAIN, RARE_VAL = 60, 24, 6, 2
RUNS = {
    "cross-entropy": ["--label-smoothing", "0"],
    "label smoothing 0.1": ["--label-smoothing", "0.1"],
    "focal (gamma 2)": ["--loss", "focal"],
    "oversample": ["--label-smoothing", "0", "--balance", "oversample"],
    "class weights": ["--label-smoothing", "0", "--balance", "class-weights"],
}
MODEL = ["--backbone", "lenet", "--epochs", "10", "--quiet"]


def write_dataset(root: Path) -> Path:
    """digits as root/{train,val,test}/<digit>/<index>.png, the RARE digits cut in train and val."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    fresh(root)
    for digit in range(10):
        indices = rng.permutation(np.flatnonzero(digits.target == digit))
        test, val, train = indices[:TEST], indices[TEST:TEST + VAL], indices[TEST + VAL:]
        if str(digit) in RARE:
            train, val = train[:RARE_TRAIN], val[:RARE_VAL]
        for split, chosen in (("train", train), ("val", val), ("test", test)):
            folder = root / split / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            for index in chosen:
                pixels = (digits.images[index] * 255 / 16).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{index:04d}.png")
    return root


def count(root: Path) -> dict[str, dict[str, int]]:
    """Images per class in each split, as written."""
    return {split: {d.name: len(list(d.glob("*.png"))) for d in sorted((root / split).iterdir())}
            for split in ("train", "val", "test")}


def train(work: Path, data: Path) -> dict[str, Path]:
    runs = {}
    for label, options in RUNS.items():
        name = "".join(c if c.isalnum() else "-" for c in label)
        fresh(work / name)
        tk("classify", "--data", data, *MODEL, *options, "--out", work, "--name", name)
        runs[label] = work / name
    return runs


def scores(run_dir: Path) -> dict:
    test = run_json(run_dir)["metrics"]["test"]
    per_class = test["per_class"]
    common = [c for c in per_class if c not in RARE]
    return {
        **{f"recall_{c}": round(per_class[c]["recall"], 4) for c in RARE},
        **{f"precision_{c}": round(per_class[c]["precision"], 4) for c in RARE},
        "mean_recall_common": round(float(np.mean([per_class[c]["recall"] for c in common])), 4),
        "macro_f1": round(test["macro_f1"], 4),
        "accuracy": round(test["accuracy"], 4),
        "best_epoch": run_json(run_dir)["best_epoch"],
    }


def figure(results: dict[str, dict], path: Path) -> None:
    """Per run: recall of each rare digit, mean recall of the other eight, macro F1."""
    series = {**{f"recall of {c}": f"recall_{c}" for c in RARE},
              "mean recall of the other 8": "mean_recall_common", "macro F1": "macro_f1"}
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(series)
    for i, (label, key) in enumerate(series.items()):
        offset = (i - (len(series) - 1) / 2) * width
        ax.bar([g + offset for g in range(len(results))], [r[key] for r in results.values()], width, label=label)
    ax.set_xticks(range(len(results)), list(results))
    ax.set(ylabel="on the balanced test split", ylim=(0, 1.05),
           title=f"LeNet, 10 epochs; digits {' and '.join(RARE)} have {RARE_TRAIN} training images each, "
                 "the others ~96")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    args = arguments("imbalance", __doc__.splitlines()[0])
    data = write_dataset(args.work / "digits-rare")
    check = tk_json("data", "check", data)
    runs = train(args.work, data)
    results = {label: scores(run_dir) for label, run_dir in runs.items()}
    figure(results, args.out / "imbalance.png")
    write_numbers(args.out, {"images": count(data), "data_check": {k: check[k] for k in ("classes", "splits")},
                             "runs": results})


if __name__ == "__main__":
    main()
