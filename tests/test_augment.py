"""Augmentations: every registered one on images and masks, specs, presets, and training only."""

import numpy as np
import pytest
import torch

from conftest import one_line_error
from taskkit.data.augment import build_augmenter, is_geometric, parse_spec
from taskkit.data import load_image_data
from taskkit.errors import BadInputError
from taskkit.registries import AUGMENTATIONS
from taskkit.segmentation.shapes import draw_sample

NAMES = AUGMENTATIONS.names()


def sample(seed=0):
    """A 64x64 shapes image whose grey level encodes its mask (class * 60), and the mask."""
    _, mask = draw_sample(np.random.default_rng(seed), 64, 3, 0.0)
    return np.repeat(mask[..., None] * 60, 3, axis=-1).astype(np.uint8), mask


def certain(name):
    """The augmentation with p=1, so that every call applies it."""
    return build_augmenter([name], 3, (64, 64)) if "p" not in AUGMENTATIONS.entry(name).options() else \
        _always(name)


def _always(name):
    from taskkit.data.augment import Augmenter

    options = {"size": (64, 64)} if "size" in AUGMENTATIONS.entry(name).options() else {}
    return Augmenter([AUGMENTATIONS.build(name, p=1.0, **options)], name)


def test_the_built_in_augmentations_are_registered_as_geometric_and_colour():
    geometric = {"hflip", "vflip", "rotate", "random-resized-crop", "shift-scale-rotate", "affine", "perspective"}
    colour = {"brightness-contrast", "hue-saturation", "color-jitter", "gaussian-noise", "blur", "coarse-dropout",
              "channel-shuffle", "to-gray"}
    assert set(NAMES) == geometric | colour
    assert {n for n in NAMES if is_geometric(n)} == geometric
    assert AUGMENTATIONS.entry("random-erasing").name == "coarse-dropout"


@pytest.mark.parametrize("name", NAMES)
def test_each_augmentation_runs_on_an_image_and_moves_a_mask_as_the_image(name):
    image, mask = sample()
    torch.manual_seed(0)
    alone = certain(name)(image=image)["image"]
    assert alone.shape == image.shape and alone.dtype == np.uint8
    torch.manual_seed(1)
    out = certain(name)(image=image, mask=mask)
    assert out["image"].shape == image.shape and out["mask"].shape == mask.shape
    if is_geometric(name):
        painted = np.rint(out["image"][..., 0] / 60.0).astype(int)
        agree = (painted == out["mask"]).mean()
        exact = name in ("hflip", "vflip")
        assert agree == 1.0 if exact else agree > 0.97, (name, agree)
        assert not np.array_equal(out["mask"], mask) or name == "random-resized-crop"
    else:
        assert np.array_equal(out["mask"], mask)


def test_flips_move_every_pixel_of_image_and_mask_exactly():
    image, mask = sample(3)
    out = _always("hflip")(image=image, mask=mask)
    assert np.array_equal(out["image"], image[:, ::-1]) and np.array_equal(out["mask"], mask[:, ::-1])


def test_specs_expand_presets_and_set_the_first_option():
    assert parse_spec("none") == [] and parse_spec("") == []
    assert parse_spec("basic") == [("hflip", None), ("shift-scale-rotate", None)]
    assert parse_spec("hflip,rotate=15,color-jitter") == [("hflip", None), ("rotate", 15.0), ("color-jitter", None)]
    assert parse_spec(["rotate=30"]) == [("rotate", 30.0)]  # a YAML list in a config file
    rotation = build_augmenter("rotate=15", 3, (64, 64)).compose.transforms[0]
    assert tuple(rotation.limit) == (-15, 15)


def test_the_same_torch_seed_gives_the_same_augmented_image():
    image, mask = sample()
    pipeline = build_augmenter("strong", 3, (64, 64))
    torch.manual_seed(5)
    first = pipeline(image=image, mask=mask)
    torch.manual_seed(5)
    second = pipeline(image=image, mask=mask)
    assert np.array_equal(first["image"], second["image"]) and np.array_equal(first["mask"], second["mask"])


def test_training_alone_is_augmented():
    plain = load_image_data("digits", seed=0)
    augmented = load_image_data("digits", seed=0, augment="rotate=30,gaussian-noise")
    assert augmented.train.augment is not None and repr(augmented.train.augment) == "Augmenter('rotate=30,gaussian-noise')"
    assert augmented.val.augment is None and augmented.test.augment is None
    for split in ("val", "test"):
        assert torch.equal(getattr(plain, split)[0][0], getattr(augmented, split)[0][0])
    torch.manual_seed(0)
    assert not torch.equal(plain.train[0][0], augmented.train[0][0])


def test_colour_augmentations_refuse_grey_images():
    with pytest.raises(BadInputError, match="needs colour images"):
        build_augmenter("hue-saturation", 1, (8, 8))


def test_bad_specs_are_one_line_errors(capsys, tmp_path):
    common = ["classify", "--data", "digits", "--epochs", "1", "--out", str(tmp_path)]
    line = one_line_error(capsys, *common, "--aug", "hflp,rotate=10")
    assert "unknown augmentation 'hflp'" in line and "did you mean 'hflip'" in line
    line = one_line_error(capsys, *common, "--aug", "rotate=lots")
    assert "--aug rotate=lots: the value must be a number" in line
    line = one_line_error(capsys, *common, "--aug", "color-jitter")
    assert "needs colour images" in line
    assert not any(tmp_path.iterdir())


def test_rotations_fill_the_mask_border_with_the_ignore_value():
    import numpy as np

    from taskkit.data.augment import build_augmenter

    image, mask = np.full((16, 16, 3), 100, np.uint8), np.ones((16, 16), np.uint8)
    for fill, expected in ((255, {1, 255}), (None, {0, 1})):
        augmenter = build_augmenter(["rotate=45", "coarse-dropout"], 3, (16, 16), mask_fill=fill)
        rotated = augmenter.compose.transforms[0]
        rotated.p = augmenter.compose.transforms[1].p = 1.0
        rotated.limit = (45, 45)  # always a border to fill
        values = set(np.unique(augmenter(image=image, mask=mask)["mask"]).tolist())
        assert values == expected
