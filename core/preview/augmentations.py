"""`tk aug preview`: a grid of augmented samples, to look at a spec before training with it.

Each row is one image: the original, then `samples` draws of the pipeline training would use
(the same `build_augmenter`, applied to the decoded image before the resize, as the
datasets do). A segmentation folder (images/ and masks/) draws each mask's region borders over
its image, so a transform that moved the image without its mask would be plain to see.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from taskkit.errors import BadInputError

OUTLINE = (255, 255, 0)  # mask region borders, drawn over the image


def write_preview(data: str, spec: str, out: Path, *, images: int = 4, samples: int = 5,
                  img_size: int | None = None, seed: int = 0, data_root: str | None = None) -> Path:
    """Write the grid to `out` (a new PNG; an existing file is never replaced) and return its path."""
    if images < 1 or samples < 1:
        raise BadInputError(f"--images and --samples must be at least 1, got {images} and {samples}")
    if out.exists():
        raise BadInputError(f"{out} already exists; choose another --out (an existing file is never replaced)")
    if out.suffix.lower() != ".png":
        raise BadInputError(f"--out {out} must name a .png file")
    _plot_grid(preview_rows(data, spec, images, samples, img_size, seed, data_root), spec, out)
    return out


def preview_rows(data: str, spec: str, images: int, samples: int, img_size: int | None, seed: int,
                 data_root: str | None) -> list[list[np.ndarray]]:
    """The grid's pictures: per image, the original then `samples` augmented draws (RGB, square)."""
    import torch

    from taskkit.data.augment import build_augmenter

    originals = _pick(data, data_root, images, seed)
    channels = originals[0][0].shape[2]
    size = img_size or (originals[0][0].shape[0] if _is_named(data) else 64)
    augmenter = build_augmenter(spec, channels, (size, size))
    if augmenter is None:
        raise BadInputError(f"--aug {spec} adds no augmentation; name some, e.g. --aug hflip,rotate=15")
    torch.manual_seed(seed)
    rows = []
    for image, mask in originals:
        row = [_shown(image, mask, size)]
        for _ in range(samples):
            drawn = augmenter(image=image, **({} if mask is None else {"mask": mask}))
            row.append(_shown(drawn["image"], drawn.get("mask"), size))
        rows.append(row)
    return rows


def _is_named(data: str) -> bool:
    from taskkit.data.sources import NAMED

    return data.lower() in NAMED


def _pick(data: str, data_root: str | None, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """`count` (image HWC uint8, mask or None) pairs drawn reproducibly from the data."""
    from taskkit.data import decoding
    from taskkit.data import images as img

    rng = np.random.default_rng(seed)
    folder = Path(data)
    if folder.is_dir() and any((folder / s / "images").is_dir() for s in ("", "train")):
        from taskkit.segmentation.masks import find_pairs, read_mask

        pairs = find_pairs(folder if (folder / "images").is_dir() else folder / "train")
        chosen = rng.permutation(len(pairs))[:count]
        return [(decoding.decode(pairs[i][0], 3), read_mask(pairs[i][1])) for i in sorted(chosen)]
    from taskkit.data.sources import ArraySource, resolve

    source = resolve(data, data_root)
    if isinstance(source, ArraySource):
        stacked = np.concatenate([part[0] for part in source.splits.values()])
        chosen = rng.permutation(len(stacked))[:count]
        return [(img.to_channels(stacked[i : i + 1], source.channels)[0], None) for i in sorted(chosen)]
    paths = [p for items in source.splits.values() for p, _ in items]
    if not paths:
        raise BadInputError(f"--data {data} has no images to preview")
    chosen = rng.permutation(len(paths))[:count]
    return [(decoding.decode(paths[i], 3), None) for i in sorted(chosen)]


def _shown(image: np.ndarray, mask: np.ndarray | None, size: int) -> np.ndarray:
    """An RGB picture at `size`: the image, with the outlines of the mask's regions drawn over it."""
    from PIL import Image

    image = np.asarray(image)
    rgb = np.repeat(image, 3, axis=2) if image.ndim == 3 and image.shape[2] == 1 else image
    rgb = np.array(Image.fromarray(rgb.astype(np.uint8)).resize((size, size), Image.BILINEAR))
    if mask is None:
        return rgb
    labels = np.asarray(Image.fromarray(np.asarray(mask).astype(np.uint8)).resize((size, size), Image.NEAREST))
    edge = np.zeros(labels.shape, dtype=bool)  # both pixels of every change, so a flip flips the outline
    rows, columns = labels[:-1] != labels[1:], labels[:, :-1] != labels[:, 1:]
    edge[:-1] |= rows
    edge[1:] |= rows
    edge[:, :-1] |= columns
    edge[:, 1:] |= columns
    rgb[edge] = OUTLINE
    return rgb


def _plot_grid(rows: list[list[np.ndarray]], spec: str, out: Path) -> None:
    from taskkit.storage.atomic import atomic_write
    from taskkit.report.plots import pyplot

    plt = pyplot()
    columns = len(rows[0])
    fig, axes = plt.subplots(len(rows), columns, figsize=(1.8 * columns, 1.8 * len(rows) + 0.5), squeeze=False)
    for r, row in enumerate(rows):
        for c, picture in enumerate(row):
            axes[r][c].imshow(picture, interpolation="nearest")
            axes[r][c].set_axis_off()
            if r == 0:
                axes[r][c].set_title("original" if c == 0 else f"sample {c}", fontsize=9)
    fig.suptitle(f"--aug {spec}", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
