"""The image-data layer: named datasets, folders, manifests, splits, bad files and checks.

Every image is made here with PIL in `tmp_path`; the only dataset not made here is
scikit-learn's bundled digits. Nothing touches the network.
"""

import hashlib
import json
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from taskkit.data import ImageData, check_data, load_image_data, load_image_for_prediction
from taskkit.errors import BadInputError


def save_image(path: Path, color=(0, 0, 0), size=(12, 12), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = color if mode == "RGB" else color[0]
    Image.new(mode, size, value).save(path)
    return path


def make_classes(root: Path, counts: dict, mode="RGB", size=(12, 12), colors=None) -> Path:
    """`root/<class>/<i>.png` with `counts[class]` images; each image a flat colour."""
    for k, (name, n) in enumerate(sorted(counts.items())):
        for i in range(n):
            color = colors[name] if colors else (20 * k, 7 * i % 256, 100)
            save_image(root / name / f"{i:03d}.png", color, size, mode)
    return root


def tree_digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def bad_input(match: str, **kwargs):
    """Run load_image_data and return the one-line message of the BadInputError it must raise."""
    with pytest.raises(BadInputError, match=match) as info:
        load_image_data(**kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def classes_per_split(data: ImageData) -> dict:
    return {s: set(getattr(data, s).targets) for s in ("train", "val", "test")}


class Invert:
    """A picklable augmentation with the albumentations call convention; records what it saw."""

    def __init__(self):
        self.seen = []

    def __call__(self, image):
        self.seen.append((image.shape, image.dtype))
        return {"image": 255 - image}


# ---------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits():
    return load_image_data("digits")


def test_digits_defaults(digits):
    assert len(digits.train) + len(digits.val) + len(digits.test) == 1797
    assert (len(digits.train), len(digits.val), len(digits.test)) == (1437, 180, 180)
    assert digits.classes == [str(i) for i in range(10)]
    assert (digits.in_channels, digits.img_size, digits.source, digits.skipped) == (1, 8, "digits", [])
    image, label = digits.train[0]
    assert image.shape == (1, 8, 8) and image.dtype == torch.float32 and isinstance(label, int)
    assert all(found == set(range(10)) for found in classes_per_split(digits).values())
    assert digits.train_targets() == digits.train.targets
    assert Counter(digits.train_targets())[0] == 142


def test_digits_stats_come_from_train_split(digits):
    train = torch.stack([digits.train[i][0] for i in range(len(digits.train))])
    assert train.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert train.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)
    test = torch.stack([digits.test[i][0] for i in range(len(digits.test))])
    assert test.mean().item() != pytest.approx(0.0, abs=1e-5)
    assert digits.mean[0] == pytest.approx(0.3056, abs=1e-3)


def test_digits_min_size_and_channels():
    data = load_image_data("digits", img_size=16, min_img_size=28, in_channels=3)
    assert (data.img_size, data.in_channels) == (28, 3)
    assert data.val[0][0].shape == (3, 28, 28)
    assert data.mean == [pytest.approx(data.mean[0])] * 3


def test_digits_splits_are_reproducible(digits):
    again = load_image_data("digits", seed=0)
    other = load_image_data("digits", seed=1)
    assert again.test.targets == digits.test.targets
    assert torch.equal(again.test[5][0], digits.test[5][0])
    assert not np.array_equal(other.test.images, digits.test.images)


def test_digits_augment_touches_train_only(digits):
    invert = Invert()
    data = load_image_data("digits", train_augment=invert)
    mean, std = digits.mean[0], digits.std[0]
    plain, flipped = digits.train[3][0] * std + mean, data.train[3][0] * std + mean
    assert torch.allclose(flipped, 1.0 - plain, atol=1e-5)
    assert invert.seen == [((8, 8, 1), np.uint8)]
    assert torch.equal(data.val[3][0], digits.val[3][0]) and torch.equal(data.test[3][0], digits.test[3][0])
    assert data.mean == digits.mean
    assert len(invert.seen) == 1


# ---------------------------------------------------------------- folders and manifests


def test_class_folders(tmp_path):
    root = make_classes(tmp_path / "photos", {"zebra": 10, "cat": 10, "dog": 10}, size=(20, 12))
    data = load_image_data(str(root))
    assert data.classes == ["cat", "dog", "zebra"]
    assert (data.in_channels, data.img_size) == (3, 64)
    assert (len(data.train), len(data.val), len(data.test)) == (24, 3, 3)
    assert all(found == {0, 1, 2} for found in classes_per_split(data).values())
    image, label = data.test[0]
    assert image.shape == (3, 64, 64) and label == 0
    all_paths = sorted(data.train.paths + data.val.paths + data.test.paths)
    assert all_paths == sorted(str(p) for p in root.rglob("*.png"))
    assert data.train.paths == sorted(data.train.paths)


def test_grayscale_detection_and_min_size(tmp_path):
    gray = make_classes(tmp_path / "gray", {"a": 5, "b": 5}, mode="L")
    data = load_image_data(str(gray), img_size=8, min_img_size=28, val_split=0.2, test_split=0.2)
    assert (data.in_channels, data.img_size, data.train[0][0].shape) == (1, 28, (1, 28, 28))
    save_image(gray / "a" / "000.png", (1, 2, 3))
    assert load_image_data(str(gray), val_split=0.0, test_split=0.0).in_channels == 3


def test_sixteen_bit_images_scale_to_eight_bits(tmp_path):
    for name, value in (("dark", 0), ("bright", 65535)):
        for i in range(3):
            (tmp_path / "d" / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((6, 6), value, dtype=np.uint16)).save(tmp_path / "d" / name / f"{i}.png")
    data = load_image_data(str(tmp_path / "d"), img_size=6)
    assert data.in_channels == 1
    assert data.mean == [pytest.approx(0.5)] and data.std == [pytest.approx(0.5)]


def test_mean_std_of_train_split_and_constant_channels(tmp_path):
    colors = {"a": (255, 0, 51), "b": (255, 255, 51)}
    root = make_classes(tmp_path / "flat", {"a": 10, "b": 10}, colors=colors, size=(10, 10))
    data = load_image_data(str(root), img_size=16)
    assert data.mean == [pytest.approx(1.0), pytest.approx(0.5), pytest.approx(0.2)]
    assert data.std == [pytest.approx(1.0), pytest.approx(0.5), pytest.approx(1.0)]
    image, label = data.val[0]
    assert torch.allclose(image[1], torch.full((16, 16), 1.0 if label == 1 else -1.0))


def test_split_folders_are_used_as_given(tmp_path):
    root = tmp_path / "split"
    make_classes(root / "train", {"a": 4, "b": 4}, colors={"a": (0, 0, 0), "b": (0, 0, 0)})
    make_classes(root / "val", {"a": 1, "b": 1}, colors={"a": (255, 255, 255), "b": (255, 255, 255)})
    make_classes(root / "test", {"a": 2, "b": 1})
    data = load_image_data(str(root))
    assert data.classes == ["a", "b"]
    assert data.val.paths == [str(root / "val" / "a" / "000.png"), str(root / "val" / "b" / "000.png")]
    assert (len(data.train), len(data.test), data.test.targets) == (8, 3, [0, 0, 1])
    assert data.mean == [0.0, 0.0, 0.0]


def test_missing_val_is_carved_from_train(tmp_path):
    root = tmp_path / "split"
    make_classes(root / "train", {"a": 10, "b": 10})
    make_classes(root / "test", {"a": 2, "b": 2})
    data = load_image_data(str(root), val_split=0.2)
    assert (len(data.train), len(data.val), len(data.test)) == (16, 4, 4)
    assert all(str(root / "train") in p for p in data.val.paths)
    assert Counter(data.val.targets) == {0: 2, 1: 2}


def test_rare_class_still_reaches_every_split(tmp_path):
    root = make_classes(tmp_path / "skewed", {"common": 60, "rare": 3})
    data = load_image_data(str(root))
    assert all(found == {0, 1} for found in classes_per_split(data).values())
    assert len(data.train) + len(data.val) + len(data.test) == 63


def test_csv_and_jsonl_manifests(tmp_path):
    make_classes(tmp_path / "imgs", {"cat": 5, "dog": 5})
    rows = [(f"imgs/{c}/{i:03d}.png", c) for c in ("dog", "cat") for i in range(5)]
    csv_path = tmp_path / "list.csv"
    csv_path.write_text("label,path,extra\n" + "".join(f"{label},{path},x\n" for path, label in rows))
    jsonl = tmp_path / "list.jsonl"
    jsonl.write_text("".join(json.dumps({"path": p, "label": c}) + "\n\n" for p, c in rows))
    for manifest in (csv_path, jsonl):
        data = load_image_data(str(manifest), img_size=8, val_split=0.2, test_split=0.2)
        assert data.classes == ["cat", "dog"] and data.img_size == 8
        assert sorted(data.train.paths + data.val.paths + data.test.paths) == sorted(
            str(tmp_path / p) for p, _ in rows)
        labelled = {p: t for split in (data.train, data.val, data.test) for p, t in zip(split.paths, split.targets)}
        assert labelled[str(tmp_path / "imgs/dog/000.png")] == 1 and labelled[str(tmp_path / "imgs/cat/004.png")] == 0
        assert all(found == {0, 1} for found in classes_per_split(data).values())


def test_run_classes_and_stats_for_evaluation(tmp_path):
    root = make_classes(tmp_path / "new", {"cat": 3, "dog": 3}, colors={"cat": (0, 0, 0), "dog": (0, 0, 0)})
    data = load_image_data(str(root), classes=["bird", "cat", "dog"], val_split=0.0, test_split=0.0,
                           mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])
    assert data.classes == ["bird", "cat", "dog"]
    assert sorted(data.train.targets) == [1, 1, 1, 2, 2, 2]
    assert len(data.val) == len(data.test) == 0
    assert (data.mean, data.std) == ([0.5] * 3, [0.25] * 3)
    assert torch.equal(data.train[0][0], torch.full((3, 64, 64), -2.0))
    bad_input("mean and std need 3 value", data=str(root), mean=[0.5], std=[0.25])
    assert load_image_data("digits", mean=[0.0], std=[1.0]).train[0][0].max() <= 1.0


