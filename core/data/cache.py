"""The decoded-image cache behind `--cache auto|ram|disk|none` and `--cache-budget`.

Decoding a file costs more than a small model's step on it: a folder decoded again in every
epoch trained about six times slower than a hand loop that decodes it once. So a run's train
and val images, decoded at the training size as uint8, are kept:
- `ram`: in memory, when they fit the budget (by default half the memory that is available
  when the run starts); `auto` (the default) does this when they fit and decodes each epoch,
  in worker processes, when they do not;
- `disk`: in one file under the cache folder (`TK_CACHE_DIR`, else `$XDG_CACHE_HOME/taskkit`,
  else `~/.cache/taskkit`), memory-mapped, and found again by later runs on the same files
  at the same size; a file's path, size or modification time changing makes a new one;
- `none`: decoded on every access.
The cache holds exactly what decoding gives, so a run trains bit for bit alike with or without it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from taskkit.data.decoding import decode_at, in_threads
from taskkit.errors import BadInputError

MODES = ("auto", "ram", "disk", "none")
#: The share of the memory available at the start of a run that the cache may take by default.
DEFAULT_BUDGET_SHARE = 0.5
GIB = 1024**3


@dataclass(frozen=True)
class CachePlan:
    """Where decoded images live (`ram`, `disk` or `none`), what they take and why."""

    mode: str
    need: int
    budget: int
    reason: str = ""

    def describe(self) -> str:
        """The banner's words for it, e.g. `cache ram (12.0 MiB of a 5.8 GiB budget)`."""
        if self.mode == "ram":
            return f"cache ram ({_size(self.need)} of a {_size(self.budget)} budget)"
        if self.mode == "disk":
            return f"cache disk ({_size(self.need)} in {images_folder()})"
        return f"cache none ({self.reason})" if self.reason else "cache none"


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise BadInputError(f"--cache must be {', '.join(MODES[:-1])} or {MODES[-1]}, got '{mode}'")


def budget_bytes(budget_gib: float | None) -> int:
    """`--cache-budget` in bytes; by default a share of the memory available now."""
    if budget_gib is None:
        return int(available_memory() * DEFAULT_BUDGET_SHARE)
    if budget_gib < 0:
        raise BadInputError(f"--cache-budget must not be negative (GiB), got {budget_gib}")
    return int(budget_gib * GIB)


def available_memory() -> int:
    """Bytes of memory the system could give now without swapping (`MemAvailable`), else all of it."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def plan(mode: str, budget_gib: float | None, count: int, size: int, channels: int) -> CachePlan:
    """Where `count` images of `size` x `size` x `channels` go under `--cache mode`."""
    check_mode(mode)
    need, budget = count * size * size * channels, budget_bytes(budget_gib)
    if mode == "none":
        return CachePlan("none", need, budget, "--cache none")
    if mode == "disk":
        return CachePlan("disk", need, budget)
    if need <= budget:
        return CachePlan("ram", need, budget)
    advice = "--cache-budget GIB raises it" + ("; --cache disk keeps them on disk" if mode == "auto" else "")
    return CachePlan("none", need, budget, f"{_size(need)} of decoded images exceed the {_size(budget)} budget; "
                                          f"{advice}")


def cache_splits(files: dict[str, list[str]], splits: Sequence[str], channels: int, size: int, mode: str,
                 budget_gib: float | None) -> tuple[dict[str, np.ndarray], CachePlan]:
    """The decoded images of `splits` (those every epoch reads) as `--cache` decides, by split."""
    chosen = plan(mode, budget_gib, sum(len(files[split]) for split in splits), size, channels)
    if chosen.mode == "none":
        return {}, chosen
    keep = decode_all if chosen.mode == "ram" else on_disk
    return {split: keep(files[split], channels, size) for split in splits}, chosen


def settle(datasets: dict, plan: CachePlan) -> CachePlan:
    """Where the budget holds four times the cached pixels, keep the splits that are not augmented
    as float32 batches ready to serve (`Images.keep_normalised`): no conversion in any epoch.
    Returns the plan with what the cache then holds, for the banner."""
    if plan.mode != "ram":
        return plan
    if 4 * plan.need <= plan.budget:
        for dataset in datasets.values():
            if dataset.cache is not None:
                dataset.keep_normalised()
    held = sum(held.nbytes if isinstance(held, np.ndarray) else held.numel() * held.element_size()
               for dataset in datasets.values() for held in (dataset.cache, dataset.normalised) if held is not None)
    return replace(plan, need=held)


def decode_all(paths: Sequence[str], channels: int, size: int, into: np.ndarray | None = None) -> np.ndarray:
    """Every file decoded at the training size into one NHWC uint8 array (`into`, if given)."""
    out = np.empty((len(paths), size, size, channels), dtype=np.uint8) if into is None else into

    def one(item: tuple[int, str]) -> None:
        out[item[0]] = decode_at(item[1], channels, size)

    in_threads(one, list(enumerate(paths)))
    return out


def on_disk(paths: Sequence[str], channels: int, size: int) -> np.ndarray:
    """The images memory-mapped from their cache file, written first if no earlier run left it."""
    target = images_folder() / f"{_key(paths, channels, size)}.npy"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.stem}.{os.getpid()}.partial.npy")
        try:
            writing = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8,
                                                shape=(len(paths), size, size, channels))
            decode_all(paths, channels, size, into=writing)
            writing.flush()
            del writing
            os.replace(partial, target)  # whole or absent: a stopped run leaves no half cache behind
        finally:
            partial.unlink(missing_ok=True)
    return np.load(target, mmap_mode="r")


def images_folder() -> Path:
    """Where `--cache disk` keeps decoded images."""
    root = os.environ.get("TK_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "taskkit"
    return Path(root) / "images"


def _key(paths: Sequence[str], channels: int, size: int) -> str:
    """A name that changes with any file's path, size or modification time, and with the decoding."""
    digest = hashlib.sha256(f"v1 {channels} {size}\n".encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{os.path.abspath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def _size(count: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"
