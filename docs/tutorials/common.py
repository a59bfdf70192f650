"""What every tutorial script shares: running `tk` as a user would, reading what a run wrote, plotting.

Each script in this folder regenerates the numbers and figures of the page of the same name:
`python docs/tutorials/<page>.py` runs the `tk` commands the page shows (into runs/tutorials/
by default), copies or draws the figures into docs/tutorials/<page>/ and writes the numbers
the page quotes to docs/tutorials/<page>/numbers.json.
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

HERE = Path(__file__).resolve().parent


def arguments(page: str, doc: str) -> argparse.Namespace:
    """`--work` (where runs go) and `--out` (the page's figure folder), both created."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--work", type=Path, default=Path("runs/tutorials") / page)
    parser.add_argument("--out", type=Path, default=HERE / page)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def tk(*args: str) -> str:
    """Run `tk ARGS` in a fresh process and return its stdout; stop the script if it fails."""
    result = subprocess.run([sys.executable, "-m", "taskkit", *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"tk {' '.join(map(str, args))} failed: {result.stderr.strip()}")
    return result.stdout


def tk_json(*args: str) -> dict:
    """`tk ARGS --json`, parsed."""
    return json.loads(tk(*args, "--json"))


def fresh(path: Path) -> Path:
    """`path` removed, so a command writes there anew instead of beside (or resuming) an old run."""
    if path.exists():
        shutil.rmtree(path)
    return path


def run_json(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))


def history(run_dir: Path) -> list[dict[str, float]]:
    """The rows of a run's metrics.csv, one per epoch, as numbers."""
    with open(Path(run_dir) / "metrics.csv", newline="", encoding="utf-8") as handle:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


def curves(runs: dict[str, Path], metric: str, path: Path, title: str = "", splits=("train", "val"),
           ylabel: str | None = None) -> None:
    """One line per run and split of `metric` (e.g. "loss") against the epoch."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for index, (label, run_dir) in enumerate(runs.items()):
        rows = history(run_dir)
        for split, style in zip(splits, ("--", "-")):
            key = f"{split}_{metric}"
            if key in rows[0]:
                ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], style, color=f"C{index}",
                        label=f"{label} ({split})")
    ax.set(xlabel="epoch", ylabel=ylabel or metric, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def bars(values: dict[str, float], path: Path, ylabel: str, title: str = "") -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(list(values), list(values.values()), color=[f"C{i}" for i in range(len(values))])
    ax.set(ylabel=ylabel, title=title)
    ax.tick_params(axis="x", rotation=30)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_numbers(out: Path, numbers: dict) -> None:
    """The numbers the page quotes, printed and kept beside its figures."""
    text = json.dumps(numbers, indent=2, ensure_ascii=False)
    (Path(out) / "numbers.json").write_text(text + "\n", encoding="utf-8")
    print(text)
