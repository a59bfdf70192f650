"""Torchvision's classification models as backbones: `tv/<name>`, its network less the last layer.

One generic rule serves every model (ResNets, VGG, MobileNets, EfficientNets, ConvNeXt,
DenseNet, RegNet, ShuffleNet, SqueezeNet, Inception, vision transformers...): trace the model
with torchvision's feature extraction (torch.fx) and read the graph. Names come from
torchvision's sources without importing it (see `adapter.scan_model_names`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.fx import Node

from taskkit.backbone import Backbone
from taskkit.errors import BadInputError, describe
from taskkit.plugins.torchvision_models.adapter import (AdapterFactory, check_img_size, check_weight_options,
                                                        group_stages, load_weights, scan_model_names)
from taskkit.model.weights import adapt_input_weight, fetch_refused, quiet_download

PREFIX = "tv/"
SIZE = 224
#: Options for models built without weights, to keep torchvision's initialisation and quiet
#: its warning about a future change of the default.
UNWEIGHTED = {"googlenet": {"init_weights": True}, "inception_v3": {"init_weights": True}}
_ADAPTIVE = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


@dataclass(frozen=True)
class Plan:
    """Where to cut one architecture: the graph nodes ending its stages, and what they give."""

    nodes: list[str]
    names: list[str]
    layouts: list[str]
    out_channels: list[int]
    reductions: list[int]
    first_conv: str
    final: str


_PLANS: dict[tuple[str, bool], Plan] = {}


class TorchvisionBackbone(Backbone):
    """A torchvision classification model as a backbone: one stage per resolution, then pre-logits.

    One rule for every architecture, read from the traced graph (torch.fx, torchvision's
    feature extraction; shapes from a 224x224 image on the meta device, once per
    architecture): a stage ends where the graph narrows to a single tensor for the last time
    at each resolution, the maps being about 1/2, 1/4, ... 1/32 of the input, and at the end of
    the outermost module that ends there (`layer1`, `features.3`, `denseblock1`, rather than
    a convolution inside the next block). If layers with weights sit between the last map
    and the final classifier layer (VGG's and AlexNet's 4096-unit layers, MobileNetV3's
    hidden layer, ConvNeXt's norm, a vision transformer's encoder), they form a last
    `pre_logits` stage with a [B, C, 1, 1] map. Only the final layer is left out, so this
    backbone with a linear head is torchvision's network, with its parameter count and
    module names: torchvision's state dict, less that layer (and GoogLeNet's and Inception's
    auxiliary classifiers), loads into it strictly.
    `stages()` splits the modules in the order the graph runs them. Swin's channels-last
    maps are returned channels-first. Unpadded convolutions (AlexNet, SqueezeNet,
    Inception) make maps of other image sizes a little smaller than size / reduction.

    `small_input` is accepted and has no effect: the network is torchvision's. `img_size` is
    used only to refuse an image size the network cannot take. Other `in_channels` get a new
    first convolution whose weights are the original ones adapted (summed for one channel).
    `pretrained=True` downloads torchvision's default weights (refused when `TK_OFFLINE=1`
    or `HF_HUB_OFFLINE=1`); `weights` loads a local `.pth` or `.safetensors` state dict of the
    torchvision model.
    """

    def __init__(self, model_name: str, in_channels: int = 3, img_size: int = 224,
                 small_input: bool | None = None, pretrained: bool = False, weights: str | None = None):
        super().__init__()
        label = PREFIX + model_name
        check_weight_options(label, pretrained, weights)
        model = _build(model_name, label, pretrained, in_channels)
        plan = plan_for(model_name, model)
        if in_channels != 3:
            _replace_first_conv(model, plan.first_conv, in_channels, label)
        self._adopt(_extract(model, plan))
        self.model_name, self.small_input, self._layouts = model_name, False, plan.layouts
        self.stage_names, self.out_channels = list(plan.names), list(plan.out_channels)
        self.reductions = list(plan.reductions)
        self.__dict__["_stages"] = group_stages(self, execution_stages(self.extractor), len(plan.nodes))
        if weights:
            load_weights(self, weights, label)
        check_img_size(self, in_channels, img_size, SIZE, label)

    def _adopt(self, extractor: nn.Module) -> None:
        """Hold the traced network's modules directly, so tensor names are torchvision's own.

        Tensors the trace turned into constants (index tables some transformers compute at
        construction) are kept out of the state dict: they are not weights.
        """
        for name, child in extractor.named_children():
            self.add_module(name, child)
        for name, param in extractor.named_parameters(recurse=False):
            self.register_parameter(name, param)
        for name, buffer in extractor.named_buffers(recurse=False):
            self.register_buffer(name, buffer, persistent=not name.startswith("_tensor_constant"))
        self.__dict__["extractor"] = extractor

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self.extractor._parameters.update({k: self._parameters[k] for k in self.extractor._parameters})
        self.extractor._buffers.update({k: self._buffers[k] for k in self.extractor._buffers})
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        self.extractor.train(mode)  # switches between the traced train and eval graphs
        return self

    def stages(self) -> list[nn.Module]:
        return list(self._stages)

    def forward(self, x: Tensor) -> list[Tensor]:
        out = self.extractor(x)
        return [_as_map(out[str(i)], layout) for i, layout in enumerate(self._layouts)]


def _as_map(value: Tensor, layout: str) -> Tensor:
    if layout == "NHWC":
        return value.permute(0, 3, 1, 2)
    if layout == "flat":
        return value.reshape(value.shape[0], -1, 1, 1)
    return value


def _build(model_name: str, label: str, pretrained: bool, in_channels: int) -> nn.Module:
    from torchvision import models

    options = {} if pretrained else UNWEIGHTED.get(model_name, {})
    try:
        with quiet_download():
            model = models.get_model(model_name, weights="DEFAULT" if pretrained else None, **options)
    except Exception as exc:
        if pretrained:
            raise fetch_refused(label, describe(exc)) from None
        raise BadInputError(f"torchvision cannot build {label} ({describe(exc)})") from None
    if in_channels != 3 and getattr(model, "transform_input", False):
        model.transform_input = False  # it rescales three ImageNet channels one by one
    return model


def _replace_first_conv(model: nn.Module, path: str, in_channels: int, label: str) -> None:
    parent_name, _, attr = path.rpartition(".")
    parent = model.get_submodule(parent_name)
    old = getattr(parent, attr)
    if old.groups != 1:
        raise BadInputError(f"{label} takes no {in_channels}-channel input: its first convolution is grouped")
    new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding, old.dilation,
                    bias=old.bias is not None, padding_mode=old.padding_mode)
    with torch.no_grad():
        new.weight.copy_(adapt_input_weight(old.weight, in_channels))
        if old.bias is not None:
            new.bias.copy_(old.bias)
    setattr(parent, attr, new)


def _extract(model: nn.Module, plan: Plan) -> nn.Module:
    from torchvision.models.feature_extraction import create_feature_extractor

    return_nodes = {node: str(i) for i, node in enumerate(plan.nodes)}
    return create_feature_extractor(model, return_nodes=return_nodes, suppress_diff_warning=True)


def execution_stages(extractor: nn.Module) -> dict[str, int]:
    """The stage of every tensor name: the stage of the first graph node (eval mode) using it."""
    graph = extractor.eval_graph
    output = next(n for n in graph.nodes if n.op == "output")
    ends = {node: int(key) for key, node in output.args[0].items()}
    stage_of: dict[str, int] = {}
    stage = 0
    for node in graph.nodes:
        if node.op == "call_module":
            module = extractor.get_submodule(node.target)
            for name, _ in (*module.named_parameters(), *module.named_buffers()):
                stage_of.setdefault(f"{node.target}.{name}", stage)
        elif node.op == "get_attr":
            stage_of.setdefault(node.target, stage)
        if node in ends:
            stage = ends[node] + 1
    return stage_of


def plan_for(model_name: str, model: nn.Module) -> Plan:
    """The cut of one architecture, found once per process (the trace costs a fraction of a second)."""
    key = (model_name, bool(getattr(model, "transform_input", False)))
    if key not in _PLANS:
        _PLANS[key] = _analyse(model)
    return _PLANS[key]


def _analyse(model: nn.Module) -> Plan:
    """Trace every node, find the shapes at 224x224 on the meta device, and choose the stages."""
    from torch.func import functional_call
    from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

    train_names, eval_names = get_graph_node_names(model, suppress_diff_warning=True)
    traced = create_feature_extractor(model, train_return_nodes=train_names, eval_return_nodes=eval_names,
                                      suppress_diff_warning=True).eval()
    tensors = {k: torch.empty_like(v, device="meta") for k, v in (*traced.named_parameters(),
                                                                   *traced.named_buffers())}
    with torch.no_grad():
        values = functional_call(traced, tensors, (torch.empty(1, 3, SIZE, SIZE, device="meta"),))
    output = next(n for n in traced.graph.nodes if n.op == "output")
    graph = _Graph(traced, {node: name for name, node in output.args[0].items()}, values)
    return graph.plan()


class _Graph:
    """The traced graph in execution order, with each node's name, value and module."""

    def __init__(self, traced: nn.Module, name_of: dict[Node, str], values: dict[str, object]):
        self.nodes = [n for n in traced.graph.nodes if n.op not in ("placeholder", "output")]
        self.pos = {n: i for i, n in enumerate(self.nodes)}
        self.name_of, self.values = name_of, values
        self.modules = dict(traced.named_modules())
        self.first: dict[str, int] = {}
        self.last: dict[str, int] = {}
        for i, node in enumerate(self.nodes):
            for prefix in self.prefixes(node):
                self.first.setdefault(prefix, i)
                self.last[prefix] = i

    def prefixes(self, node: Node) -> list[str]:
        parts = self.name_of.get(node, "").split(".") if node in self.name_of else []
        return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]

    def value(self, node: Node) -> object:
        return self.values.get(self.name_of.get(node, ""))

    def weighted(self, node: Node) -> bool:
        if node.op == "get_attr":
            return True
        return node.op == "call_module" and any(True for _ in self.modules[node.target].parameters())

    def cut_points(self, stop: int) -> list[Node]:
        """Tensor nodes before `stop` that alone carry everything later nodes need."""
        cuts, reach = [], 0
        for i, node in enumerate(self.nodes[:stop]):
            if not isinstance(self.value(node), Tensor):
                continue
            if reach <= i:
                cuts.append(node)
            reach = max([reach, *(self.pos[u] for u in node.users if u in self.pos)])
        return cuts

    def layout(self, node: Node) -> str | None:
        value = self.value(node)
        if node.op == "call_module" and isinstance(self.modules[node.target], _ADAPTIVE):
            return None
        if value.dim() != 4:
            return None
        if value.shape[2] == value.shape[3] > 1:
            return "NCHW"
        if value.shape[1] == value.shape[2] > 1:
            return "NHWC"
        return None

    def depth(self, node: Node) -> int:
        """How shallow the outermost module is that `node` ends (1: a top-level module)."""
        i = self.pos[node]
        return next(k for k, p in enumerate(self.prefixes(node), start=1) if self.last[p] == i)

    def display_name(self, node: Node, after: int) -> str:
        """The outermost module `node` ends that holds no node of an earlier stage."""
        i = self.pos[node]
        ended = [p for p in self.prefixes(node) if self.last[p] == i and self.first[p] > after]
        return ended[0] if ended else self.name_of[node]

    def plan(self) -> Plan:
        final = max((n for n in self.nodes if n.op == "call_module" and self.weighted(n)), key=self.pos.get)
        chosen: list[tuple[int, Node, str]] = []
        for node in self.cut_points(self.pos[final]):
            layout = self.layout(node)
            if layout is None:
                continue
            size = self.value(node).shape[2 if layout == "NCHW" else 1]
            octave = round(math.log2(SIZE / size))
            if chosen and octave == chosen[-1][0]:
                if self.depth(node) <= self.depth(chosen[-1][1]):
                    chosen[-1] = (octave, node, layout)
            elif not chosen or octave > chosen[-1][0]:
                chosen.append((octave, node, layout))
        return self._plan(chosen, final)

    def _plan(self, chosen: list[tuple[int, Node, str]], final: Node) -> Plan:
        nodes, names, layouts, channels, reductions, after = [], [], [], [], [], -1
        for _, node, layout in chosen:
            shape = self.value(node).shape
            nodes.append(self.name_of[node])
            names.append(self.display_name(node, after))
            layouts.append(layout)
            channels.append(shape[1] if layout == "NCHW" else shape[3])
            reductions.append(round(SIZE / shape[2]))
            after = self.pos[node]
        if any(self.weighted(n) for n in self.nodes[after + 1:self.pos[final]]):
            pre_logits = final.args[0]
            nodes.append(self.name_of[pre_logits])
            names.append("pre_logits")
            layouts.append("flat")
            channels.append(self.value(pre_logits).shape[1])
            reductions.append(SIZE)
        return Plan(nodes, names, layouts, channels, reductions, self.first_conv(), final.target)

    def first_conv(self) -> str:
        """The first convolution run, also inside leaf modules such as `Conv2dNormActivation`."""
        for node in self.nodes:
            if node.op != "call_module":
                continue
            for name, module in self.modules[node.target].named_modules():
                if isinstance(module, nn.Conv2d):
                    return f"{node.target}.{name}".rstrip(".")
        raise BadInputError("this torchvision model has no convolution to take the input channels")


def model_names() -> list[str]:
    """torchvision's classification model names, from its sources or from torchvision itself."""
    names = scan_model_names("torchvision", "models")
    if not names:
        from torchvision import models

        names = models.list_models(module=models)
    return names


def register(backbones) -> None:
    """One registry entry per torchvision classification model: `tv/<name>`, built when asked for."""
    for name in model_names():
        summary = f"torchvision's {name}, less its last layer: one stage per resolution."
        backbones.register(PREFIX + name)(AdapterFactory(TorchvisionBackbone, name, summary))
