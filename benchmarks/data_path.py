"""Whole epochs on images in memory, in a PNG folder and in a JPEG folder: tk against hand loops.

benchmarks/overhead.py times the training loop on data already in memory; a user's own folder
of images takes another path (decoding, resizing, workers), and that path is what this script
times. Each case trains the same model with the same recipe on both sides (batch 64, Adam 1e-3,
no weight decay, no label smoothing, no schedule, no augmentation, validation every epoch) on
the same split (tk's), and times whole epochs, training and validation:

- memory: the `digits` dataset, in memory on both sides;
- png: the 1,797 digits written as 32x32 gray PNG files in class folders;
- jpeg: generated 320x240 colour photos as JPEG files in class folders, trained at 224 px;
  for these three the hand loop decodes the folder once into tensors (PIL), then trains;
- jpeg-uncached: the JPEG folder decoded in every epoch (`--cache none`), tk with its default
  `--workers` against a hand `DataLoader` that decodes with PIL in as many worker processes;
  compared in images per second.

Everything runs in this one process with one intra-op thread, the cases and sides in turn,
round after round, and the first epoch of every run is dropped, so a machine that slows down
slows both sides alike. tk runs as a user types it, with only the options this version of tk
declares (so the script also measures older versions). Run:
`python benchmarks/data_path.py [--cases memory png jpeg jpeg-uncached] [--epochs 4] [--repeats 3]`;
`--decoders` times only the ways of decoding one file at the training size.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import DataLoader, Dataset, TensorDataset

from taskkit.backbone import BackboneWithHead
from taskkit.cli.app import main as tk_main
from taskkit.data import load_image_data
from taskkit.registries import BACKBONES, HEADS, TASKS

BATCH, LR, SEED = 64, 1e-3, 0
RECIPE = ["--batch-size", str(BATCH), "--optimizer", "adam", "--lr", str(LR),
          "--weight-decay", "0", "--label-smoothing", "0", "--scheduler", "none", "--aug", "none",
          "--seed", str(SEED), "--quiet", "--device", "cpu", "--json"]
#: case: (data, training size, backbone); at 224 px a linear model, so that the data path is not hidden
#: behind a convolution's compute.
CASES = {"memory": ("digits", 28, "lenet"), "png": ("png", 32, "lenet"), "jpeg": ("jpeg", 224, "linear"),
         "jpeg-uncached": ("jpeg", 224, "linear")}


def write_png_digits(root: Path) -> Path:
    from sklearn.datasets import load_digits

    digits = load_digits()
    for index, (pixels, label) in enumerate(zip(digits.images, digits.target)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray((pixels * 255 / 16).astype(np.uint8)).resize((32, 32), Image.BILINEAR)
        image.save(folder / f"{index:04d}.png")
    return root


def write_jpeg_photos(root: Path, per_class: int = 150) -> Path:
    """Four classes of 320x240 photos: a noisy textured background and one shape whose kind and
    colour family make the class, at random places and sizes."""
    rng = np.random.default_rng(0)
    for label in range(4):
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = rng.normal(120, 40, (240, 320, 3)).clip(0, 255).astype(np.uint8)
            image = Image.fromarray(pixels)
            draw = ImageDraw.Draw(image)
            x, y, r = rng.integers(60, 260), rng.integers(60, 180), rng.integers(25, 60)
            colour = tuple(int(c) for c in (np.roll([220, 60, 60], label) + rng.integers(-30, 30, 3)).clip(0, 255))
            box = [x - r, y - r, x + r, y + r]
            (draw.ellipse if label % 2 == 0 else draw.rectangle)(box, fill=colour)
            image.save(folder / f"{index:04d}.jpg", quality=90)
    return root


def declared(options: list[str]) -> list[str]:
    """`options` (flag, value pairs) less those this version of tk does not declare."""
    known = {option.flags.split("/")[0] for option in TASKS.get("classify").declaration()}
    pairs = zip(options[::2], options[1::2])
    return [part for flag, value in pairs if flag in known for part in (flag, value)]


def tk_epochs(data: str, size: int, backbone: str, epochs: int, out: Path, extra: list[str]) -> list[float]:
    args = ["classify", "--data", data, "--img-size", str(size), "--backbone", backbone, "--epochs", str(epochs), *RECIPE,
            *declared(extra), "--out", str(out), "--name", "bench"]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            tk_main(args)
    except SystemExit as exit_:
        assert exit_.code in (0, None), f"tk exited with {exit_.code}"
    with open(out / "bench" / "metrics.csv") as handle:
        return [float(row["time"]) for row in csv.DictReader(handle)]


def split_of(data: str, size: int):
    """tk's split of the data, with its statistics: the hand loops train on the same images."""
    return load_image_data(data, img_size=size, min_img_size=28, seed=SEED)