def test_augment_is_train_only_and_datasets_pickle(tmp_path):
    root = make_classes(tmp_path / "p", {"a": 5, "b": 5})
    invert = Invert()
    data = load_image_data(str(root), img_size=8, val_split=0.2, test_split=0.2, train_augment=invert)
    plain = load_image_data(str(root), img_size=8, val_split=0.2, test_split=0.2)
    assert torch.equal(data.val[0][0], plain.val[0][0])
    assert not torch.equal(data.train[0][0], plain.train[0][0])
    assert invert.seen == [((8, 8, 3), np.uint8)]  # augmented at the training size, as a cache holds it
    copy = pickle.loads(pickle.dumps(data.train))
    assert torch.equal(copy[1][0], data.train[1][0])


def test_prediction_matches_evaluation(tmp_path):
    root = make_classes(tmp_path / "p", {"a": 5, "b": 5}, size=(30, 17))
    data = load_image_data(str(root), img_size=20, val_split=0.2, test_split=0.2)
    path = data.test.paths[0]
    image = load_image_for_prediction(path, in_channels=data.in_channels, img_size=data.img_size,
                                      mean=data.mean, std=data.std)
    assert image.shape == (3, 20, 20) and torch.equal(image, data.test[0][0])
    with pytest.raises(BadInputError, match="does not exist"):
        load_image_for_prediction(str(tmp_path / "nope.png"), in_channels=3, img_size=8, mean=[0] * 3, std=[1] * 3)


