"""The numbers and figure of docs/tutorials/conv_arithmetic.md: convolution arithmetic checked against `tk summary`.

For LeNet at 1x32x32, VGG-11 and ResNet-18 at 3x224x224, and ResNet-18 at 3x32x32 (its
small-input stem), the script reads `tk summary NAME --input CxHxW --json` and predicts, from
each layer's kernel, stride and padding alone (read off the same backbone built by name),
every convolution's and pooling's output shape, every layer's parameter count, the
network's multiply-adds and the receptive field after every convolution and pooling. It
writes the comparison to numbers.json and draws receptive_field.png. About a minute.
Run: `python docs/tutorials/conv_arithmetic.py`.
"""

from __future__ import annotations

import math
import time

from matplotlib.ticker import MaxNLocator
from torch import nn

from common import arguments, plt, tk_json, write_numbers

PAGE = "conv_arithmetic"
#: (label, backbone, --input)
MODELS = [("lenet 1x32x32", "lenet", "1x32x32"), ("vgg11 3x224x224", "vgg11", "3x224x224"),
          ("resnet18 3x224x224", "resnet18", "3x224x224"), ("resnet18 3x32x32", "resnet18", "3x32x32")]
WINDOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def pair(value) -> int:
    return value[0] if isinstance(value, tuple) else int(value)


def output_side(n: int, layer: nn.Module) -> int:
    """floor((n + 2p - d(k-1) - 1) / s) + 1, which is floor((n + 2p - k) / s) + 1 when d = 1."""
    k, s, p = pair(layer.kernel_size), pair(layer.stride), pair(layer.padding)
    d = pair(getattr(layer, "dilation", 1))
    rounding = math.ceil if getattr(layer, "ceil_mode", False) else math.floor
    return rounding((n + 2 * p - d * (k - 1) - 1) / s) + 1


