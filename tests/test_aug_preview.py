"""`tk aug preview`: the grid of augmented samples, on image data and on image-mask pairs."""

import numpy as np
import pytest
from PIL import Image

from conftest import one_line_error, tk_in_process


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    from taskkit.segmentation.shapes import write_shapes

    folder = tmp_path_factory.mktemp("shapes")
    write_shapes(folder, count=6, size=32, seed=0)
    return folder


def test_preview_writes_a_grid_png_of_rows_and_samples(tmp_path, capsys):
    out = tmp_path / "grid.png"
    code, printed, err = tk_in_process(capsys, "aug", "preview", "--data", "digits", "--aug", "hflip,rotate=15",
                                       "--out", str(out), "--images", "3", "--samples", "4")
    assert code == 0, err
    assert str(out) in printed
    picture = np.asarray(Image.open(out).convert("L"))
    assert picture.shape[1] > picture.shape[0]  # 5 columns, 3 rows
    assert picture.std() > 20  # images, not a blank canvas


def test_the_samples_are_the_training_pipeline_applied_to_the_original():
    from taskkit.preview.augmentations import preview_rows

    rows = preview_rows("digits", "hflip=1", images=2, samples=3, img_size=None, seed=0, data_root=None)
    assert len(rows) == 2 and all(len(row) == 4 for row in rows)
    for original, *samples in rows:
        for sample in samples:
            assert np.array_equal(sample, original[:, ::-1])


def test_mask_outlines_move_with_the_image(shapes):
    from taskkit.preview.augmentations import OUTLINE, preview_rows

    rows = preview_rows(str(shapes), "vflip=1", images=3, samples=1, img_size=None, seed=1, data_root=None)
    for original, flipped in rows:
        outline = np.all(original == OUTLINE, axis=2)
        assert outline.any()
        assert np.array_equal(np.all(flipped == OUTLINE, axis=2), outline[::-1])


def test_bad_previews_are_one_line_errors(tmp_path, capsys):
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"mine")
    assert "already exists" in one_line_error(capsys, "aug", "preview", "--data", "digits", "--aug", "hflip",
                                              "--out", str(taken))
    assert taken.read_bytes() == b"mine"
    assert "did you mean 'hflip'" in one_line_error(capsys, "aug", "preview", "--data", "digits", "--aug", "hflp",
                                                    "--out", str(tmp_path / "a.png"))
    assert "adds no augmentation" in one_line_error(capsys, "aug", "preview", "--data", "digits", "--aug", "none",
                                                    "--out", str(tmp_path / "b.png"))
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "b.png").exists()
