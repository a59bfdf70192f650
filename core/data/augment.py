"""Augmentation specs (`--aug hflip,rotate=15,color-jitter`) turned into one seeded pipeline.

A spec is a comma-separated list of registered augmentation names, each optionally with
`=value` for its first option, or a preset (`none`, `basic`, `strong`), alone or mixed with
names. The pipeline draws its randomness from torch's generator, which the engine seeds
every epoch, so a seeded run, and a resumed one, sees the same augmented images.
"""

from __future__ import annotations

from typing import Any

from taskkit.components import flag
from taskkit.errors import BadInputError, one_line

PRESETS = {
    "none": [],
    "basic": ["hflip", "shift-scale-rotate"],
    "strong": ["hflip", "random-resized-crop=0.6", "brightness-contrast", "coarse-dropout"],
}


def parse_spec(spec: str | list | None) -> list[tuple[str, float | None]]:
    """`(name, value)` pairs of a spec, presets expanded, names checked against the registry."""
    from taskkit.registries import AUGMENTATIONS

    items = spec if isinstance(spec, list) else str(spec or "none").split(",")
    chosen: list[tuple[str, float | None]] = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if item in PRESETS:
            chosen += parse_spec(PRESETS[item]) if PRESETS[item] else []
            continue
        name, _, value = item.partition("=")
        name = AUGMENTATIONS.entry(name.strip()).name  # unknown names fail here, with a suggestion
        chosen.append((name, _number(name, value.strip()) if value.strip() else None))
    return chosen


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadInputError(f"--aug {name}={text}: the value must be a number (it sets '{name}''s first option)") from None


class Augmenter:
    """An albumentations pipeline called like one (`augmenter(image=..., mask=...)`), reseeded
    on every call: from `seed` where the caller has one for the item, else from torch's generator."""

    def __init__(self, transforms: list[Any], spec: str):
        import albumentations as A

        self.compose, self.spec = A.Compose(transforms), spec

    def __call__(self, seed: int | None = None, **data: Any) -> dict[str, Any]:
        if seed is None:
            import torch

            seed = int(torch.randint(2**31 - 1, ()).item())
        self.compose.set_random_seed(seed)
        return self.compose(**data)

    def __repr__(self) -> str:
        return f"Augmenter({self.spec!r})"


def build_augmenter(spec: str | list | None, channels: int, size: tuple[int, int],
                    mask_fill: int | None = None) -> Augmenter | None:
    """The pipeline of a spec for images of `channels` channels trained at `size`; None for none.

    `mask_fill` (a segmentation run's `--ignore-index` value) is what the geometric transforms
    fill the mask's new border with, so pixels rotated in from outside the image count as
    unlabelled rather than as class 0.
    """
    from taskkit.registries import AUGMENTATIONS

    transforms = []
    for name, value in parse_spec(spec):
        entry = AUGMENTATIONS.entry(name)
        if flag(entry.factory, "needs_colour") and channels == 1:
            raise BadInputError(f"augmentation '{name}' needs colour images, and these are grayscale; leave it out")
        options = list(entry.options())
        kwargs: dict[str, Any] = {"size": tuple(size)} if "size" in options else {}
        if value is not None:
            kwargs[options[0]] = value
        try:
            transform = AUGMENTATIONS.build(name, **kwargs)
        except BadInputError:
            raise
        except Exception as exc:  # albumentations checks its arguments with several error types
            raise BadInputError(f"--aug {name}={value}: {one_line(exc)}") from None
        if mask_fill is not None and flag(transform, "fill_mask") is not None:
            transform.fill_mask = mask_fill  # None means the transform leaves masks alone (coarse-dropout)
        transforms.append(transform)
    return Augmenter(transforms, spec if isinstance(spec, str) else ",".join(map(str, spec))) if transforms else None


def is_geometric(name: str) -> bool:
    """Whether an augmentation moves pixels (and so a mask) rather than changing their values."""
    from taskkit.registries import AUGMENTATIONS

    return bool(flag(AUGMENTATIONS.entry(name).factory, "geometric"))
