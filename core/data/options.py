"""The options of the image tasks (classify, finetune and any plugin task that reads images).

Declared once here, so every image task spells and documents them alike; a task takes the
groups it needs and may replace one option by name (segmentation's `--data` says masks).
"""

from __future__ import annotations

from pathlib import Path

from taskkit.errors import BadInputError
from taskkit.options import DATA, FRACTION, NOT_NEGATIVE, POSITIVE, TRAINING, Option, Options

#: How rows are split, for any data with rows: images from a manifest, or texts.
SPLITS = Options(
    Option("split", "random", "random (stratified), or time: the latest rows are the test set and those just "
           "before them validation (needs --time-col).", DATA),
    Option("time_col", None, "The column that orders rows in time (numbers or ISO dates), for --split time; "
           "images need a .csv/.jsonl manifest.", DATA, kind=str),
)

IMAGE_DATA = Options(
    Option("data", "digits", "Folder of class folders, CSV/JSONL manifest, or a named dataset (digits, mnist, "
           "fashion-mnist, cifar10, cifar100).", DATA),
    Option("data_root", None, "Where named datasets live (default ./data).", DATA, kind=Path),
    Option("img_size", None, "Resize images to this square size (default: the dataset's own, at least what the "
           "backbone needs).", DATA, kind=int, range=POSITIVE),
    Option("classes", None, "Use only these classes, comma-separated (e.g. 0,1,2,3,4).", DATA, kind=str),
    Option("strict", False, "Fail on unreadable images instead of skipping them.", DATA),
    Option("cache", "auto", "Decode image files once and keep them: ram (in memory, within --cache-budget), disk "
           "(memory-mapped under TK_CACHE_DIR, reused by later runs), none, or auto: ram when they fit, else "
           "none.", DATA, resumable=True),
    Option("cache_budget", None, "GiB of memory the image cache may take (default: half of the memory available "
           "when the run starts).", DATA, kind=float, metavar="GIB", range=NOT_NEGATIVE,
           resumable=True),
    Option("aug", "none", "Training augmentations: a preset (none, basic, strong) or names, e.g. "
           "hflip,rotate=15,color-jitter; see `tk list augmentations`.", DATA),
    SPLITS,
    Option("balance", "none", "none, oversample (weighted sampler) or class-weights (weights in the loss).", DATA),
)

IMAGE_MODEL = Options(
    Option("backbone", "lenet", "Backbone name; see `tk list backbones`.", ""),
    Option("small_input", None, "Force the backbone's small-input stem on or off (default: automatic below 64 px).",
           "", kind=bool, flag="--small-input/--no-small-input"),
    Option("pretrained", False, "Start from the published weights of a timm/ or tv/ backbone (downloads; offline, "
           "use `tk finetune --weights`).", ""),
    Option("head", "linear", "Head name; see `tk list heads`.", ""),
    Option("loss", "cross-entropy", "Loss name; see `tk list losses`.", ""),
    Option("dropout", 0.0, "Dropout before the head's output layer.", "", range=FRACTION),
    Option("label_smoothing", None, "Label smoothing for losses that take it (default 0.1 for cross-entropy).", "",
           kind=float, range=FRACTION),
)

#: Batch mixing and the memory layout only images have.
IMAGE_TRAINING = Options(
    Option("mixup", 0.0, "Blend each training image with another of its batch, weight ~ Beta(ALPHA, ALPHA), and "
           "their labels alike (0: off; 0.2 is typical).", TRAINING, metavar="ALPHA", range=NOT_NEGATIVE),
    Option("cutmix", 0.0, "Paste a box of another image of the batch into each training image, size ~ Beta(ALPHA, "
           "ALPHA), labels mixed by area (0: off; 1.0 is typical); with --mixup each batch takes one of the two.",
           TRAINING, metavar="ALPHA", range=NOT_NEGATIVE),
    Option("channels_last", False, "Keep images and convolution weights channels-last (NHWC), which fast "
           "convolution kernels prefer.", TRAINING),
)


def parse_classes(value: str | list | None) -> list[str] | None:
    """`--classes 0,1,2` (or a YAML list) as class names; None keeps every class."""
    if value is None or value == "":
        return None
    names = value if isinstance(value, list) else str(value).split(",")
    names = [str(n).strip() for n in names if str(n).strip()]
    if len(names) < 2:
        raise BadInputError(f"--classes needs at least 2 class names, comma-separated, got {value!r}")
    return names
