"""Built-in augmentations: albumentations transforms by name, geometric and colour.

Geometric: hflip, vflip, rotate, random-resized-crop, shift-scale-rotate, affine,
perspective. Colour: brightness-contrast, hue-saturation, color-jitter, gaussian-noise,
blur, coarse-dropout (alias random-erasing), channel-shuffle, to-gray. A task composes them
from a spec such as `--aug hflip,rotate=15,color-jitter` (see `taskkit.data.augment`). The
factories import albumentations and live in `transforms.py`, loaded when the registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_augmentations(augmentations):
    from taskkit.plugins.augmentations import transforms

    for name, factory in {**transforms.GEOMETRIC, **transforms.COLOUR}.items():
        aliases = ("random-erasing",) if name == "coarse-dropout" else ()
        augmentations.register(name, aliases=aliases)(factory)