# ---------------------------------------------------------------- bad files


@pytest.fixture
def with_bad_files(tmp_path):
    root = make_classes(tmp_path / "mixed", {"a": 6, "b": 6})
    (root / "a" / "notes.png").write_text("this is text, not a png")
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "b" / "noise.png")
    good = (root / "b" / "noise.png").read_bytes()
    (root / "b" / "noise.png").unlink()
    (root / "b" / "cut.png").write_bytes(good[: len(good) // 2])
    (root / "b" / "empty.jpg").write_bytes(b"")
    (root / "a" / "readme.txt").write_text("ignored: not an image extension")
    return root


def test_unreadable_files_are_skipped_and_reported(with_bad_files):
    root = with_bad_files
    before = tree_digest(root)
    data = load_image_data(str(root), val_split=0.2, test_split=0.2)
    for split in (data.train, data.val, data.test):
        for i in range(len(split)):
            split[i]
    check_data(str(root))
    assert [p for p, _ in data.skipped] == [str(root / "a" / "notes.png"), str(root / "b" / "cut.png"),
                                            str(root / "b" / "empty.jpg")]
    reasons = [r for _, r in data.skipped]
    assert "not a readable image" in reasons[0] and "truncated" in reasons[1] and reasons[2] == "empty file"
    assert len(data.train) + len(data.val) + len(data.test) == 12
    assert tree_digest(root) == before


def test_strict_raises_on_first_bad_file(with_bad_files):
    message = bad_input("notes.png", data=str(with_bad_files), strict=True)
    assert "--strict" in message


def test_check_data_reports_without_raising(with_bad_files, tmp_path):
    save_image(with_bad_files / "a" / "big.png", size=(40, 30), mode="L")
    (with_bad_files / "c").mkdir()
    report = check_data(str(with_bad_files))
    assert report["source"] == str(with_bad_files)
    assert report["classes"] == {"a": 7, "b": 6, "c": 0} and report["total"] == 13
    assert report["sizes"] == {"min": [12, 12], "max": [40, 30], "most_common": [12, 12]}
    assert report["modes"] == {"RGB": 12, "L": 1}
    assert [p for p, _ in report["bad_files"]] == [str(with_bad_files / n) for n in
                                                   ("a/notes.png", "b/cut.png", "b/empty.jpg")]
    json.dumps(report)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\nmixed/a/000.png,a\nmissing.png,b\n")
    assert check_data(str(manifest))["bad_files"] == [
        [str(tmp_path / "missing.png"), "listed on line 3 of m.csv but does not exist"]]


# ---------------------------------------------------------------- bad input


def test_missing_path_and_unknown_dataset(tmp_path):
    bad_input("does not exist", data=str(tmp_path / "nowhere"))
    assert "did you mean 'mnist'" in bad_input("unknown dataset 'mnsit'", data="mnsit")
    bad_input("unknown dataset 'qqq'", data="qqq")
    (tmp_path / "notes.txt").write_text("x")
    bad_input("not a .csv or .jsonl manifest", data=str(tmp_path / "notes.txt"))


def test_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    bad_input("has no class folders", data=str(tmp_path / "empty"))
    save_image(tmp_path / "loose" / "x.png")
    assert "the 1 images directly in it" in bad_input("no class folders", data=str(tmp_path / "loose"))
    root = make_classes(tmp_path / "c", {"a": 5, "b": 5})
    (root / "hollow").mkdir()
    (root / "hollow" / "notes.txt").write_text("no images here")
    bad_input(f"class folder '{root / 'hollow'}' has no images", data=str(root))


def test_class_counts(tmp_path):
    bad_input("fewer than 2 classes \\(only 'a'\\)", data=str(make_classes(tmp_path / "one", {"a": 5})))
    few = make_classes(tmp_path / "few", {"a": 5, "rare": 2})
    bad_input("class 'rare' has only 2 readable images; at least 3", data=str(few))
    assert len(load_image_data(str(few), test_split=0.0).val) == 2


def test_split_folder_class_missing_from_train(tmp_path):
    make_classes(tmp_path / "s" / "train", {"a": 3, "b": 3})
    make_classes(tmp_path / "s" / "val", {"a": 1, "c": 1})
    bad_input("class 'c' is in .* but not in", data=str(tmp_path / "s"))


def test_unknown_class_for_a_trained_run(tmp_path):
    root = make_classes(tmp_path / "new", {"cat": 3, "fox": 3})
    bad_input("class 'fox' that the trained run does not know \\(its classes: cat, dog\\)",
              data=str(root), classes=["cat", "dog"])


def test_manifest_errors(tmp_path):
    save_image(tmp_path / "x.png")
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("file,class\nx.png,a\n")
    bad_input("no 'path' column \\(found columns: file, class\\)", data=str(csv_path))
    csv_path.write_text("path,label\nx.png,a\nx.png,b\ngone.png,b\n")
    bad_input("line 4: file 'gone.png' does not exist", data=str(csv_path))
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"path": "x.png", "label": "a"}\n{"path": "x.png", "class": "b"}\n')
    bad_input("line 2 of manifest .* has no 'label' key \\(found keys: path, class\\)", data=str(jsonl))


def test_split_fractions_are_checked():
    bad_input("--val-split must be a fraction", data="digits", val_split=1.5)
    bad_input("leave nothing to train on", data="digits", val_split=0.5, test_split=0.5)


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py")])
def test_named_dataset_offline_error(tmp_path, monkeypatch, name, folder):
    monkeypatch.setenv("TK_OFFLINE", "1")
    message = bad_input(f"dataset '{name}' is not in .* could not be downloaded", data=name,
                        data_root=str(tmp_path))
    assert f"in '{tmp_path / folder}'" in message
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- CLI


def test_data_check_command(with_bad_files):
    import typer
    from typer.testing import CliRunner

    from taskkit.cli.data import data_app

    app = typer.Typer()
    app.callback()(lambda: None)
    app.add_typer(data_app, name="data")
    result = CliRunner().invoke(app, ["data", "check", str(with_bad_files), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["classes"] == {"a": 6, "b": 6}
    text = CliRunner().invoke(app, ["data", "check", str(with_bad_files)]).output
    assert "12 readable images" in text and "cut.png" in text and "12x12" in text


def test_data_cli_imports_no_heavy_libraries():
    code = ("import sys, taskkit.cli.data; "
            "print(sorted(m for m in ('torch', 'numpy', 'PIL', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