def decode(path: str, channels: int, size: int) -> np.ndarray:
    """What a careful hand loop does: PIL, converted, resized with its antialiased bilinear filter."""
    with Image.open(path) as image:
        image = image.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
        array = np.array(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def normalised(pixels: np.ndarray, mean: list[float], std: list[float]) -> torch.Tensor:
    tensor = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255)
    return ((tensor - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]).contiguous()


def decoded_once(split, loaded) -> TensorDataset:
    """A split as tensors: decoded once from its files, or taken from memory for a named dataset."""
    if hasattr(split, "paths"):
        pixels = np.stack([decode(p, loaded.in_channels, loaded.img_size) for p in split.paths])
        return TensorDataset(normalised(pixels, loaded.mean, loaded.std), torch.tensor(split.targets))
    images, labels = zip(*(split[i] for i in range(len(split))))
    return TensorDataset(torch.stack(images), torch.tensor(labels))


class DecodedEachTime(Dataset):
    """A hand Dataset over files, decoded with PIL on every access (what a DataLoader with workers runs)."""

    def __init__(self, split, loaded):
        self.paths, self.targets, self.loaded = split.paths, split.targets, loaded

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        pixels = decode(self.paths[index], self.loaded.in_channels, self.loaded.img_size)[None]
        return normalised(pixels, self.loaded.mean, self.loaded.std)[0], self.targets[index]


def hand_epochs(loaded, backbone_name: str, train, val, epochs: int, workers: int = 0) -> list[float]:
    torch.manual_seed(SEED)
    backbone = BACKBONES.build(backbone_name, in_channels=loaded.in_channels, context={"img_size": loaded.img_size})
    head = HEADS.build("linear", in_channels=backbone.out_channels[-1], num_outputs=len(loaded.classes))
    model = BackboneWithHead(backbone, head)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator()
    common = {"batch_size": BATCH, "num_workers": workers, "persistent_workers": workers > 0}
    train_loader = DataLoader(train, shuffle=True, generator=generator, **common)
    val_loader = DataLoader(val, **common)
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        generator.manual_seed(SEED * 1000 + epoch)
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                model(x).argmax(1).eq(y).sum().item()
        times.append(time.perf_counter() - start)
    return times


def default_workers(split) -> int:
    """The worker count tk's default gives this split (0 for versions with no `auto`)."""
    try:
        from taskkit.train.loaders import worker_count
    except ImportError:
        return 0
    return worker_count("auto", split)


def time_decoders(files: dict[str, tuple[str, int]], repeats: int = 200) -> None:
    """Microseconds per image for three ways to get a file at the training size, one thread."""
    from torchvision.io import ImageReadMode, decode_image, read_file

    from taskkit.data.decoding import decode_at

    def torch_resize(path: str, size: int) -> np.ndarray:  # the full decode and float resize tk used before
        with Image.open(path) as image:
            pixels = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].float()
        scaled = torch.nn.functional.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True)
        return scaled.round().clamp(0, 255).byte()[0].permute(1, 2, 0).numpy()

    def torchvision_io(path: str, size: int) -> np.ndarray:
        pixels = decode_image(read_file(path), mode=ImageReadMode.RGB)[None]
        scaled = torch.nn.functional.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True)
        return scaled[0].permute(1, 2, 0).numpy()

    ways = {"PIL + torch float resize": torch_resize, "torchvision.io + torch uint8 resize": torchvision_io,
            "tk decode_at (PIL draft + PIL resize)": lambda path, size: decode_at(path, 3, size)}
    for label, (path, size) in files.items():
        timings = []
        for name, way in ways.items():
            way(path, size)
            start = time.perf_counter()
            for _ in range(repeats):
                way(path, size)
            timings.append(f"{name} {(time.perf_counter() - start) / repeats * 1e6:.0f} us")
        print(f"{label} to {size} px: " + "; ".join(timings))


