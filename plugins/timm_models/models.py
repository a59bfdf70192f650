"""Every timm model as a backbone: `timm/<name>` wraps timm's own `features_only` network.

Names come from timm's model sources without importing timm (see
`torchvision_models.adapter.scan_model_names`), so listing costs no model and no import; a
model is built only when asked for. Importing timm happens inside `TimmBackbone`.
"""

from __future__ import annotations

from torch import Tensor, nn

from taskkit.backbone import Backbone
from taskkit.errors import BadInputError, describe
from taskkit.plugins.torchvision_models.adapter import (AdapterFactory, check_img_size, check_weight_options,
                                                        group_stages, load_weights, scan_model_names)
from taskkit.model.weights import fetch_refused

PREFIX = "timm/"


class TimmBackbone(Backbone):
    """A timm model as a backbone: the maps of timm's `features_only` network, one per stage.

    timm knows, for each of its models, where the feature maps worth reading are
    (`feature_info`: module, channels, reduction); its `features_only` network returns exactly
    those, usually five maps at reductions 2 to 32. Those maps are the stages, named after the
    modules that produce them. For freezing, `stages()` splits the network's modules in the
    order timm registered them (the order timm itself relies on when it cuts the network):
    a stage ends with the module of its feature, so the first stage is the stem and whatever
    precedes the first feature, and each later stage runs up to the next feature's module.
    Where timm names a feature after a module the network does not have (a few models with a
    feature class of their own), that stage is empty and its modules join the next stage.

    `small_input` is accepted and has no effect: the network is timm's. `img_size` is used only
    to refuse, at build time, an image size the network cannot take. `in_channels` goes to
    timm (`in_chans`). `pretrained=True` downloads timm's default weights (refused offline,
    with `TK_OFFLINE=1` or `HF_HUB_OFFLINE=1`); `weights` loads a local `.safetensors` or
    `.pth` state dict of the timm model (its classifier, if present, is ignored).
    """

    def __init__(self, model_name: str, in_channels: int = 3, img_size: int = 224,
                 small_input: bool | None = None, pretrained: bool = False, weights: str | None = None):
        super().__init__()
        label = PREFIX + model_name
        check_weight_options(label, pretrained, weights)
        self.model_name, self.small_input = model_name, False
        self.model = _create(model_name, label, in_channels, pretrained)
        info = self.model.feature_info
        self.stage_names = list(info.module_name())
        self.out_channels = list(info.channels())
        self.reductions = list(info.reduction())
        self._nhwc = str(getattr(self.model, "output_fmt", "NCHW")) in ("NHWC", "Format.NHWC")
        ends = [_resolve(self.model, name) for name in self.stage_names]
        stage_of = registration_stages(self.model, ends)
        self.__dict__["_stages"] = group_stages(self.model, stage_of, len(ends))
        if weights:
            load_weights(self.model, weights, label, timm_key)
        usual = (getattr(self.model, "pretrained_cfg", None) or {}).get("input_size", (3, 224, 224))[-1]
        check_img_size(self, in_channels, img_size, usual, label)

    def stages(self) -> list[nn.Module]:
        return list(self._stages)

    @staticmethod
    def weight_key(key: str, state: dict[str, Tensor]) -> str | None:
        """Where a timm checkpoint (or a tk run of this backbone) keeps tensor `key` (see `timm_key`)."""
        return timm_key(key, state)

    def forward(self, x: Tensor) -> list[Tensor]:
        maps = list(self.model(x))
        return [m.permute(0, 3, 1, 2) for m in maps] if self._nhwc else maps


def _create(model_name: str, label: str, in_channels: int, pretrained: bool) -> nn.Module:
    """timm's features-only network, with its library errors turned into one-line bad input."""
    import timm

    try:
        return timm.create_model(model_name, features_only=True, pretrained=pretrained, in_chans=in_channels)
    except Exception as exc:
        if pretrained:
            raise fetch_refused(label, describe(exc)) from None
        raise BadInputError(f"timm cannot build {label} as a backbone ({describe(exc)})") from None


def _resolve(model: nn.Module, name: str) -> str | None:
    """The name in the features network of the module timm calls `name` in the full model.

    The features network flattens the first level of Sequential containers (`blocks.1`
    becomes `blocks_1`) or keeps the model whole under `model` or `body`.
    """
    modules = dict(model.named_modules())
    for candidate in (name, name.replace(".", "_", 1), f"model.{name}", f"body.{name}"):
        if candidate in modules:
            return candidate
    return None


def registration_stages(model: nn.Module, ends: list[str | None]) -> dict[str, int]:
    """The stage of every tensor name: the first stage whose end module is not before it.

    Modules are ordered as registered (depth first); a stage ends with the last descendant of
    its end module. An unresolved end leaves its stage empty.
    """
    order = [name for name, _ in model.named_modules()]
    last = {}
    for position, name in enumerate(order):
        parts = name.split(".") if name else []
        for depth in range(len(parts) + 1):
            last[".".join(parts[:depth])] = position
    bounds, bound = [], -1
    for end in ends:
        bound = last[end] if end is not None else bound
        bounds.append(bound)
    stage_of, stage = {}, 0
    for position, (name, module) in enumerate(model.named_modules()):
        while stage < len(bounds) - 1 and position > bounds[stage]:
            stage += 1
        prefix = f"{name}." if name else ""
        for tensor_name, _ in (*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)):
            stage_of[prefix + tensor_name] = stage
    return stage_of


def timm_key(key: str, state: dict[str, Tensor]) -> str | None:
    """The name in a timm model's state dict of tensor `key` of its features network."""
    if key in state:
        return key
    for prefix in ("model.", "body."):
        if key.startswith(prefix) and key[len(prefix):] in state:
            return key[len(prefix):]
    head, dot, rest = key.partition(".")
    for index, char in enumerate(head):
        candidate = f"{head[:index]}.{head[index + 1:]}{dot}{rest}"
        if char == "_" and candidate in state:
            return candidate
    return None


def model_names() -> list[str]:
    """timm's model names, from its sources, or from timm itself if those cannot be read."""
    names = scan_model_names("timm", "models")
    if not names:
        import timm

        names = timm.list_models()
    return names


def register(backbones) -> None:
    """One registry entry per timm model: `timm/<name>`, built only when asked for."""
    for name in model_names():
        summary = f"timm's {name} (PyTorch Image Models): its features_only maps as stages."
        backbones.register(PREFIX + name)(AdapterFactory(TimmBackbone, name, summary))
