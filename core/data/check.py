"""`check_data`: what a dataset holds and which of its files cannot be read, without training.

A check reports and never repairs: bad files are listed, not moved or rewritten, and a bad
file is never an error here (only a missing or empty data path is), so one run shows all
problems at once.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from taskkit.data.decoding import probe_all
from taskkit.data.sources import ArraySource, FileSource, resolve


def check_data(data: str, *, data_root: str | None = None) -> dict[str, Any]:
    """Class counts, image sizes and modes, and unreadable files of `data`, as a JSON-ready dict.

    Counts are of readable images; `sizes` holds the smallest width and height, the largest
    width and height, and the most common `[w, h]`. `splits` counts images per given split.
    """
    source = resolve(data, data_root, lenient=True)
    if isinstance(source, ArraySource):
        return _array_report(source, data)
    return _file_report(source, data)


def _array_report(source: ArraySource, data: str) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    splits = {}
    for split, (images, labels) in source.splits.items():
        counts.update(source.classes[int(label)] for label in labels)
        splits[split] = len(labels)
    total = sum(splits.values())
    height, width = next(iter(source.splits.values()))[0].shape[1:3]
    size = [int(width), int(height)]
    mode = "L" if source.channels == 1 else "RGB"
    return _report(data, {c: counts[c] for c in source.classes}, splits,
                   {"min": size, "max": size, "most_common": size}, {mode: total}, [])


def _file_report(source: FileSource, data: str) -> dict[str, Any]:
    counts: Counter[str] = Counter({name: 0 for name in source.empty_classes})
    sizes: Counter[tuple[int, int]] = Counter()
    modes: Counter[str] = Counter()
    splits: dict[str, int] = {}
    bad = [[path, reason] for path, reason in source.missing]
    for split, items in source.splits.items():
        infos = probe_all([path for path, _ in items])
        splits[split] = 0
        for (path, name), info in zip(items, infos):
            counts.setdefault(name, 0)
            if isinstance(info, str):
                bad.append([path, info])
                continue
            counts[name] += 1
            splits[split] += 1
            sizes[info[0]] += 1
            modes[info[1]] += 1
    return _report(data, {c: counts[c] for c in sorted(counts)}, splits, _size_summary(sizes), dict(modes), bad)


def _size_summary(sizes: Counter[tuple[int, int]]) -> dict[str, list[int] | None]:
    if not sizes:
        return {"min": None, "max": None, "most_common": None}
    widths = [w for w, _ in sizes]
    heights = [h for _, h in sizes]
    common = sizes.most_common(1)[0][0]
    return {"min": [min(widths), min(heights)], "max": [max(widths), max(heights)], "most_common": list(common)}


def _report(data: str, classes: dict[str, int], splits: dict[str, int], sizes: dict, modes: dict[str, int],
            bad: list[list[str]]) -> dict[str, Any]:
    return {
        "source": data,
        "classes": classes,
        "total": sum(classes.values()),
        "splits": splits,
        "sizes": sizes,
        "modes": dict(sorted(modes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "bad_files": sorted(bad, key=lambda row: os.fspath(row[0])),
    }
