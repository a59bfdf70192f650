"""The hooks a plugin may implement (pluggy project name `taskkit`).

Each `tk_register_*` hook receives one registry and is called once, the first time that
registry is read. A plugin imports heavy libraries (torch, timm) inside its hook functions,
not at module level, so that `tk --help`, which only needs the tasks, stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from taskkit.registry import Registry

PROJECT = "taskkit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def tk_register_backbones(backbones: Registry) -> None:
    """Register backbones: vision ones return one feature map per stage, sequence encoders
    (`modality = "sequence"`) return per-token outputs and a summary (see `taskkit.sequence`)."""


@hookspec
def tk_register_heads(heads: Registry) -> None:
    """Register heads: classifiers reading the last map, decoders reading all of them."""


@hookspec
def tk_register_losses(losses: Registry) -> None:
    """Register losses: `nn.Module`s called with `(logits, target)`."""


@hookspec
def tk_register_augmentations(augmentations: Registry) -> None:
    """Register augmentations: factories returning an albumentations transform."""


@hookspec
def tk_register_tokenizers(tokenizers: Registry) -> None:
    """Register tokenizers: factories returning a callable from a text to its list of tokens."""


@hookspec
def tk_register_tasks(tasks: Registry) -> None:
    """Register tasks; each gets a `tk` command of its own name."""


@hookspec
def tk_register_export_formats(formats: Registry) -> None:
    """Register export formats for `tk export --format NAME`: subclasses of
    `taskkit.export.formats.ExportFormat`, which write a traced model and run what they wrote."""


@hookspec
def tk_add_commands(app: typer.Typer) -> None:
    """Add extra commands to the `tk` Typer app; a command named like one `tk` already has (a
    core, task or earlier plugin's command) is refused and fails the plugin, so `tk eval` stays
    the one users know."""


#: Which hook fills which registry.
REGISTRY_HOOKS = {
    "backbones": "tk_register_backbones",
    "heads": "tk_register_heads",
    "losses": "tk_register_losses",
    "augmentations": "tk_register_augmentations",
    "tokenizers": "tk_register_tokenizers",
    "tasks": "tk_register_tasks",
    "formats": "tk_register_export_formats",
}
