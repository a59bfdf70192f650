"""Per-layer output shape, parameters, FLOPs and receptive field of any model.

FLOPs come from torch's own flop counter, which counts a multiply-add as two operations;
the summary reports both figures and says which is which. The receptive field is
propagated through the model's traced graph: each convolution or pooling widens it by
(kernel - 1) x dilation x the jump (product of earlier strides), a sum or concatenation takes
the widest of its inputs, and global pooling or a linear layer sees the whole input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

_WINDOWED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool2d, nn.AvgPool2d, nn.MaxPool1d, nn.AvgPool1d)
_ADAPTIVE = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d)


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: list[int] | None
    trainable: int
    frozen: int
    flops: int
    receptive_field: int | None


@dataclass
class Summary:
    input_shape: list[int]
    rows: list[LayerRow] = field(default_factory=list)
    total_trainable: int = 0
    total_frozen: int = 0
    total_flops: int = 0

    @property
    def multiply_adds(self) -> int:
        return self.total_flops // 2

    def as_dict(self) -> dict[str, Any]:
        return {"input_shape": self.input_shape, "trainable_params": self.total_trainable,
                "frozen_params": self.total_frozen, "flops": self.total_flops,
                "multiply_adds": self.multiply_adds, "layers": [vars(r) for r in self.rows]}


def _param_counts(module: nn.Module, recurse: bool) -> tuple[int, int]:
    params = list(module.parameters(recurse=recurse))
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return trainable, sum(p.numel() for p in params) - trainable


def _pair(value: Any) -> int:
    return value[0] if isinstance(value, tuple) else int(value)


def receptive_fields(model: nn.Module, input_size: int) -> dict[str, int]:
    """Receptive field (in input pixels) of each module's output, by name; empty if untraceable.

    Convolution fields are the theoretical ones and may exceed the input (resnet18's last
    stage sees 435 pixels); global pooling and linear layers see at least the whole input.
    """
    try:
        graph = _Tracer().trace(model)
    except Exception:  # data-dependent control flow: no receptive field, the rest still works
        return {}
    modules = dict(model.named_modules())
    state: dict[str, tuple[int, int]] = {}
    fields: dict[str, int] = {}
    for node in graph.nodes:
        inputs = [state[a.name] for a in node.all_input_nodes if a.name in state]
        rf, jump = (max(r for r, _ in inputs), max(j for _, j in inputs)) if inputs else (1, 1)
        if node.op == "call_module":
            module = modules[node.target]
            if isinstance(module, _WINDOWED):
                dilation = _pair(getattr(module, "dilation", 1))
                rf += (_pair(module.kernel_size) - 1) * dilation * jump
                jump *= _pair(module.stride)
            elif isinstance(module, nn.Linear) or (isinstance(module, _ADAPTIVE) and _is_global(module)):
                rf = max(rf, input_size)
            fields[node.target] = rf
        state[node.name] = (rf, jump)
    return _with_containers(fields, modules)


def _is_global(pool: nn.Module) -> bool:
    size = pool.output_size
    return all(s in (1, None) for s in (size if isinstance(size, tuple) else (size,)))


def _with_containers(fields: dict[str, int], modules: dict[str, nn.Module]) -> dict[str, int]:
    """A container's field is that of the last layer inside it to run."""
    for name in modules:
        inside = [field for leaf, field in fields.items() if leaf.startswith(f"{name}.")]
        if name and name not in fields and inside:
            fields[name] = inside[-1]
    return fields


class _Tracer(torch.fx.Tracer):
    """A tracer that steps into modules held outside the module tree (e.g. a stage view)."""

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        try:
            self.path_of_module(m)
        except NameError:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)


def summarize(model: nn.Module, input_shape: list[int], depth: int | None = None,
              inputs: tuple[torch.Tensor, ...] | None = None) -> Summary:
    """Run one zero input through `model` in eval mode and record every layer.

    `depth=None` lists leaf layers; an integer lists modules that many levels below the root.
    `inputs` replaces the zero image for models of other inputs (a sequence model's tokens and
    lengths); receptive fields are then left out, since they are measured in pixels.
    """
    was_training = model.training
    model.eval()
    chosen = _chosen_modules(model, depth)
    shapes: dict[str, list[int]] = {}
    recurrent: dict[str, int] = {}
    hooks = [module.register_forward_hook(_shape_hook(name, shapes)) for name, module in chosen]
    hooks += [module.register_forward_hook(_recurrent_hook(name, recurrent))
              for name, module in model.named_modules() if isinstance(module, nn.RNNBase)]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*(inputs if inputs is not None else (torch.zeros(1, *input_shape),)))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    root = type(model).__name__
    flops = {key.removeprefix(root).removeprefix("."): sum(v.values()) for key, v in counter.get_flop_counts().items()}
    fields = receptive_fields(model, input_shape[-1]) if inputs is None else {}
    summary = Summary(list(input_shape))
    for name, module in chosen:
        trainable, frozen = _param_counts(module, recurse=True)
        inside = sum(f for layer, f in recurrent.items() if layer == name or layer.startswith(f"{name}."))
        summary.rows.append(LayerRow(name, type(module).__name__, shapes.get(name), trainable, frozen,
                                     flops.get(name, 0) + inside, fields.get(name)))
    summary.total_trainable, summary.total_frozen = _param_counts(model, recurse=True)
    summary.total_flops = counter.get_total_flops() + sum(recurrent.values())
    return summary


