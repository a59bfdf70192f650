"""Image folders decoded once: `--cache`, `--cache-budget`, `--workers auto` and per-item seeds.

The cache must change nothing but speed: a run trains to the same weights, bit for bit, with
its images decoded once or in every epoch, in this process or in worker processes, augmented
or not; a budget too small for the images refuses the cache and the run still trains.
"""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from conftest import tk_in_process
from taskkit.data import cache as image_cache
from taskkit.data import load_image_data, load_image_for_prediction
from taskkit.data.decoding import decode, decode_at
from taskkit.train.loaders import SeededSampler, worker_count

QUICK = ["--backbone", "lenet", "--img-size", "28", "--epochs", "1", "--batch-size", "32", "--quiet",
         "--device", "cpu", "--json"]


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    """240 digits as 8x8 gray PNGs in class folders, as a user's own folder would hold them."""
    from sklearn.datasets import load_digits

    digits, root = load_digits(), tmp_path_factory.mktemp("digits") / "folder"
    for index in range(240):
        folder = root / str(digits.target[index])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((digits.images[index] * 255 / 16).astype(np.uint8)).save(folder / f"{index:04d}.png")
    return root


def _train(capsys, folder, out, name, *options):
    code, stdout, stderr = tk_in_process(capsys, "classify", "--data", str(folder), *QUICK, "--out", str(out),
                                         "--name", name, *options)
    assert code == 0, stderr
    return load_file(out / name / "model.safetensors"), json.loads(stdout)["test"]


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("aug", ["none", "hflip,rotate=20,brightness-contrast"])
def test_cached_and_uncached_runs_train_to_identical_weights(capsys, tmp_path, digit_folder, aug):
    cached, _ = _train(capsys, digit_folder, tmp_path, "ram", "--aug", aug, "--cache", "ram", "--workers", "0")
    decoded, _ = _train(capsys, digit_folder, tmp_path, "none", "--aug", aug, "--cache", "none", "--workers", "0")
    assert _same(cached, decoded)


def test_worker_processes_give_the_same_augmented_weights_as_none(capsys, tmp_path, digit_folder):
    """Each item's augmentation comes with its index, so who fetches it cannot change it."""
    aug = ["--aug", "hflip,rotate=20", "--cache", "none"]
    alone, _ = _train(capsys, digit_folder, tmp_path, "w0", *aug, "--workers", "0")
    shared, _ = _train(capsys, digit_folder, tmp_path, "w2", *aug, "--workers", "2")
    assert _same(alone, shared)


def test_a_budget_too_small_refuses_the_cache_and_the_run_trains(capsys, tmp_path, digit_folder):
    shown = [option for option in QUICK if option not in ("--quiet", "--json")]  # the banner is not quiet
    code, out, err = tk_in_process(capsys, "classify", "--data", str(digit_folder), *shown, "--out",
                                   str(tmp_path), "--cache-budget", "0.00001", "--workers", "0", "--epochs", "3")
    assert code == 0, err
    (banner,) = [line for line in err.splitlines() if line.startswith("data: ")]
    assert "cache none" in banner and "exceed the 10.5 KiB budget" in banner and "0 loader workers" in banner
    data = load_image_data(str(digit_folder), img_size=28, cache="auto", cache_budget=0.00001)
    assert data.train.cache is None and data.train.normalised is None and data.loading.startswith("cache none")
    record = json.loads((tmp_path / "classify" / "run.json").read_text())
    assert record["status"] == "finished" and record["metrics"]["test"]["accuracy"] > 0.3  # chance: 0.1


def test_the_cache_stays_within_its_budget_and_says_so():
    plan = image_cache.plan("auto", 1.0, count=1000, size=224, channels=3)
    assert (plan.mode, plan.need) == ("ram", 150_528_000) and plan.need <= plan.budget == 2**30
    assert image_cache.plan("auto", 0.1, count=1000, size=224, channels=3).mode == "none"
    assert image_cache.plan("ram", 0.1, count=1000, size=224, channels=3).mode == "none"
    assert image_cache.plan("disk", 0.0, count=1000, size=224, channels=3).mode == "disk"
    assert 0 < image_cache.budget_bytes(None) <= image_cache.available_memory()


