"""How long `tk --help` takes, and whether it imports torch.

`tk --help` is the first thing a user runs, and every command pays the same start-up cost
before it does any work. Run: `python benchmarks/cli_startup.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

TK = Path(sys.executable).with_name("tk")


def time_help(runs: int) -> list[float]:
    subprocess.run([str(TK), "--help"], capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(TK), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def heavy_imports() -> list[str]:
    """Modules from torch, torchvision or timm that `import taskkit.cli.app` pulls in."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import taskkit.cli.app"],
        capture_output=True, text=True, check=True,
    )
    names = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()[1:]]
    return [n for n in names if n.split(".")[0] in ("torch", "torchvision", "timm")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    times = time_help(args.runs)
    heavy = heavy_imports()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"tk --help over {args.runs} runs: median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s")
    print(f"heavy modules imported by taskkit.cli.app: {heavy or 'none'}")


if __name__ == "__main__":
    main()
