"""`tk plugin`: start a plugin package.

Mounted by the main CLI with `app.add_typer(plugin_app, name="plugin")`; it imports only
typer at module level, so `tk --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

plugin_app = typer.Typer(help="Start a plugin package.", no_args_is_help=True)


@plugin_app.command("new")
def new_command(
    name: Annotated[str, typer.Argument(help="The plugin's name, which is also its component's, e.g. mynet.")],
    kind: Annotated[str, typer.Option("--kind", help="backbone, head, loss, augmentation or task.")] = "backbone",
    out: Annotated[Path, typer.Option("--out", help="Folder to write the package tk-NAME into.")] = Path("."),
) -> None:
    """Write a plugin package (pyproject.toml with the entry point, one example component, a test)
    that installs with `pip install -e` and shows up in `tk list`."""
    from taskkit.scaffold.plugin_new import write_plugin

    target = write_plugin(name, kind, out)
    typer.echo(f"wrote the {kind} plugin '{name}' to {target}; next: pip install -e {target} && tk list")