def decoder_files(root: Path) -> dict[str, tuple[str, int]]:
    from sklearn.datasets import load_sample_images

    photo = load_sample_images().images[0]  # 640 x 427
    large = Image.fromarray(photo).resize((1920, 1280), Image.BICUBIC)
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo).save(root / "photo.jpg", quality=90)
    large.save(root / "large.jpg", quality=90)
    Image.fromarray(photo).save(root / "photo.png")
    return {"640x427 JPEG": (str(root / "photo.jpg"), 224), "1920x1280 JPEG": (str(root / "large.jpg"), 224),
            "640x427 PNG": (str(root / "photo.png"), 224)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--decoders", action="store_true", help="time only the ways of decoding a file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.decoders:
        with tempfile.TemporaryDirectory() as scratch:
            time_decoders(decoder_files(Path(scratch)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folders = {"digits": "digits"}
        if any(CASES[c][0] == "png" for c in args.cases):
            folders["png"] = str(write_png_digits(Path(scratch) / "png"))
        if any(CASES[c][0] == "jpeg" for c in args.cases):
            folders["jpeg"] = str(write_jpeg_photos(Path(scratch) / "jpeg"))
        prepared = {}
        for case in args.cases:
            data, size, backbone = folders[CASES[case][0]], CASES[case][1], CASES[case][2]
            loaded = split_of(data, size)
            if case == "jpeg-uncached":
                workers = default_workers(loaded.train)
                sides = (DecodedEachTime(loaded.train, loaded), DecodedEachTime(loaded.val, loaded), workers)
                extra = ["--cache", "none"]
            else:
                sides, extra = (decoded_once(loaded.train, loaded), decoded_once(loaded.val, loaded), 0), []
            prepared[case] = (data, size, backbone, loaded, sides, extra)
        times = {case: {"tk": [], "hand": []} for case in args.cases}
        for round_ in range(args.repeats):
            for case, (data, size, backbone, loaded, (train, val, workers), extra) in prepared.items():
                with tempfile.TemporaryDirectory() as out:
                    tk_run = tk_epochs(data, size, backbone, args.epochs, Path(out), extra)[1:]
                hand_run = hand_epochs(loaded, backbone, train, val, args.epochs, workers)[1:]
                times[case]["tk"] += tk_run
                times[case]["hand"] += hand_run
                print(f"  round {round_ + 1} {case}: tk {statistics.median(tk_run):.3f} s, "
                      f"hand {statistics.median(hand_run):.3f} s", flush=True)
    report(prepared, times, args)


def report(prepared, times, args) -> None:
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"torch {torch.__version__}, 1 intra-op thread; {args.repeats} rounds of {args.epochs} epochs, "
          f"first epoch of each dropped")
    for case, (data, size, backbone, loaded, (train, val, workers), extra) in prepared.items():
        tk_median, hand_median = statistics.median(times[case]["tk"]), statistics.median(times[case]["hand"])
        images = len(loaded.train) + len(loaded.val)
        line = (f"{case:14s} {backbone}, {images} images at {size} px: tk {tk_median:.3f} s/epoch, hand {hand_median:.3f} s/epoch, "
                f"ratio tk/hand {tk_median / hand_median:.3f}")
        if case == "jpeg-uncached":
            line += (f"; {workers} workers: tk {images / tk_median:.0f} images/s, hand {images / hand_median:.0f} "
                     f"images/s, tk/hand {hand_median / tk_median:.3f}")
        print(line)


if __name__ == "__main__":
    main()
