"""Training-step time of resnet18 by `--freeze`, through tk and through a hand-written loop.

Freezing saves the backward pass through the frozen stages (autograd stops below the first
trainable layer) but not their forward pass, so the step time falls with each frozen stage
towards the cost of a forward pass. This measures that saving for `--freeze 0, 1, 2, 3, 4`
and `all` at 64x64, batch 32, and prints each step time as a ratio to `--freeze 0`.

The tk side is what `tk finetune` runs: the model spec, `StageFreezer` (frozen parameters out
of the optimizer, their BatchNorm in eval mode), the optimizer over its groups, and the
engine's `train_one_epoch`. The hand side is torchvision's resnet18 with the same stages'
`requires_grad` turned off, their BatchNorm in eval mode, and AdamW over what trains. Both
run in this process, interleaved setting by setting, and the median of the repeats is kept.
Run: `python benchmarks/finetune_freeze.py [--repeats 5] [--steps 8]`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torchvision
from torch import nn

from taskkit.train.engine import FitState, StepOptions, train_one_epoch
from taskkit.model.freezing import FreezePlan, StageFreezer, frozen_entries
from taskkit.train.optim import build_optimizer
from taskkit.tasks.classify.run import build_model

SIZE, BATCH, CLASSES, LR = 64, 32, 10, 1e-3
SETTINGS = ("0", "1", "2", "3", "4", "all")


def batches(steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(BATCH, 3, SIZE, SIZE, generator=generator),
             torch.randint(0, CLASSES, (BATCH,), generator=generator)) for _ in range(steps)]


def tk_step_time(freeze: str, data: list) -> float:
    """Seconds per step of the engine's epoch over `data`, the first two steps dropped as warm-up."""
    torch.manual_seed(0)
    spec = {"backbone": "resnet18", "backbone_options": {"small_input": False}, "head": "linear",
            "head_options": {}, "in_channels": 3, "img_size": SIZE, "classes": [str(i) for i in range(CLASSES)]}
    model = build_model(spec)
    plan = FreezePlan(frozen_entries(freeze, model.backbone.stage_names, "resnet18"))
    freezer = StageFreezer(model, plan, LR, 1e-4)
    freezer.apply(0)
    optimizer = build_optimizer("adamw", freezer.param_groups(), LR)
    options = StepOptions(device=torch.device("cpu"))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    train_one_epoch(model, data[:2], loss_fn, optimizer, None, options, FitState(epochs=1))
    start = time.perf_counter()
    train_one_epoch(model, data[2:], loss_fn, optimizer, None, options, FitState(epochs=1))
    return (time.perf_counter() - start) / len(data[2:])


def hand_step_time(freeze: str, data: list) -> float:
    """The same by hand: torchvision's resnet18, frozen stages' grads off and BatchNorm in eval."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=CLASSES)
    stages = [nn.ModuleList([model.conv1, model.bn1]), model.layer1, model.layer2, model.layer3, model.layer4]
    count = 5 if freeze == "all" else 0 if freeze == "0" else int(freeze) + 1
    for stage in stages[:count]:
        stage.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)

    def run(part: list) -> None:
        model.train()
        for stage in stages[:count]:
            stage.eval()
        for images, labels in part:
            optimizer.zero_grad()
            loss_fn(model(images), labels).backward()
            optimizer.step()

    run(data[:2])
    start = time.perf_counter()
    run(data[2:])
    return (time.perf_counter() - start) / len(data[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per measurement (after 2 warm-up)")
    args = parser.parse_args()
    data = batches(args.steps + 2)
    times: dict[str, dict[str, list[float]]] = {"tk": {s: [] for s in SETTINGS}, "hand": {s: [] for s in SETTINGS}}
    for _ in range(args.repeats):
        for setting in SETTINGS:
            times["tk"][setting].append(tk_step_time(setting, data))
            times["hand"][setting].append(hand_step_time(setting, data))
    median = {side: {s: statistics.median(v) for s, v in by.items()} for side, by in times.items()}
    print(f"resnet18, {SIZE}x{SIZE}, batch {BATCH}, {args.repeats} repeats x {args.steps} steps, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}")
    print("| --freeze | tk s/step | tk ratio | hand s/step | hand ratio | tk ratio / hand ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for setting in SETTINGS:
        tk_ratio = median["tk"][setting] / median["tk"]["0"]
        hand_ratio = median["hand"][setting] / median["hand"]["0"]
        print(f"| {setting} | {median['tk'][setting]:.3f} | {tk_ratio:.2f} | {median['hand'][setting]:.3f} | "
              f"{hand_ratio:.2f} | {tk_ratio / hand_ratio:.2f} |")


if __name__ == "__main__":
    main()
