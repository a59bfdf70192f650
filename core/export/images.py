"""What `tk export` needs for a task whose model reads images: the batches it is checked on,
the axes left dynamic, and the JSON a deployment feeds the model by.

The run's model spec holds `in_channels`, `img_size` (or `input_size` as height and width),
`mean` and `std`; images are `[N, C, H, W]` float32, normalised per channel after scaling
pixels to [0, 1]. The batch is fixed (2) unless `--dynamic-batch` asks otherwise, which is
then checked with a batch of 3.
"""

from __future__ import annotations

from typing import Any

import torch


def image_batches(spec: dict[str, Any], outputs: str, dynamic_batch: bool) -> tuple[list[dict[str, torch.Tensor]], Any]:
    """The named inputs an export is checked on (the first is traced) and the axes it leaves dynamic."""
    checks = [{"images": _sample(spec, batch=2)}]
    if not dynamic_batch:
        return checks, None
    checks.append({"images": _sample(spec, batch=3, seed=1)})
    return checks, {"images": {0: "batch"}, "logits": {0: "batch"}}


def image_preprocessing(spec: dict[str, Any], dynamic_batch: bool) -> dict[str, Any]:
    """What a deployment needs to turn an image file into the model's input."""
    height, width = _size(spec)
    return {"input": {"name": "images", "layout": "NCHW", "channels": spec["in_channels"], "height": height,
                      "width": width, "batch": "dynamic" if dynamic_batch else 2, "dtype": "float32",
                      "scale": 1 / 255, "mean": spec["mean"], "std": spec["std"],
                      "how": "resize to height x width, divide by 255, subtract mean and divide by std per channel"}}


def _size(spec: dict[str, Any]) -> tuple[int, int]:
    height, width = spec.get("input_size") or (spec["img_size"], spec["img_size"])
    return int(height), int(width)


def _sample(spec: dict[str, Any], batch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, spec["in_channels"], *_size(spec), generator=generator)
