"""What the timm and torchvision adapters share: names, weights, stage grouping, input checks.

Both adapters turn a library's model into a `Backbone` without rewriting it, so both need the
same few things: the library's model names without importing the library (listing backbones
must stay fast), weights from a local file (read and matched by `taskkit.model.weights`) or the
library's download with a one-line error when that is impossible, stage containers over
modules that the library grouped its own way, and an early, readable refusal of images too
small for the network.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import torch
from torch import nn

from taskkit.errors import BadInputError, describe
from taskkit.model.weights import fetch_refused, load_into, offline, read_state_dict

#: Where the library marks each model builder: the decorator, then (after any other
#: decorators) the `def` that names the model.
_REGISTERED = re.compile(r"^@register_model\b.*?^def\s+(\w+)\s*\(", re.S | re.M)


def scan_model_names(package: str, folder: str) -> list[str]:
    """Model names a library registers, read from its source files without importing it.

    Importing timm (and through it torchvision) costs about two seconds, which every `tk`
    command would pay just to fill the registry. The builders are marked by a
    `@register_model` decorator in the modules of one folder, so reading those files gives the
    same names; tests compare the result with the library's own `list_models`. An empty
    result (sources not on disk) lets the caller fall back to importing the library.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return []
    names: set[str] = set()
    for path in sorted((Path(spec.origin).parent / folder).glob("*.py")):
        names.update(_REGISTERED.findall(path.read_text(encoding="utf-8", errors="replace")))
    return sorted(names)


class AdapterFactory:
    """Builds one named model of a library as a backbone; the registry holds one per name.

    The registry reads a component's summary from its docstring and its options from its
    signature, so each factory carries its own docstring and the signature below.
    """

    #: A size at which five-stage networks still end in a 1x1 map; the backbone itself
    #: refuses a size its network cannot take.
    min_img_size = 32

    def __init__(self, backbone: type[nn.Module], model_name: str, summary: str):
        self.backbone, self.model_name = backbone, model_name
        details = (backbone.__doc__ or "").partition("\n")[2]
        self.__doc__ = f"{summary}\n{details}"

    def __call__(self, in_channels: int = 3, img_size: int = 224, small_input: bool | None = None,
                 pretrained: bool = False, weights: str | None = None) -> nn.Module:
        return self.backbone(self.model_name, in_channels=in_channels, img_size=img_size,
                             small_input=small_input, pretrained=pretrained, weights=weights)

    def __repr__(self) -> str:
        return f"<{self.backbone.__name__} factory for {self.model_name}>"






def check_weight_options(label: str, pretrained: bool, weights: str | None) -> None:
    if pretrained and weights:
        raise BadInputError(f"{label}: give pretrained=True or --weights FILE, not both")
    if pretrained and offline():
        raise fetch_refused(label, "offline: TK_OFFLINE or HF_HUB_OFFLINE is set")












def load_weights(module: nn.Module, path: str | Path, label: str, key_of=None) -> None:
    """Fill every tensor of `module` from a weights file; tensors beyond it (a classifier) are ignored."""
    load_into(module, read_state_dict(path), str(path), label, key_of)


def group_stages(root: nn.Module, stage_of: dict[str, int], count: int) -> list[nn.Module]:
    """One container per stage over `root`'s own modules, given the stage of each tensor name.

    Each stage holds the largest subtrees whose parameters and buffers all belong to it, so
    freezing a stage freezes exactly its tensors and puts its BatchNorm layers in eval mode.
    Parameters held directly by a module that spans stages go into a `ParameterList` of that
    stage. Tensors with no stage (after the last feature) belong to the last stage.
    """
    modules: list[list[nn.Module]] = [[] for _ in range(count)]
    loose: list[list[nn.Parameter]] = [[] for _ in range(count)]

    def visit(module: nn.Module, prefix: str) -> None:
        names = [prefix + n for n, _ in (*module.named_parameters(), *module.named_buffers())]
        stages = {stage_of.get(n, count - 1) for n in names}
        if len(stages) == 1:
            modules[stages.pop()].append(module)
        elif stages:
            for name, param in module.named_parameters(recurse=False):
                loose[stage_of.get(prefix + name, count - 1)].append(param)
            for name, child in module.named_children():
                visit(child, f"{prefix}{name}.")

    visit(root, "")
    groups = []
    for own, params in zip(modules, loose):
        group = nn.ModuleList(own)
        if params:
            group.append(nn.ParameterList(params))
        groups.append(group)
    return groups


def check_img_size(backbone: nn.Module, in_channels: int, img_size: int, usual: int, label: str) -> None:
    """Refuse, in one line, an image size below the usual one that the network cannot take.

    Smaller sizes are tried once with a single blank image (eval mode, no gradients), which
    is cheap at those sizes and exact where a rule of thumb would not be: padding lets many
    networks run on images smaller than their total stride, while others have fixed sizes.
    """
    if img_size >= usual:
        return
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            backbone(torch.zeros(1, in_channels, img_size, img_size))
    except Exception as exc:
        raise BadInputError(
            f"{label} cannot take {img_size}x{img_size} images ({describe(exc, 120)}); "
            f"use a larger --img-size, up to its usual {usual}"
        ) from None
    finally:
        backbone.train(was_training)
