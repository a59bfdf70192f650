"""The numbers and figures of docs/tutorials/recurrent.md: RNN, LSTM and GRU on a long-memory task.

The script writes its own corpus: in each sentence one sentiment word ("superb", "awful", ...)
decides the label, and between 0 and MAX_DISTANCE neutral words follow it, so a model that
reads left to right and answers from its last state (`--unidirectional --head last`) must
carry that word to the end. It trains `tk text --encoder rnn|lstm|gru` with the same
options, reads parameters from `tk summary RUN --json`, then asks `tk predict --file` about
fresh sentences with the deciding word at a fixed distance from the end, to measure accuracy
by distance. Every run uses one thread (OMP_NUM_THREADS=1 unless set). Writes distance.png,
curves.png and numbers.json. About four minutes on two CPU cores.
Run: `python docs/tutorials/recurrent.py`.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from pathlib import Path

from common import arguments, curves, fresh, history, plt, run_json, tk, tk_json, write_numbers

PAGE = "recurrent"
POSITIVE = ["good", "great", "wonderful", "excellent", "superb", "lovely", "brilliant", "enjoyable"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dull", "poor", "horrible", "weak"]
NEUTRAL = ["the", "film", "plot", "actor", "scene", "story", "was", "and", "a", "it", "movie", "with", "this",
           "of", "script", "music", "ending", "camera", "cast", "dialogue", "director", "an", "in", "on"]
ENCODERS = ["rnn", "lstm", "gru"]
SENTENCES, MAX_DISTANCE, EPOCHS = 3000, 60, 15
MODEL = ["--unidirectional", "--head", "last", "--hidden", "64", "--embedding-dim", "32", "--lr", "0.005"]
#: Distances from the deciding word to the end at which accuracy is measured, 100 sentences each.
PROBE_DISTANCES, PROBES_EACH = [0, 10, 20, 30, 40, 50, 60], 100
#: Two sentences that differ only in their first word, 50 neutral words before the end.
TAIL = " ".join(["the film was a story with music and a cast"] * 5)
EXAMPLES = [f"superb {TAIL}", f"awful {TAIL}"]


def sentence(rng: random.Random, distance: int) -> tuple[str, str]:
    """Up to three neutral words, the deciding word, then exactly `distance` neutral words."""
    positive = rng.random() < 0.5
    before = [rng.choice(NEUTRAL) for _ in range(rng.randint(0, 3))]
    after = [rng.choice(NEUTRAL) for _ in range(distance)]
    cue = rng.choice(POSITIVE if positive else NEGATIVE)
    return " ".join([*before, cue, *after]), "positive" if positive else "negative"


def write_corpus(path: Path) -> Path:
    rng = random.Random(0)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(sentence(rng, rng.randint(0, MAX_DISTANCE)) for _ in range(SENTENCES))
    return path


def write_probes(path: Path) -> list[tuple[int, str]]:
    """Fresh sentences (another seed), PROBES_EACH at each distance; one text per line for --file."""
    rng = random.Random(1)
    probes = [(d, *sentence(rng, d)) for d in PROBE_DISTANCES for _ in range(PROBES_EACH)]
    path.write_text("".join(f"{text}\n" for _, text, _ in probes), encoding="utf-8")
    return [(d, label) for d, _, label in probes]


def train(corpus: Path, encoder: str, work: Path) -> dict:
    run = fresh(work / encoder)
    tk("text", "--data", str(corpus), "--encoder", encoder, *MODEL, "--epochs", str(EPOCHS), "--quiet",
       "--out", str(work), "--name", encoder)
    rows = history(run)
    times = [row["time"] for row in rows][1:]
    return {"test_accuracy": round(run_json(run)["metrics"]["test"]["accuracy"], 4),
            "best_val_acc": round(max(row["val_acc"] for row in rows), 4),
            "first_epoch_above_0.9": next((int(r["epoch"]) for r in rows if r["val_acc"] > 0.9), None),
            "params": tk_json("summary", str(run))["trainable_params"],
            "seconds_per_epoch": round(sum(times) / len(times), 2)}


def by_distance(run: Path, probe_file: Path, truth: list[tuple[int, str]]) -> dict[str, float]:
    """`tk predict RUN --file PROBES --json`: accuracy at each distance."""
    answers = json.loads(tk("predict", str(run), "--file", str(probe_file), "--json"))
    right: dict[int, int] = {d: 0 for d in PROBE_DISTANCES}
    for (distance, label), answer in zip(truth, answers, strict=True):
        right[distance] += answer["predictions"][0]["label"] == label
    return {str(d): right[d] / PROBES_EACH for d in PROBE_DISTANCES}


def distance_figure(accuracy: dict[str, dict[str, float]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for index, encoder in enumerate(ENCODERS):
        ax.plot(PROBE_DISTANCES, list(accuracy[encoder].values()), "o-", color=f"C{index}", label=encoder)
    ax.axhline(0.5, color="grey", ls=":", lw=0.8)
    ax.text(PROBE_DISTANCES[0], 0.52, "chance", fontsize=8, color="grey")
    ax.set(xlabel="words between the deciding word and the end", ylabel="accuracy", ylim=(0.4, 1.02),
           title=f"unidirectional, last state, hidden 64, {EPOCHS} epochs")
    ax.set_xticks(PROBE_DISTANCES)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    args = arguments(PAGE, __doc__.splitlines()[0])
    start = time.perf_counter()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per run: steadier times on a busy machine
    corpus = write_corpus(args.work / "long_memory.csv")
    truth = write_probes(args.work / "probes.txt")
    results = {encoder: train(corpus, encoder, args.work) for encoder in ENCODERS}
    accuracy = {encoder: by_distance(args.work / encoder, args.work / "probes.txt", truth) for encoder in ENCODERS}
    distance_figure(accuracy, args.out / "distance.png")
    curves({e: args.work / e for e in ENCODERS}, "acc", args.out / "curves.png", splits=("train", "val"),
           title="accuracy by epoch (train dashed, validation solid)", ylabel="accuracy")
    examples = {e: tk_json("predict", str(args.work / e), *EXAMPLES) for e in ("rnn", "lstm")}
    write_numbers(args.out, {"script_minutes": round((time.perf_counter() - start) / 60, 1),
                             "sentences": SENTENCES, "max_distance": MAX_DISTANCE, "epochs": EPOCHS,
                             "corpus_head": Path(corpus).read_text(encoding="utf-8").splitlines()[:4],
                             "results": results, "accuracy_by_distance": accuracy, "examples": examples})


if __name__ == "__main__":
    main()
