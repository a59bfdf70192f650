"""Where images come from: named datasets, folders of class folders, CSV/JSONL manifests.

`resolve` turns what the user wrote after `--data` into one of two plain descriptions:
an `ArraySource` (a named dataset, decoded into memory) or a `FileSource` (image files with
their class names, grouped by the split folders the user gave). Deciding splits, sizes and
channels is left to `taskkit.data.splits`; nothing here decodes a user's image or writes a file.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field

import numpy as np

from taskkit.data.decoding import is_image_file
from taskkit.data.manifests import manifest_files
from taskkit.errors import BadInputError

NAMED = ("digits", "mnist", "fashion-mnist", "cifar10", "cifar100")
_ALIASES = {"fashionmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist", "cifar-10": "cifar10",
            "cifar-100": "cifar100"}
_MNIST_FILES = "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte"
#: name -> (torchvision class, folder under data_root that torchvision reads, what to put there)
_TORCHVISION = {
    "mnist": ("MNIST", os.path.join("MNIST", "raw"), f"the unzipped files {_MNIST_FILES}"),
    "fashion-mnist": ("FashionMNIST", os.path.join("FashionMNIST", "raw"), f"the unzipped files {_MNIST_FILES}"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py", "the extracted cifar-10-python.tar.gz (data_batch_1..5, "
                "test_batch, batches.meta)"),
    "cifar100": ("CIFAR100", "cifar-100-python", "the extracted cifar-100-python.tar.gz (train, test, meta)"),
}
SPLIT_FOLDERS = ("train", "val", "test")


@dataclass
class ArraySource:
    """A named dataset in memory: NHWC uint8 images and int labels per official split ("all" if none)."""

    name: str
    classes: list[str]
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    channels: int
    size: int


@dataclass
class FileSource:
    """Image files and their class names per given split ("all" when the data has no split folders)."""

    origin: str
    splits: dict[str, list[tuple[str, str]]]
    missing: list[tuple[str, str]] = field(default_factory=list)
    empty_classes: list[str] = field(default_factory=list)
    times: dict[str, str] = field(default_factory=dict)  # file -> its time-column value (`--time-col`)


def select_classes(source: ArraySource | FileSource, keep: list[str]) -> ArraySource | FileSource:
    """Only the images of the classes in `keep` (`--classes`), e.g. digits 0-4 for a transfer demo."""
    if isinstance(source, ArraySource):
        present = source.classes
    else:
        present = sorted({c for items in source.splits.values() for _, c in items})
    unknown = [c for c in keep if c not in present]
    if unknown:
        close = difflib.get_close_matches(unknown[0], present, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise BadInputError(f"--classes names '{unknown[0]}', which the data does not have; {hint}"
                            f"its classes are {', '.join(present[:20])}{', ...' if len(present) > 20 else ''}")
    if isinstance(source, FileSource):
        splits = {split: [(p, c) for p, c in items if c in keep] for split, items in source.splits.items()}
        return FileSource(source.origin, splits, source.missing, source.empty_classes)
    chosen = [c for c in source.classes if c in keep]
    new_label = np.full(len(source.classes), -1, dtype=np.int64)
    new_label[[source.classes.index(c) for c in chosen]] = np.arange(len(chosen))
    splits = {}
    for split, (images, labels) in source.splits.items():
        mask = new_label[labels] >= 0
        splits[split] = (images[mask], new_label[labels[mask]])
    return ArraySource(source.name, chosen, splits, source.channels, source.size)


def resolve(data: str, data_root: str | None = None, *, lenient: bool = False,
            time_col: str | None = None) -> ArraySource | FileSource:
    """Read `data` (a dataset name, folder or manifest); named datasets win over same-named paths.

    With `lenient` (what `check_data` wants), manifest rows naming absent files go to
    `missing` and class folders without images to `empty_classes` instead of raising.
    `time_col` (`--split time`) is read from a manifest; other data has no such column.
    """
    key = _ALIASES.get(data.strip().lower(), data.strip().lower())
    is_manifest = os.path.isfile(data) and os.path.splitext(data)[1].lower() in (".csv", ".jsonl")
    if time_col and (key in NAMED or not is_manifest):
        raise BadInputError(f"--split time reads the time of each image from a manifest's '{time_col}' column; "
                            f"'{data}' is not a .csv or .jsonl manifest")
    if key in NAMED:
        return load_named(key, data_root or "./data")
    if not os.path.exists(data):
        raise BadInputError(_not_found(data, key))
    if os.path.isdir(data):
        return folder_source(data, lenient=lenient)
    if os.path.splitext(data)[1].lower() in (".csv", ".jsonl"):
        return manifest_source(data, report_missing=lenient, time_col=time_col)
    raise BadInputError(
        f"data '{data}' is a file but not a .csv or .jsonl manifest; pass a folder of class folders, "
        f"a manifest with columns path,label, or one of: {', '.join(NAMED)}"
    )


def _not_found(data: str, key: str) -> str:
    close = difflib.get_close_matches(key, NAMED, n=1, cutoff=0.6)
    if close:
        return f"unknown dataset '{data}'; did you mean '{close[0]}'? (no file or folder of that name exists either)"
    if os.sep not in data and "/" not in data and not os.path.splitext(data)[1]:
        return (f"unknown dataset '{data}' and no such folder; use one of {', '.join(NAMED)}, "
                f"a folder of class folders or a .csv/.jsonl manifest")
    return f"data path '{data}' does not exist; check the path (it is read relative to {os.getcwd()})"


def load_named(name: str, data_root: str) -> ArraySource:
    """A named dataset as arrays: digits from scikit-learn, the rest from torchvision files."""
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
        classes = [str(i) for i in range(10)]
        return ArraySource(name, classes, {"all": (images, digits.target.astype(np.int64))}, 1, 8)
    train, test = _torchvision_splits(name, data_root)
    channels = 3 if name.startswith("cifar") else 1
    splits = {}
    for split, ds in (("train", train), ("test", test)):
        images = np.asarray(ds.data, dtype=np.uint8)
        splits[split] = (images[..., None] if images.ndim == 3 else images, np.asarray(ds.targets, dtype=np.int64))
    classes = [str(i) for i in range(10)] if name == "mnist" else list(train.classes)
    return ArraySource(name, classes, splits, channels, 28 if channels == 1 else 32)


def _torchvision_splits(name: str, data_root: str):
    """Both official splits, downloading only when the files are missing and we may go online."""
    import torchvision.datasets

    cls_name, folder, files = _TORCHVISION[name]
    cls = getattr(torchvision.datasets, cls_name)
    try:
        return cls(data_root, train=True), cls(data_root, train=False)
    except Exception:
        pass
    target = os.path.join(data_root, folder)
    if _offline():
        why = "offline: TK_OFFLINE or HF_HUB_OFFLINE is set"
    else:
        try:
            return cls(data_root, train=True, download=True), cls(data_root, train=False, download=True)
        except Exception as exc:
            why = " ".join(str(exc).split())[:160] or type(exc).__name__
    raise BadInputError(
        f"dataset '{name}' is not in '{data_root}' and could not be downloaded ({why}); "
        f"put {files} in '{target}' (or pass --data-root DIR with them in DIR/{folder})"
    )


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() not in ("", "0", "false", "no")
               for v in ("TK_OFFLINE", "HF_HUB_OFFLINE"))


def folder_source(root: str, *, lenient: bool = False) -> FileSource:
    """`root/<class>/...` or `root/{train,val,test}/<class>/...`; split folders are used as given."""
    folders = {s: os.path.join(root, s) for s in SPLIT_FOLDERS if os.path.isdir(os.path.join(root, s))}
    if "train" not in folders:
        folders = {"all": root}
    source = FileSource(root, {})
    for split, folder in folders.items():
        source.splits[split] = class_folder_items(folder, source.empty_classes if lenient else None)
    return source


def class_folder_items(folder: str, empty: list[str] | None = None) -> list[tuple[str, str]]:
    """(absolute path, class) for every image under each class folder (recursively), sorted.

    A class folder without images is an error, or is appended to `empty` when one is given.
    """
    classes = sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        loose = sum(1 for e in os.scandir(folder) if e.is_file() and is_image_file(e.name))
        hint = f"; the {loose} images directly in it must go into one folder per class" if loose else ""
        raise BadInputError(
            f"folder '{folder}' has no class folders{hint}; expected {folder}/<class>/<image>.png"
        )
    items = []
    for name in classes:
        files = _images_under(os.path.join(folder, name))
        if not files and empty is not None:
            empty.append(name)
        elif not files:
            raise BadInputError(
                f"class folder '{os.path.join(folder, name)}' has no images (.png, .jpg, .jpeg, .bmp, .gif, "
                f".tif, .tiff, .webp); add images or remove the folder"
            )
        items.extend((path, name) for path in files)
    return items


def _images_under(folder: str) -> list[str]:
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.abspath(os.path.join(here, f)) for f in files
                     if not f.startswith(".") and is_image_file(f))
    return sorted(found)


def manifest_source(path: str, *, report_missing: bool = False, time_col: str | None = None) -> FileSource:
    """Rows of a manifest as files; paths are relative to the manifest's folder and stay inside it
    (`taskkit.data.manifests`)."""
    items, missing, times = manifest_files(path, report_missing=report_missing, time_col=time_col)
    return FileSource(path, {"all": items}, missing, times=times if time_col else {})
