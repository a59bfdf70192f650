"""`tk segment`: train a semantic segmentation model, evaluate it, write predicted masks.

The module is imported to build the CLI, so it imports torch only inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taskkit import hookimpl
from taskkit.data.options import IMAGE_MODEL, IMAGE_TRAINING
from taskkit.options import DATA, FRACTION, NOT_NEGATIVE, POSITIVE, Option, Options
from taskkit.task import Finished, RunModuleTask, TaskCall

SEGMENTATION = "Segmentation"

MASKS = Options(
    Option("data", None, "Folder of images/ and masks/ with matching file stems (or train/, val/, test/ folders of "
           "them); masks are PNGs of class numbers.", DATA, kind=str),
    Option("classes", None, "Class names in mask-value order, comma-separated (default: the folder's classes.txt, "
           "else the numbers).", DATA, kind=str),
    Option("ignore_index", None, "Mask value of unlabelled pixels, left out of the loss and metrics (e.g. 255).",
           DATA, kind=int, range=NOT_NEGATIVE),
    Option("img_size", None, "Resize images and masks to this square size (default: the images' own size).", DATA,
           kind=int, range=POSITIVE),
    Option("aug", "basic", "Training augmentations, moving image and mask alike: a preset (none, basic, strong) or "
           "names, e.g. hflip,rotate=15; see `tk list augmentations`.", DATA),
    Option("strict", False, "Fail on unreadable images instead of skipping them.", DATA),
)

DECODER = Options(
    IMAGE_MODEL["backbone"], IMAGE_MODEL["small_input"], IMAGE_MODEL["pretrained"],
    Option("head", "unet", "Decoder: fcn, fcn16s, fcn32s, unet, segnet or psp; see `tk list heads`.", SEGMENTATION),
    Option("upsample", None, "How fcn, unet and psp upsample: nearest, bilinear, bicubic or transposed (default "
           "bilinear).", SEGMENTATION, kind=str),
    Option("loss", "ce+dice", "ce+dice, cross-entropy, dice or focal; see `tk list losses`.", SEGMENTATION),
    Option("dropout", 0.0, "Dropout before the decoder's classifier.", SEGMENTATION, range=FRACTION),
)


class Segment(RunModuleTask):
    """Train a semantic segmentation model and report per-class IoU and Dice."""

    run_module = "taskkit.tasks.segment.run"
    inputs = "images"
    outputs = "masks"
    test_time_augmentation = True
    options = (MASKS, DECODER, IMAGE_TRAINING["channels_last"])
    defaults = {"backbone": "resnet18", "lr": 3e-3, "epochs": 20, "batch_size": 8}

    @classmethod
    def run(cls, call: TaskCall) -> Finished:
        from taskkit.tasks.segment.run import train

        return Finished(*train(call.options, set(call.given), resume=call.resume))

    @classmethod
    def show(cls, outcome: Any, as_json: bool) -> None:
        from taskkit.tasks.segment.run import print_report

        print_report(outcome.run_dir, outcome.report, as_json=as_json)

    @staticmethod
    def predict(run_dir: Path, record: dict, files: list[str], top_k: int | None, as_json: bool,
                out: Path | None = None, tta: str | None = None) -> None:
        from taskkit.tasks.segment.predict import predict_masks

        predict_masks(run_dir, record, files, out, as_json, tta=tta)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("segment")(Segment)
