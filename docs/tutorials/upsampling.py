"""The numbers and figures of docs/tutorials/upsampling.md: four ways back up in segmentation.

1. operations.png: what nearest and bilinear interpolation, two transposed convolutions and
   max-unpooling with the encoder's indices do to one 4x4 feature map, drawn with torch itself.
2. `tk data shapes` writes a small segmentation set, then `tk segment` trains the same
   encoder (`segnet_small`) with `--head unet --upsample nearest|bilinear|transposed` and with
   `--head segnet` (max-unpooling), for the same epochs; `tk summary RUN --json` counts each
   model's parameters. Writes miou.png, curves.png and numbers.json.

Every run uses one thread (OMP_NUM_THREADS=1 unless set). About seven minutes on two CPU
cores. Run: `python docs/tutorials/upsampling.py`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from common import arguments, bars, curves, fresh, history, plt, run_json, tk, tk_json, write_numbers

PAGE = "upsampling"
FEATURES = torch.tensor([[1.0, 2.0, 0.0, 3.0], [4.0, 0.0, 1.0, 2.0], [0.0, 3.0, 4.0, 0.0], [2.0, 1.0, 0.0, 1.0]])
DECODERS = {"unet nearest": ["--head", "unet", "--upsample", "nearest"],
            "unet bilinear": ["--head", "unet", "--upsample", "bilinear"],
            "unet transposed": ["--head", "unet", "--upsample", "transposed"],
            "segnet unpooling": ["--head", "segnet"]}
SHAPES = ["--count", "400", "--size", "32", "--seed", "0"]
EPOCHS = 10
#: The same for every decoder; no augmentation, so 10 epochs reach a useful mean IoU.
TRAINING = ["--backbone", "segnet_small", "--aug", "none", "--epochs", str(EPOCHS), "--quiet"]


def encoder_map(pooled: torch.Tensor) -> torch.Tensor:
    """An 8x8 map whose 2x2 max-pooling is `pooled`: each window holds its maximum at a random pixel."""
    generator = torch.Generator().manual_seed(0)
    full = torch.rand(8, 8, generator=generator) * 0.5 * pooled.repeat_interleave(2, 0).repeat_interleave(2, 1)
    for row in range(4):
        for col in range(4):
            at = int(torch.randint(0, 4, (1,), generator=generator))
            full[2 * row + at // 2, 2 * col + at % 2] = pooled[row, col]
    return full


def operations() -> dict[str, torch.Tensor]:
    """Each way of doubling the 4x4 map, as torch computes it."""
    x = FEATURES[None, None]
    transposed = nn.ConvTranspose2d(1, 1, 2, stride=2, bias=False)  # U-Net's 2x2 up-convolution
    overlapping = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1, bias=False)
    with torch.no_grad():
        transposed.weight.copy_(torch.tensor([[1.0, 0.5], [0.5, 0.25]]))
        overlapping.weight.fill_(1.0)
        before = encoder_map(FEATURES)
        pooled, indices = F.max_pool2d(before[None, None], 2, stride=2, return_indices=True)
        assert torch.equal(pooled[0, 0], FEATURES)
        return {"the 4x4 map": FEATURES,
                "nearest x2": F.interpolate(x, scale_factor=2, mode="nearest")[0, 0],
                "bilinear x2": F.interpolate(x, scale_factor=2, mode="bilinear")[0, 0],
                "transposed 2x2, stride 2\nkernel [[1, .5], [.5, .25]]": transposed(x)[0, 0],
                "encoder map before its 2x2\nmax-pooling (gives the 4x4 map)": before,
                "max-unpool with the\nencoder's indices": F.max_unpool2d(pooled, indices, 2, stride=2)[0, 0],
                "transposed 3x3, stride 2\nkernel of ones (overlaps)": overlapping(x)[0, 0]}


def operations_figure(maps: dict[str, torch.Tensor], path: Path) -> None:
    fig, axes = plt.subplots(2, 4, figsize=(13, 6.6))
    for ax, (title, values) in zip(axes.flat, maps.items()):
        ax.imshow(values.numpy(), cmap="viridis", vmin=0, vmax=max(4.0, float(values.max())))
        for (row, col), value in zip(torch.cartesian_prod(torch.arange(values.shape[0]),
                                                          torch.arange(values.shape[1])).tolist(), values.flatten()):
            ax.text(col, row, f"{float(value):.2g}", ha="center", va="center", fontsize=7,
                    color="white" if float(value) < 2.5 else "black")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes.flat[-1].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def segment(work: Path, data: Path, label: str, options: list[str]) -> dict:
    name = label.replace(" ", "-")
    run = fresh(work / name)
    tk("segment", "--data", str(data), *TRAINING, *options, "--out", str(work), "--name", name)
    test = run_json(run)["metrics"]["test"]
    times = [row["time"] for row in history(run)][1:]
    per_class = {k: None if v["iou"] is None else round(v["iou"], 4) for k, v in test["per_class"].items()}
    return {"test_miou": round(test["mean_iou"], 4), "per_class_iou": per_class,
            "params": tk_json("summary", str(run))["trainable_params"],
            "seconds_per_epoch": round(sum(times) / len(times), 2)}


def main() -> None:
    args = arguments(PAGE, __doc__.splitlines()[0])
    start = time.perf_counter()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per run: steadier times on a busy machine
    maps = operations()
    operations_figure(maps, args.out / "operations.png")
    data = fresh(args.work / "shapes")
    tk("data", "shapes", str(data), *SHAPES)
    results = {label: segment(args.work, data, label, options) for label, options in DECODERS.items()}
    bars({label: r["test_miou"] for label, r in results.items()}, args.out / "miou.png", ylabel="test mean IoU",
         title=f"segnet_small encoder on 32x32 shapes, {EPOCHS} epochs")
    curves({label: args.work / label.replace(" ", "-") for label in DECODERS}, "miou", args.out / "curves.png",
           title="validation mean IoU by epoch", splits=("val",), ylabel="mean IoU")
    write_numbers(args.out, {"script_minutes": round((time.perf_counter() - start) / 60, 1),
                             "shapes": SHAPES, "epochs": EPOCHS, "results": results,
                             "operations": {k.split("\n")[0]: [[round(float(v), 3) for v in row] for row in m]
                                            for k, m in maps.items()}})


if __name__ == "__main__":
    main()