def recurrent_flops(rnn: nn.RNNBase, tokens: int) -> int:
    """FLOPs (two per multiply-add) of the matrix products of `rnn` over `tokens` time steps in all.

    torch's flop counter does not see inside the fused recurrent kernels, so they are counted
    here: per token, direction and layer, each gate multiplies the layer's input and the
    previous hidden state by its weights (an LSTM has 4 gates, a GRU 3, an Elman RNN 1).
    """
    gates = {"LSTM": 4, "GRU": 3}.get(rnn.mode, 1)
    directions = 2 if rnn.bidirectional else 1
    total = 0
    for layer in range(rnn.num_layers):
        width = rnn.input_size if layer == 0 else rnn.hidden_size * directions
        total += gates * (width * rnn.hidden_size + rnn.hidden_size * rnn.hidden_size)
    return 2 * tokens * directions * total


def _recurrent_hook(name: str, counts: dict[str, int]):
    def hook(module: nn.RNNBase, args: Any, output: Any) -> None:
        data = args[0]
        if isinstance(data, torch.nn.utils.rnn.PackedSequence):
            tokens = data.data.shape[0]
        else:
            tokens = data.shape[0] * data.shape[1] if data.dim() == 3 else data.shape[0]
        counts[name] = counts.get(name, 0) + recurrent_flops(module, tokens)
    return hook


def _chosen_modules(model: nn.Module, depth: int | None) -> list[tuple[str, nn.Module]]:
    named = [(n, m) for n, m in model.named_modules() if n]
    if depth is None:
        return [(n, m) for n, m in named if not list(m.children())]
    return [(n, m) for n, m in named if n.count(".") + 1 <= depth]


def _shape_hook(name: str, shapes: dict[str, list[int]]):
    def hook(module: nn.Module, args: Any, output: Any) -> None:
        tensor = output[0] if isinstance(output, tuple) else output
        tensor = tensor[-1] if isinstance(tensor, list) else tensor
        if isinstance(tensor, torch.nn.utils.rnn.PackedSequence):  # one text: data is [tokens, features]
            shapes[name] = list(tensor.data.shape)
        elif isinstance(tensor, torch.Tensor):
            shapes[name] = list(tensor.shape[1:])
    return hook


def human(count: float) -> str:
    """1814073344 -> '1.81 G'."""
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if count >= factor:
            return f"{count / factor:.3g} {unit}"
    return f"{count:g}"


def parse_input_shape(text: str) -> list[int]:
    """`3x224x224` (or `1x28x28`) as a list of ints; anything else is bad input."""
    from taskkit.errors import BadInputError

    try:
        shape = [int(part) for part in text.lower().split("x")]
    except ValueError:
        shape = []
    if len(shape) != 3 or min(shape) < 1:
        raise BadInputError(f"--input must look like 3x224x224 (channels x height x width), got '{text}'")
    return shape


#: Tokens in the example text of a sequence model's summary, unless --input says otherwise.
DEFAULT_LENGTH = 50


def model_for_summary(target: str, input_text: str | None, head: str | None,
                      classes: int) -> tuple[nn.Module, list[int], tuple[torch.Tensor, ...] | None]:
    """A backbone by name (optionally with a head), or the model of a run directory, with its input.

    Image models get `--input CxHxW` (or the run's size); sequence models read `--input` as a
    number of tokens and get an example text of that length as `inputs`.
    """
    from pathlib import Path

    from taskkit.backbone import BackboneWithHead
    from taskkit.registries import BACKBONES, HEADS, TASKS
    from taskkit.sequence import EncoderWithHead, modality, require_modality

    if Path(target).is_dir():
        from taskkit.storage.runs import read_run

        record = read_run(target)
        model = TASKS.get(record["task"]).load_model(Path(target), record)
        spec = record["model"]
        if isinstance(model, EncoderWithHead):
            return (model, *_sequence_input(input_text))
        height, width = spec.get("input_size") or (spec["img_size"], spec["img_size"])
        shape = parse_input_shape(input_text) if input_text else [spec["in_channels"], height, width]
        return model, shape, None
    if modality(BACKBONES.get(target)) == "sequence":
        from taskkit.model import CARD_VOCABULARY

        encoder = BACKBONES.build(target, vocab_size=CARD_VOCABULARY)
        if head is None:
            return (encoder, *_sequence_input(input_text))
        require_modality(HEADS, head, "sequence", "head")
        head_module = HEADS.build(head, in_channels=encoder.out_channels[-1], num_outputs=classes)
        return (EncoderWithHead(encoder, head_module), *_sequence_input(input_text))
    shape = parse_input_shape(input_text) if input_text else [3, 224, 224]
    backbone = BACKBONES.build(target, in_channels=shape[0], context={"img_size": shape[-1]})
    if head is None:
        return backbone, shape, None
    require_modality(HEADS, head, "image", "head")
    head_module = HEADS.build(head, in_channels=backbone.out_channels[-1], num_outputs=classes)
    return BackboneWithHead(backbone, head_module, num_outputs=classes), shape, None


def _sequence_input(text: str | None) -> tuple[list[int], tuple[torch.Tensor, torch.Tensor]]:
    """`[length]` and an example text of that many tokens (ids 2, 3, ...; 0 and 1 are reserved)."""
    from taskkit.errors import BadInputError

    if text is None:
        length = DEFAULT_LENGTH
    elif text.isdigit() and int(text) > 0:
        length = int(text)
    else:
        raise BadInputError(f"--input for a sequence model is a number of tokens, e.g. 50; got '{text}'")
    tokens = (torch.arange(length) % 8 + 2)[None, :]
    return [length], (tokens, torch.tensor([length]))
