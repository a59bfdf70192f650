"""What `tk list`, `tk info` and `tk plugins` report, as plain rows a table or JSON can show."""

from __future__ import annotations

import inspect
from typing import Any

from taskkit.components import flag
from taskkit.errors import UnknownComponentError
from taskkit.model import CARD_VOCABULARY
from taskkit.plugin_manager import get_manager
from taskkit.registries import REGISTRIES, find_entries, registered_by, registry_for, suggest_anywhere
from taskkit.registry import Entry

_WILDCARDS = set("*?[")


def list_rows(kind: str | None = None, pattern: str | None = None) -> list[dict[str, str]]:
    """One row per component; `kind` may also be a wildcard pattern over every kind."""
    if kind is not None and pattern is None and _WILDCARDS & set(kind):
        kind, pattern = None, kind
    registries = [registry_for(kind)] if kind else list(REGISTRIES.values())
    return [
        {"kind": r.kind, "name": e.name, "summary": e.summary, "plugin": e.plugin}
        for r in registries
        for e in r.entries(pattern or "*")
    ]


def describe(name: str) -> list[dict[str, Any]]:
    """Everything known about `name` in every registry that holds it."""
    entries = find_entries(name)
    if not entries:
        raise UnknownComponentError("component", "", name, suggest_anywhere(name))
    return [_describe_entry(e) for e in entries]


def _describe_entry(entry: Entry) -> dict[str, Any]:
    record = next((r for r in get_manager().records if r.name == entry.plugin), None)
    return {
        "kind": entry.kind,
        "name": entry.name,
        "aliases": list(entry.aliases),
        "summary": entry.summary,
        "doc": entry.doc,
        "plugin": entry.plugin,
        "distribution": record.distribution if record else "",
        "version": record.version if record else "",
        "options": {k: _show_default(v) for k, v in entry.options().items()},
        **(_backbone_card(entry) if entry.kind == "backbone" else {}),
    }


def pretrained_weights(entry: Entry) -> str:
    """Where `tk finetune` without --weights gets this backbone's starting weights."""
    twin = flag(entry.factory, "published_weights")
    if twin:
        return f"torchvision's published {twin} weights (downloaded by tk finetune without --weights)"
    if "pretrained" in entry.options():
        return "its library's published weights (downloaded by tk finetune without --weights)"
    return "none published; tk finetune needs --weights FILE or a run"


def _backbone_card(entry: Entry) -> dict[str, Any]:
    """The stage table, what its counts assume, and (for image backbones) where pretrained weights come from."""
    if flag(entry.factory, "modality") == "sequence":
        return {"stages": backbone_stages(entry.name), "stages_note": f"a {CARD_VOCABULARY:,}-word vocabulary"}
    return {"stages": backbone_stages(entry.name),
            "stages_note": "3x224x224 input; tk finetune --freeze N freezes the first N+1 rows",
            "pretrained": pretrained_weights(entry)}


def backbone_stages(name: str, in_channels: int = 3, img_size: int = 224) -> list[dict[str, Any]] | str:
    """The model card's stage table: name, output channels, reduction and parameters at 224x224
    (for a sequence encoder, with a vocabulary of CARD_VOCABULARY words)."""
    from taskkit.registries import BACKBONES

    try:
        if flag(BACKBONES.get(name), "modality") == "sequence":
            backbone = BACKBONES.build(name, vocab_size=CARD_VOCABULARY)
        else:
            backbone = BACKBONES.build(name, in_channels=in_channels, context={"img_size": img_size})
    except Exception as exc:  # a card must still show when a backbone cannot be built here
        return f"could not build it to list stages: {type(exc).__name__}: {exc}"
    return [
        {"stage": stage, "out_channels": channels, "reduction": reduction,
         "params": sum(p.numel() for p in module.parameters())}
        for stage, channels, reduction, module in zip(
            backbone.stage_names, backbone.out_channels, backbone.reductions, backbone.stages())
    ]


def _show_default(value: Any) -> str:
    return "(required)" if value is inspect.Parameter.empty else repr(value)


def plugin_rows() -> list[dict[str, Any]]:
    """Each plugin with its origin, status, error and what it registered."""
    for registry in REGISTRIES.values():
        registry.names()  # fill every registry so failures in any hook are known
    return [
        {
            "name": r.name,
            "module": r.module,
            "distribution": r.distribution,
            "version": r.version,
            "status": r.status,
            "error": r.error,
            "registered": registered_by(r.name),
        }
        for r in get_manager().records
    ]