def predicted_params(layer: nn.Module) -> int:
    """k*k*c_in*c_out (+ c_out biases) for a convolution, in*out (+ out) for a linear layer."""
    if isinstance(layer, nn.Conv2d):
        k_h, k_w = layer.kernel_size
        weights = k_h * k_w * (layer.in_channels // layer.groups) * layer.out_channels
        return weights + (layer.out_channels if layer.bias is not None else 0)
    if isinstance(layer, nn.Linear):
        return layer.in_features * layer.out_features + (layer.out_features if layer.bias is not None else 0)
    if isinstance(layer, nn.BatchNorm2d):
        return 2 * layer.num_features  # a scale and a shift per channel
    return 0


def multiply_adds(layer: nn.Module, out_shape: list[int]) -> int:
    """One multiply-add per weight per output position."""
    if isinstance(layer, nn.Conv2d):
        k_h, k_w = layer.kernel_size
        return k_h * k_w * (layer.in_channels // layer.groups) * out_shape[0] * out_shape[1] * out_shape[2]
    if isinstance(layer, nn.Linear):
        return layer.in_features * layer.out_features
    return 0


def block_of(name: str) -> str | None:
    """`layer2.0` for `layer2.0.downsample.0`: a shortcut convolution reads its block's input."""
    return name.split(".downsample")[0] if ".downsample" in name else None


def check(label: str, backbone: str, shape_text: str) -> dict:
    """Predict every windowed layer from the input size alone and compare with tk's summary."""
    from taskkit.registries import BACKBONES

    summary = tk_json("summary", backbone, "--input", shape_text)
    c, h, w = (int(x) for x in shape_text.split("x"))
    modules = dict(BACKBONES.build(backbone, in_channels=c, context={"img_size": w}).named_modules())
    current, rf, jump = [c, h, w], 1, 1
    block_inputs: dict[str, tuple[list[int], int, int]] = {}
    layers, mismatches, macs = [], [], 0
    for row in summary["layers"]:
        module = modules[row["name"]]
        block = row["name"].rsplit(".", 1)[0] if row["name"].count(".") >= 2 else None
        if block and block not in block_inputs and block_of(row["name"]) is None:
            block_inputs[block] = (current, rf, jump)
        if isinstance(module, WINDOWED):
            if block_of(row["name"]):  # a 1x1 shortcut: same input as its block's first convolution
                start, start_rf, start_jump = block_inputs[block_of(row["name"])]
                side = output_side(start[1], module)
                shape = [module.out_channels, side, side]
                field = start_rf + (pair(module.kernel_size) - 1) * start_jump
            else:
                side = output_side(current[1], module)
                shape = [getattr(module, "out_channels", current[0]), side, side]
                rf += (pair(module.kernel_size) - 1) * pair(getattr(module, "dilation", 1)) * jump
                jump *= pair(module.stride)
                current, field = shape, rf
            layers.append({"name": row["name"], "kind": row["kind"], "kernel": pair(module.kernel_size),
                           "stride": pair(module.stride), "padding": pair(module.padding),
                           "predicted_shape": shape, "tk_shape": row["output_shape"],
                           "predicted_params": predicted_params(module), "tk_params": row["trainable"],
                           "predicted_rf": field, "tk_rf": row["receptive_field"]})
            for what in ("shape", "params", "rf"):
                if layers[-1][f"predicted_{what}"] != layers[-1][f"tk_{what}"]:
                    mismatches.append(f"{row['name']} {what}")
        elif isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            size = module.output_size if isinstance(module.output_size, int) else module.output_size[0]
            current = [current[0], size, size]
            if size == 1:
                rf = max(rf, w)
        elif isinstance(module, nn.Linear):
            rf = max(rf, w)
            if predicted_params(module) != row["trainable"]:
                mismatches.append(f"{row['name']} params")
        elif predicted_params(module) != row["trainable"]:
            mismatches.append(f"{row['name']} params")
        macs += multiply_adds(module, layers[-1]["predicted_shape"] if isinstance(module, nn.Conv2d) else [])
    convs = [x for x in layers if x["kind"] == "Conv2d"]
    return {"label": label, "input": shape_text, "trainable_params": summary["trainable_params"],
            "predicted_params": sum(predicted_params(m) for m in modules.values() if not list(m.children())),
            "multiply_adds": summary["multiply_adds"], "predicted_multiply_adds": macs,
            "flops": summary["flops"], "conv_layers": len(convs), "pooling_layers": len(layers) - len(convs),
            "windowed_layers_checked": len(layers), "mismatches": mismatches,
            "final_map": layers[-1]["tk_shape"], "final_rf": layers[-1]["tk_rf"], "layers": layers}


def rf_figure(results: list[dict], path) -> None:
    """Receptive field and map side after each convolution and pooling, one line per network."""
    fig, (rf_ax, side_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for index, result in enumerate(results):
        main = [x for x in result["layers"] if ".downsample" not in x["name"]]
        steps = range(1, len(main) + 1)
        style = "--" if index == 3 else "-"
        rf_ax.plot(steps, [x["tk_rf"] for x in main], style, marker=".", color=f"C{index}", label=result["label"])
        side_ax.plot(steps, [x["tk_shape"][1] for x in main], style, marker=".", color=f"C{index}",
                     label=result["label"])
    for side in (224, 32):
        rf_ax.axhline(side, color="grey", lw=0.8, ls=":")
        rf_ax.text(1, side * 1.05, f"the whole {side}-pixel input", fontsize=8, color="grey")
    rf_ax.set(xlabel="convolution or pooling layer (in order)", ylabel="receptive field (input pixels)",
              title="receptive field grows layer by layer", yscale="log")
    side_ax.set(xlabel="convolution or pooling layer (in order)", ylabel="output height = width",
                title="and the feature map shrinks", yscale="log")
    for ax in (rf_ax, side_ax):
        ax.grid(alpha=0.3, which="both")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    args = arguments(PAGE, __doc__.splitlines()[0])
    start = time.perf_counter()
    results = [check(*model) for model in MODELS]
    rf_figure(results, args.out / "receptive_field.png")
    numbers = {"all_match": all(not r["mismatches"] for r in results)}
    numbers.update({result["label"]: result for result in results})
    numbers["script_minutes"] = round((time.perf_counter() - start) / 60, 1)
    write_numbers(args.out, numbers)


if __name__ == "__main__":
    main()
