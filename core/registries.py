"""The registries every plugin fills and every task reads."""

from __future__ import annotations

from taskkit.errors import BadInputError
from taskkit.plugin_manager import get_manager
from taskkit.registry import Entry, Registry


def _fill_from_plugins(registry: Registry) -> None:
    get_manager().fill(registry)


BACKBONES: Registry = Registry("backbone", "backbones", fill=_fill_from_plugins)
HEADS: Registry = Registry("head", "heads", fill=_fill_from_plugins)
LOSSES: Registry = Registry("loss", "losses", fill=_fill_from_plugins)
AUGMENTATIONS: Registry = Registry("augmentation", "augmentations", fill=_fill_from_plugins)
TASKS: Registry = Registry("task", "tasks", fill=_fill_from_plugins)
TOKENIZERS: Registry = Registry("tokenizer", "tokenizers", fill=_fill_from_plugins)
EXPORT_FORMATS: Registry = Registry("format", "formats", fill=_fill_from_plugins)

#: Registries by plural name, in the order `tk list` shows them.
REGISTRIES: dict[str, Registry] = {
    r.plural: r for r in (BACKBONES, HEADS, LOSSES, AUGMENTATIONS, TOKENIZERS, TASKS, EXPORT_FORMATS)
}


def registry_for(kind: str) -> Registry:
    """The registry for a kind given in singular or plural (`loss` or `losses`)."""
    for registry in REGISTRIES.values():
        if kind in (registry.kind, registry.plural):
            return registry
    from difflib import get_close_matches

    close = get_close_matches(kind, [*REGISTRIES], n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise BadInputError(f"unknown kind '{kind}'{hint} kinds are: {', '.join(REGISTRIES)}")


def find_entries(name: str) -> list[Entry]:
    """Every entry called `name` (or aliased so) in any registry."""
    return [r.entry(name) for r in REGISTRIES.values() if name in r]


def suggest_anywhere(name: str) -> list[str]:
    """Close matches for `name` across all registries."""
    from difflib import get_close_matches

    labels = [label for r in REGISTRIES.values() for label in r.names()]
    return get_close_matches(name, labels, n=3, cutoff=0.6)


def registered_by(plugin: str) -> list[str]:
    """`kind:name` of everything `plugin` registered, across all registries."""
    return [
        f"{r.kind}:{e.name}" for r in REGISTRIES.values() for e in r.entries() if e.plugin == plugin
    ]