def test_the_cache_holds_the_train_and_val_pixels_that_decoding_gives(digit_folder):
    """uint8 where training augments; float32 batches ready to serve where it does not and the
    budget holds four times the pixels; both exactly what decoding each file gives."""
    data = load_image_data(str(digit_folder), img_size=28, cache="ram", augment="hflip")
    train, val = data.train, data.val
    assert train.cache.shape == (len(train), 28, 28, 1) and train.cache.dtype == np.uint8
    assert np.array_equal(train.cache[3], decode_at(train.paths[3], 1, 28))
    assert val.cache is None and val.normalised.shape == (len(val), 1, 28, 28)
    assert torch.equal(val.normalised[3], load_image_for_prediction(val.paths[3], in_channels=1, img_size=28,
                                                                    mean=data.mean, std=data.std))
    assert data.test.cache is None and data.test.normalised is None  # read once, at the end
    assert data.loading.startswith("cache ram (")
    snug = load_image_data(str(digit_folder), img_size=28, cache="ram", cache_budget=3 * len(train) * 28 * 28 / 2**30)
    assert snug.train.normalised is None and snug.train.cache is not None  # no room for the float copy


def test_auto_caches_a_folder_that_fits_and_then_needs_no_workers(digit_folder):
    data = load_image_data(str(digit_folder), img_size=28, cache="auto")
    assert data.train.normalised is not None and worker_count("auto", data.train) == 0
    uncached = load_image_data(str(digit_folder), img_size=28, cache="none")
    assert worker_count("auto", uncached.train) >= 1 and worker_count(3, uncached.train) == 3


def test_a_disk_cache_is_written_once_and_found_again_until_a_file_changes(tmp_path, monkeypatch, digit_folder):
    monkeypatch.setenv("TK_CACHE_DIR", str(tmp_path / "cache"))
    first = load_image_data(str(digit_folder), img_size=28, cache="disk")
    files = sorted((tmp_path / "cache" / "images").iterdir())
    assert len(files) == 2 and all(f.suffix == ".npy" for f in files)  # train and val
    assert isinstance(first.train.cache, np.memmap)
    assert torch.equal(first.train[5][0], load_image_data(str(digit_folder), img_size=28, cache="none").train[5][0])
    stamps = {f: f.stat().st_mtime_ns for f in files}
    load_image_data(str(digit_folder), img_size=28, cache="disk")
    assert {f: f.stat().st_mtime_ns for f in sorted((tmp_path / "cache" / "images").iterdir())} == stamps
    changed = first.train.paths[0]
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(changed)
    try:
        load_image_data(str(digit_folder), img_size=28, cache="disk")
        assert len(list((tmp_path / "cache" / "images").iterdir())) == 3  # a new train cache; val unchanged
    finally:
        Image.fromarray(decode(changed, 1)[..., 0]).save(changed)


def test_prediction_sees_the_pixels_training_saw(digit_folder):
    data = load_image_data(str(digit_folder), img_size=28, cache="ram", val_split=0.2, test_split=0.2)
    for split in (data.train, data.test):
        image, _ = split[2]
        again = load_image_for_prediction(split.paths[2], in_channels=1, img_size=28, mean=data.mean, std=data.std)
        assert torch.equal(image, again)


def test_a_large_jpeg_is_drafted_to_nearly_the_pixels_of_a_full_decode(tmp_path):
    from sklearn.datasets import load_sample_images

    photo = tmp_path / "photo.jpg"
    Image.fromarray(load_sample_images().images[0]).save(photo, quality=92)  # 640 x 427
    drafted = decode_at(str(photo), 3, 96).astype(int)
    full = np.asarray(Image.open(photo).convert("RGB").resize((96, 96), Image.BILINEAR)).astype(int)
    assert drafted.shape == (96, 96, 3) and np.abs(drafted - full).mean() < 3.0  # 2.2 levels of 255 here


def test_seeded_sampler_pairs_each_index_with_a_seed_fixed_by_the_generator():
    generator = torch.Generator()
    sampler = SeededSampler(torch.utils.data.RandomSampler(range(10), generator=generator), generator)
    generator.manual_seed(7)
    first = list(sampler)
    generator.manual_seed(7)
    assert list(sampler) == first and sorted(i for i, _ in first) == list(range(10))
    assert len({seed for _, seed in first}) == 10


@pytest.mark.parametrize("option,value,message", [
    ("--cache", "memory", "--cache must be auto, ram, disk or none, got 'memory'"),
    ("--cache-budget", "-1", "--cache-budget must not be negative"),
    ("--workers", "many", "--workers must be auto or a number of processes, got 'many'"),
    ("--workers", "-2", "--workers must not be negative, got -2"),
])
def test_bad_loading_options_are_one_line_errors_before_a_run_directory(capsys, tmp_path, digit_folder, option,
                                                                        value, message):
    from conftest import one_line_error

    line = one_line_error(capsys, "classify", "--data", str(digit_folder), "--out", str(tmp_path), option, value)
    assert message in line
    assert not (tmp_path / "classify").exists()
