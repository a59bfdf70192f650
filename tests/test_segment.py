"""`tk segment`: image/mask folders, training, pixel metrics, eval, predicted masks, bad input."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from conftest import kill_at_a_random_step_then_resume, one_line_error, tk_in_process
from taskkit.data.augment import build_augmenter
from taskkit.segmentation.data import MaskedImages, load_segmentation_data
from taskkit.segmentation.metrics import DenseEvaluation, segmentation_report
from taskkit.segmentation.shapes import CLASSES, write_shapes
from taskkit.tasks.segment.predict import class_colours

FAST = ["--backbone", "segnet_small", "--head", "segnet", "--epochs", "2", "--batch-size", "8", "--quiet"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return write_shapes(tmp_path_factory.mktemp("seg") / "shapes", count=40, size=32, seed=1)


def copy_of(shapes, tmp_path):
    target = tmp_path / "data"
    shutil.copytree(shapes, target)
    return target


def checksums(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generated_shapes_are_pairs_of_images_and_masks_of_the_four_classes(shapes):
    images, masks = sorted((shapes / "images").iterdir()), sorted((shapes / "masks").iterdir())
    assert [p.name for p in images] == [p.name for p in masks] and len(images) == 40
    assert (shapes / "classes.txt").read_text().split() == list(CLASSES)
    values = set()
    for path in masks:
        mask = np.asarray(Image.open(path))
        assert mask.shape == (32, 32)
        values |= set(np.unique(mask).tolist())
    assert values == {0, 1, 2, 3}


def test_data_shapes_command_writes_a_dataset_and_refuses_a_folder_in_use(capsys, tmp_path):
    code, out, err = tk_in_process(capsys, "data", "shapes", str(tmp_path / "new"), "--count", "5", "--size", "24")
    assert code == 0, err
    assert len(list((tmp_path / "new" / "masks").iterdir())) == 5
    line = one_line_error(capsys, "data", "shapes", str(tmp_path / "new"), "--count", "5")
    assert "already holds files" in line


def test_pairs_are_split_resized_together_and_ignored_pixels_marked(shapes):
    data = load_segmentation_data(shapes, img_size=16, val_split=0.2, test_split=0.2, seed=0, ignore_value=3)
    assert (len(data.train), len(data.val), len(data.test)) == (24, 8, 8)
    assert data.classes == list(CLASSES) and data.size == (16, 16) and data.in_channels == 3
    image, target = data.val[0]
    assert image.shape == (3, 16, 16) and target.shape == (16, 16) and target.dtype == torch.long
    assert set(target.unique().tolist()) <= {-100, 0, 1, 2}
    train_files = {pair[0] for pair in data.train.pairs}
    assert not train_files & {pair[0] for pair in data.test.pairs}


def test_basic_augmentation_moves_mask_with_image(tmp_path, shapes):
    """An image painted from its own mask (grey level 80 per class) stays in register through
    the flips and warps: reading the class back from the augmented image gives the augmented mask."""
    data = copy_of(shapes, tmp_path)
    for path in sorted((data / "masks").iterdir())[:6]:
        mask = np.asarray(Image.open(path))
        Image.fromarray(np.repeat(mask[..., None] * 80, 3, axis=-1).astype(np.uint8)).save(data / "images" / path.name)
    pairs = [(str(data / "images" / p.name), str(p)) for p in sorted((data / "masks").iterdir())[:6]]
    plain = MaskedImages(pairs, 3, (32, 32), [0.0] * 3, [1.0] * 3)
    augmented = MaskedImages(pairs, 3, (32, 32), [0.0] * 3, [1.0] * 3, augment=build_augmenter("basic", 3, (32, 32)))
    torch.manual_seed(0)
    moved = 0
    for index in range(len(pairs)):
        image, target = augmented[index]
        painted = (image[0] * 255 / 80).round().long()
        assert (painted == target).float().mean() > 0.95
        moved += not torch.equal(target, plain[index][1])
    assert moved >= 2


def test_segnet_trains_reports_pixel_metrics_and_its_report_reloads(capsys, tmp_path, shapes):
    code, out, err = tk_in_process(capsys, "segment", "--data", str(shapes), *FAST, "--out", str(tmp_path),
                                   "--name", "seg", "--json")
    assert code == 0, err
    report = json.loads(out)["test"]
    assert report["samples"] == 4 and report["pixels"] == 4 * 32 * 32
    assert set(report["per_class"]) == set(CLASSES)
    assert 0 <= report["mean_iou"] <= 1 and report["pixel_accuracy"] > 0.5
    matrix = np.array(report["confusion_matrix"])
    assert matrix.sum() == report["pixels"]
    assert report["pixel_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    run = tmp_path / "seg"
    record = json.loads((run / "run.json").read_text())
    assert record["task"] == "segment" and record["model"]["input_size"] == [32, 32]
    history = (run / "metrics.csv").read_text().splitlines()
    assert "val_miou" in history[0] and len(history) == 3
    for name in ("model.safetensors", "last.ckpt", "config.yaml", "confusion_matrix.png", "curves.png"):
        assert (run / name).is_file(), name
    code, out, err = tk_in_process(capsys, "summary", str(run), "--depth", "1")
    assert code == 0, err
    assert "4x32x32" in out and "3x32x32" in out
    code, out, err = tk_in_process(capsys, "eval", str(run), "--json")
    assert code == 0, err
    again = json.loads(out)["test"]
    assert again["confusion_matrix"] == report["confusion_matrix"]
    assert again["mean_iou"] == pytest.approx(report["mean_iou"])


def test_predict_writes_palette_masks_of_the_image_size_and_overlays(capsys, tmp_path, shapes):
    code, _, err = tk_in_process(capsys, "segment", "--data", str(shapes), *FAST, "--epochs", "1",
                                 "--out", str(tmp_path), "--name", "seg")
    assert code == 0, err
    photo = tmp_path / "big.png"
    Image.open(shapes / "images" / "00.png").resize((48, 40)).save(photo)
    code, out, err = tk_in_process(capsys, "predict", str(tmp_path / "seg"), str(photo), "--json")
    assert code == 0, err
    result = json.loads(out)[0]
    mask = Image.open(result["mask"])
    assert mask.mode == "P" and mask.size == (48, 40)
    values = np.asarray(mask)
    assert values.max() < len(CLASSES)
    assert mask.getpalette()[:12] == class_colours(4).ravel().tolist()
    assert sum(result["classes"].values()) == pytest.approx(1.0, abs=1e-3)
    overlay = Image.open(result["overlay"])
    assert overlay.mode == "RGB" and overlay.size == (48, 40)
    assert result["mask"].startswith(str(tmp_path / "seg" / "predictions"))
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    (elsewhere / "big_mask.png").write_bytes(b"user's file")
    line = one_line_error(capsys, "predict", str(tmp_path / "seg"), str(photo), "--out", str(elsewhere))
    assert "already exists" in line and (elsewhere / "big_mask.png").read_bytes() == b"user's file"


def test_image_without_mask_is_named(capsys, tmp_path, shapes):
    data = copy_of(shapes, tmp_path)
    (data / "masks" / "07.png").unlink()
    before = checksums(data)
    line = one_line_error(capsys, "segment", "--data", str(data), *FAST, "--out", str(tmp_path / "runs"))
    assert "07.png' has no mask" in line and str(data / "images" / "07.png") in line
    assert checksums(data) == before and not (tmp_path / "runs").exists()


def test_mask_of_another_size_is_refused(capsys, tmp_path, shapes):
    data = copy_of(shapes, tmp_path)
    Image.fromarray(np.zeros((30, 32), dtype=np.uint8)).save(data / "masks" / "03.png")
    line = one_line_error(capsys, "segment", "--data", str(data), *FAST, "--out", str(tmp_path / "runs"))
    assert "03.png' is 32x30 but its image" in line and "32x32" in line


def test_mask_value_outside_the_classes_is_refused_unless_ignored(capsys, tmp_path, shapes):
    data = copy_of(shapes, tmp_path)
    mask = np.asarray(Image.open(data / "masks" / "05.png")).copy()
    mask[:2, :2] = 9
    Image.fromarray(mask).save(data / "masks" / "05.png")
    line = one_line_error(capsys, "segment", "--data", str(data), *FAST, "--out", str(tmp_path / "runs"))
    assert "05.png' has value 9, outside the 4 classes (0 to 3)" in line and "--ignore-index 9" in line
    loaded = load_segmentation_data(data, ignore_value=9, val_split=0.2, test_split=0.2)
    assert loaded.classes == list(CLASSES)


def test_colour_masks_and_missing_folders_are_one_line_errors(capsys, tmp_path, shapes):
    data = copy_of(shapes, tmp_path)
    Image.new("RGB", (32, 32)).save(data / "masks" / "01.png")
    assert "is a RGB image, not class numbers" in one_line_error(
        capsys, "segment", "--data", str(data), *FAST, "--out", str(tmp_path / "runs"))
    shutil.rmtree(data / "masks")
    assert "has no masks/ folder" in one_line_error(
        capsys, "segment", "--data", str(data), *FAST, "--out", str(tmp_path / "runs"))


def test_pairings_that_cannot_work_are_refused_in_one_line(capsys, tmp_path, shapes):
    common = ["segment", "--data", str(shapes), "--out", str(tmp_path), "--epochs", "1"]
    line = one_line_error(capsys, *common, "--backbone", "resnet18", "--head", "segnet")
    assert "does not record" in line and "segnet_small" in line and "segnet_vgg16" in line
    line = one_line_error(capsys, *common, "--backbone", "segnet_small", "--head", "segnet", "--upsample", "bilinear")
    assert "takes no --upsample" in line and "unet" in line
    line = one_line_error(capsys, *common, "--head", "linear")
    assert "head 'linear' is for images, not segmentation" in line and "unet" in line
    line = one_line_error(capsys, "classify", "--data", "digits", "--head", "unet", "--epochs", "1", "--out", str(tmp_path))
    assert "head 'unet' is for segmentation, not images" in line
    line = one_line_error(capsys, *common, "--loss", "bce")
    assert "loss 'bce' cannot score per-pixel classes" in line and "ce+dice" in line and "dice" in line
    line = one_line_error(capsys, *common, "--head", "unet", "--upsample", "cubic")
    assert "--upsample must be one of nearest, bilinear, bicubic, transposed" in line


def test_report_metrics_follow_from_the_confusion_matrix():
    confusion = torch.tensor([[50, 10, 0], [5, 35, 0], [0, 0, 0]])
    report = segmentation_report(DenseEvaluation(0.0, 2, confusion), ["a", "b", "c"])
    assert report["per_class"]["a"]["iou"] == pytest.approx(50 / 65)
    assert report["per_class"]["b"]["iou"] == pytest.approx(35 / 50)
    assert report["per_class"]["a"]["dice"] == pytest.approx(100 / 115)
    assert report["per_class"]["c"]["iou"] is None  # absent from truth and prediction: no score
    assert report["mean_iou"] == pytest.approx((50 / 65 + 35 / 50) / 2)
    assert report["pixel_accuracy"] == pytest.approx(85 / 100)


@pytest.mark.slow
@pytest.mark.parametrize("backbone,head,bound", [("resnet18", "unet", 0.8), ("segnet_small", "segnet", 0.7)])
def test_shapes_reach_the_mean_iou_the_decoders_promise(capsys, tmp_path, backbone, head, bound):
    """The runs benchmarks/segment_shapes.py records (a few minutes each on 2 CPU cores)."""
    data = write_shapes(tmp_path / "shapes", count=400, size=64, seed=0)
    code, out, err = tk_in_process(capsys, "segment", "--data", str(data), "--backbone", backbone, "--head", head,
                                   "--epochs", "12", "--batch-size", "8", "--loss", "ce+dice", "--aug", "none",
                                   "--quiet", "--out", str(tmp_path), "--json")
    assert code == 0, err
    assert json.loads(out)["test"]["mean_iou"] >= bound


@pytest.mark.slow  # three processes, about 40 s
def test_sigkill_at_a_random_step_then_resume_matches_an_uninterrupted_run(tmp_path):
    data = write_shapes(tmp_path / "shapes", count=160, size=32, seed=2)
    whole, killed, delay = kill_at_a_random_step_then_resume(
        "segment", ["--data", str(data), *FAST[:4], "--batch-size", "8", "--aug", "basic", "--quiet", "--device", "cpu"],
        tmp_path / "runs")
    a, b = load_file(whole / "model.safetensors"), load_file(killed / "model.safetensors")
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a), f"weights differ (killed {delay:.2f} s in)"
