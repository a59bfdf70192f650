"""Finding image/mask pairs and checking every mask before any training starts.

A segmentation folder holds `images/` and `masks/` whose files share stems (`images/a.jpg`
with `masks/a.png`); a mask is a single-channel PNG whose pixel values are class numbers.
A mismatch a user would otherwise meet at epoch 3 (a missing mask, a mask of another size,
a value no class has) is one line here, naming the file. Files are only ever read.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from taskkit.data import decoding
from taskkit.errors import BadInputError
from taskkit.storage.user_text import read_user_text

#: PIL modes whose pixel values are numbers (class indices), not colours.
INDEX_MODES = frozenset({"L", "P", "1", "I", "I;16", "I;16B", "I;16L", "I;16N"})


def read_mask(path: str) -> np.ndarray:
    """A mask file as an `[H, W]` array of class values (uint8, or uint16 for 16-bit masks)."""
    try:
        with Image.open(path) as mask:
            mode = mask.mode
            values = np.array(mask) if mode in INDEX_MODES else None
    except Exception as exc:
        raise BadInputError(f"cannot read mask '{path}' ({decoding.short_reason(exc, path)})") from None
    if values is None:
        raise BadInputError(f"mask '{path}' is a {mode} image, not class numbers; save masks as "
                            f"single-channel (L or palette) PNGs whose pixel values are class indices")
    if values.dtype == bool:
        values = values.astype(np.uint8)
    if values.max(initial=0) > np.iinfo(np.uint16).max or values.min(initial=0) < 0:
        raise BadInputError(f"mask '{path}' has values outside 0..65535; masks hold class indices")
    return values.astype(np.uint8 if values.max(initial=0) < 256 else np.uint16)


def find_pairs(folder: Path) -> list[tuple[str, str]]:
    """`(image, mask)` paths for every image under `folder/images`, each with its mask by stem."""
    images_dir, masks_dir = folder / "images", folder / "masks"
    for needed in (images_dir, masks_dir):
        if not needed.is_dir():
            raise BadInputError(f"{folder} has no {needed.name}/ folder; a segmentation dataset holds images/ "
                                f"and masks/ with matching file stems")
    masks: dict[str, str] = {}
    for path in sorted(_image_files(masks_dir)):
        key = str(Path(path).relative_to(masks_dir).with_suffix(""))
        if key in masks:
            raise BadInputError(f"two masks share the stem '{key}': {masks[key]} and {path}; keep one")
        masks[key] = path
    pairs = []
    for path in sorted(_image_files(images_dir)):
        key = str(Path(path).relative_to(images_dir).with_suffix(""))
        if key not in masks:
            raise BadInputError(f"image '{path}' has no mask: expected {masks_dir / key}.png")
        pairs.append((path, masks[key]))
    if not pairs:
        raise BadInputError(f"{images_dir} holds no images")
    return pairs


def _image_files(folder: Path) -> list[str]:
    return [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
            if decoding.is_image_file(name) and not name.startswith(".")]


@dataclass
class CheckedPairs:
    """The pairs that can be used, what their images are like, and what was left out."""

    pairs: list[tuple[str, str]]
    sizes: list[tuple[int, int]]  # (height, width) of each image
    modes: list[str]
    values: list[np.ndarray]  # the distinct values of each mask, the ignored one aside
    skipped: list[tuple[str, str]]

    @property
    def largest_value(self) -> int:
        return max((int(v.max()) for v in self.values if len(v)), default=0)


def check_pairs(pairs: list[tuple[str, str]], ignore_value: int | None, strict: bool,
                workers: int = min(8, os.cpu_count() or 1)) -> CheckedPairs:
    """Probe every image and read every mask once: unreadable images are skipped (or, with
    `strict`, refused); a mask that does not fit its image is always refused."""
    probed = decoding.probe_all([image for image, _ in pairs])
    with ThreadPoolExecutor(workers) as pool:
        summaries = list(pool.map(lambda pair: _mask_summary(pair[1], ignore_value), pairs))
    checked = CheckedPairs([], [], [], [], [])
    for (image, mask), info, (shape, values) in zip(pairs, probed, summaries):
        if isinstance(info, str):
            if strict:
                raise BadInputError(f"cannot read image '{image}' ({info}); fix or remove it, or drop --strict")
            checked.skipped.append((image, info))
            continue
        (width, height), mode = info
        if shape != (height, width):
            raise BadInputError(f"mask '{mask}' is {shape[1]}x{shape[0]} but its image '{image}' is "
                                f"{width}x{height}; a mask must match its image pixel for pixel")
        checked.pairs.append((image, mask))
        checked.sizes.append((height, width))
        checked.modes.append(mode)
        checked.values.append(values)
    if not checked.pairs:
        image, why = checked.skipped[0]
        raise BadInputError(f"none of the {len(pairs)} images can be read (e.g. '{image}': {why}); "
                            f"run `tk data check` on its folder")
    return checked


def _mask_summary(path: str, ignore_value: int | None) -> tuple[tuple[int, int], np.ndarray]:
    """A mask's `(height, width)` and its distinct values other than `ignore_value`."""
    values = read_mask(path)
    distinct = np.unique(values)
    return values.shape, distinct[distinct != ignore_value] if ignore_value is not None else distinct


def class_names(given: list[str] | None, folder: Path, largest_value: int) -> list[str]:
    """`--classes`, else `classes.txt` in the folder (one name per line), else the numbers 0..max."""
    names = given
    listing = folder / "classes.txt"
    if names is None and listing.is_file():
        names = [line.strip() for line in read_user_text(listing).splitlines() if line.strip()]
    if names is None:
        names = [str(i) for i in range(largest_value + 1)]
    if len(names) < 2:
        raise BadInputError(f"segmentation needs at least 2 classes, got {len(names)} ({', '.join(names) or 'none'}); "
                            f"name them with --classes or classes.txt")
    return names


def check_values(checked: CheckedPairs, classes: list[str], ignore_value: int | None) -> None:
    """Refuse the first mask holding a value no class has (the ignored value aside)."""
    for (_, mask), values in zip(checked.pairs, checked.values):
        bad = values[values >= len(classes)]
        if len(bad):
            hint = f", or mark unlabelled pixels with --ignore-index {int(bad[0])}" if ignore_value is None else ""
            raise BadInputError(f"mask '{mask}' has value {int(bad[0])}, outside the {len(classes)} classes "
                                f"(0 to {len(classes) - 1}); name more classes with --classes or classes.txt{hint}")
