"""Augmentation factories: each returns one albumentations transform, built from a few plain options.

A factory's first option is the one a spec sets with `name=value` (`rotate=15` is a rotation
limit of 15 degrees); the rest keep their defaults. `size` (height, width) is filled in by
the pipeline for the transforms that produce an image of a given size. Geometric transforms
move a mask with the image (albumentations applies them to both, nearest-neighbour for the
mask); colour ones leave masks alone. Factories marked `needs_colour` refuse grey images.
"""

from __future__ import annotations

import albumentations as A
import cv2

CONSTANT = cv2.BORDER_CONSTANT


def hflip(p: float = 0.5):
    """Mirror left-right with probability p."""
    return A.HorizontalFlip(p=p)


def vflip(p: float = 0.5):
    """Mirror top-bottom with probability p."""
    return A.VerticalFlip(p=p)


def rotate(limit: float = 15.0, p: float = 0.5):
    """Rotate by up to `limit` degrees either way, filling the corners with zeros."""
    return A.Rotate(limit=limit, border_mode=CONSTANT, p=p)


def random_resized_crop(scale: float = 0.5, size: tuple[int, int] = (224, 224), p: float = 1.0):
    """Crop a random part (`scale` to all of the area, aspect 3/4 to 4/3), resized to the training size."""
    return A.RandomResizedCrop(size=tuple(size), scale=(scale, 1.0), p=p)


def shift_scale_rotate(shift: float = 0.0625, scale: float = 0.1, rotate: float = 15.0, p: float = 0.5):
    """Shift by up to `shift` of the side, scale by 1 +- `scale`, rotate by up to `rotate` degrees."""
    return A.Affine(translate_percent=(-shift, shift), scale=(1 - scale, 1 + scale), rotate=(-rotate, rotate),
                    border_mode=CONSTANT, p=p)


def affine(degrees: float = 10.0, translate: float = 0.1, scale: float = 0.1, shear: float = 5.0, p: float = 0.5):
    """A random affine warp: rotation, translation, scaling and shear together."""
    return A.Affine(rotate=(-degrees, degrees), translate_percent=(-translate, translate),
                    scale=(1 - scale, 1 + scale), shear=(-shear, shear), border_mode=CONSTANT, p=p)


def perspective(scale: float = 0.05, p: float = 0.5):
    """A random perspective warp, corners moved by up to `scale` of the side."""
    return A.Perspective(scale=(min(0.01, scale), scale), p=p)


def brightness_contrast(limit: float = 0.2, p: float = 0.5):
    """Change brightness and contrast by up to `limit` (a fraction) each."""
    return A.RandomBrightnessContrast(brightness_limit=limit, contrast_limit=limit, p=p)


def hue_saturation(hue: int = 20, saturation: int = 30, value: int = 20, p: float = 0.5):
    """Shift hue, saturation and value by up to the given amounts."""
    return A.HueSaturationValue(hue_shift_limit=hue, sat_shift_limit=saturation, val_shift_limit=value, p=p)


hue_saturation.needs_colour = True


def color_jitter(strength: float = 0.2, p: float = 0.5):
    """torchvision's ColorJitter: brightness, contrast and saturation by `strength`, hue by a quarter of it."""
    return A.ColorJitter(brightness=strength, contrast=strength, saturation=strength, hue=strength / 4, p=p)


color_jitter.needs_colour = True


def gaussian_noise(std: float = 0.05, p: float = 0.5):
    """Add Gaussian noise of standard deviation up to `std` (a fraction of the full range)."""
    return A.GaussNoise(std_range=(min(0.01, std), std), p=p)


def blur(limit: int = 5, p: float = 0.5):
    """Box blur with a kernel of 3 to `limit` pixels."""
    return A.Blur(blur_limit=(3, max(3, int(limit))), p=p)


def coarse_dropout(holes: int = 8, extent: float = 0.1, p: float = 0.5):
    """Random erasing: blank up to `holes` rectangles of up to `extent` of the side (the mask is kept)."""
    return A.CoarseDropout(num_holes_range=(1, int(holes)), hole_height_range=(min(0.02, extent), extent),
                           hole_width_range=(min(0.02, extent), extent), fill=0, p=p)


def channel_shuffle(p: float = 0.5):
    """Permute the colour channels."""
    return A.ChannelShuffle(p=p)


channel_shuffle.needs_colour = True


def to_gray(p: float = 0.2):
    """Turn the image grey (kept at three channels)."""
    return A.ToGray(p=p)


to_gray.needs_colour = True

#: Registered names and their factories; `geometric` ones move masks with the image.
GEOMETRIC = {"hflip": hflip, "vflip": vflip, "rotate": rotate, "random-resized-crop": random_resized_crop,
             "shift-scale-rotate": shift_scale_rotate, "affine": affine, "perspective": perspective}
COLOUR = {"brightness-contrast": brightness_contrast, "hue-saturation": hue_saturation,
          "color-jitter": color_jitter, "gaussian-noise": gaussian_noise, "blur": blur,
          "coarse-dropout": coarse_dropout, "channel-shuffle": channel_shuffle, "to-gray": to_gray}

for _factory in GEOMETRIC.values():
    _factory.geometric = True
