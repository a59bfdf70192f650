"""`tk predict` for segmentation runs: a mask PNG and a colour overlay PNG per image.

The mask is a palette PNG: its pixel values are the class numbers (so it reads back as a
mask, for `tk segment` too) and its palette shows each class in its own colour. The overlay
blends those colours with the image. Both are at the image's own size: the model sees the
image resized as in training, and its logits are resized back before the argmax.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import typer
from PIL import Image

from taskkit.data import decoding
from taskkit.data import images as img
from taskkit.errors import BadInputError
from taskkit.tasks.segment.run import load_model
from taskkit.model.tta import with_tta
from taskkit.report.json_output import echo_json

OVERLAY_ALPHA = 0.5


def class_colours(count: int) -> np.ndarray:
    """`[count, 3]` uint8 colours, the PASCAL VOC convention: class 0 black, then bits of the
    class number spread over the high bits of red, green and blue, so neighbours differ."""
    colours = np.zeros((count, 3), dtype=np.uint8)
    for index in range(count):
        value, red, green, blue = index, 0, 0, 0
        for shift in range(7, -1, -1):
            red |= (value & 1) << shift
            green |= ((value >> 1) & 1) << shift
            blue |= ((value >> 2) & 1) << shift
            value >>= 3
        colours[index] = (red, green, blue)
    return colours


def predict_mask(model: torch.nn.Module, path: str, spec: dict[str, Any]) -> np.ndarray:
    """The `[H, W]` class numbers of one image file, at its own size."""
    import albumentations as A

    image = decoding.decode(path, spec["in_channels"])
    resized = A.Resize(*spec["input_size"])(image=image)["image"]
    resized = resized if resized.ndim == 3 else resized[..., None]
    tensor = img.to_tensor(resized, torch.tensor(spec["mean"]), torch.tensor(spec["std"]))
    with torch.no_grad():
        logits = model(tensor[None])
        logits = F.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)
    return logits[0].argmax(0).numpy()


def _targets(files: list[str], out: Path, may_overwrite: bool) -> list[tuple[Path, Path]]:
    """Mask and overlay paths for each input, unique per stem; refuses to replace a file outside
    the run's own predictions folder, before anything is written."""
    chosen, used = [], set()
    for path in files:
        if not os.path.isfile(path):
            raise BadInputError(f"image '{path}' does not exist; pass the path of an image file")
        stem, number = Path(path).stem, 1
        while (stem if number == 1 else f"{stem}-{number}") in used:
            number += 1
        stem = stem if number == 1 else f"{stem}-{number}"
        used.add(stem)
        pair = (out / f"{stem}_mask.png", out / f"{stem}_overlay.png")
        taken = [p for p in pair if p.exists()]
        if taken and not may_overwrite:
            raise BadInputError(f"{taken[0]} already exists; choose another --out (nothing was written)")
        chosen.append(pair)
    return chosen


def predict_masks(run_dir: Path, record: dict[str, Any], files: list[str], out: Path | None, as_json: bool,
                  tta: str | None = None) -> None:
    """Write each image's mask and overlay; print where they are and how much of each class was found."""
    spec = record["model"]
    own = Path(run_dir) / "predictions"
    out = Path(out) if out is not None else own
    targets = _targets(files, out, may_overwrite=out.resolve() == own.resolve())
    model = with_tta(load_model(run_dir, record), tta)
    out.mkdir(parents=True, exist_ok=True)
    colours = class_colours(max(len(spec["classes"]), 2))
    results = []
    for path, (mask_path, overlay_path) in zip(files, targets):
        mask = predict_mask(model, path, spec)
        _write_mask(mask, colours, mask_path)
        photo = decoding.decode(path, 3).astype(np.float32)
        blended = (1 - OVERLAY_ALPHA) * photo + OVERLAY_ALPHA * colours[mask].astype(np.float32)
        Image.fromarray(blended.round().astype(np.uint8), "RGB").save(overlay_path)
        counts = np.bincount(mask.ravel(), minlength=len(spec["classes"]))
        share = {spec["classes"][i]: round(float(c) / mask.size, 4) for i, c in enumerate(counts) if c}
        results.append({"file": path, "mask": str(mask_path), "overlay": str(overlay_path), "classes": share})
    if as_json:
        echo_json(results)
        return
    for item in results:
        found = ", ".join(f"{name} {value:.1%}" for name, value in sorted(item["classes"].items(), key=lambda kv: -kv[1]))
        typer.echo(f"{item['file']}: mask {item['mask']}, overlay {item['overlay']} ({found})")


def _write_mask(mask: np.ndarray, colours: np.ndarray, path: Path) -> None:
    """A palette PNG of class numbers when they fit in 8 bits, else a 16-bit grayscale PNG."""
    if len(colours) <= 256:
        image = Image.fromarray(mask.astype(np.uint8), "P")
        image.putpalette(colours.ravel().tolist())
    else:
        image = Image.fromarray(mask.astype(np.uint16), "I;16")
    image.save(path)
