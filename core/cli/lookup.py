"""The commands that look things up without training: `tk list`, `tk info`, `tk plugins` (from
the registries and the plugin manager, through `catalog`) and `tk summary` (of a model).

Each is added to the app by a function, so `app` keeps its commands in the order `tk --help`
shows them; none imports torch before it runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from taskkit.cli import catalog
from taskkit.report.json_output import echo_json

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def add_component_commands(app: typer.Typer) -> None:
    """`tk list`, `tk info` and `tk plugins`: what the registries hold and which plugin added it."""
    app.command("list")(list_command)
    app.command("info")(info_command)
    app.command("plugins")(plugins_command)


def add_summary_command(app: typer.Typer) -> None:
    """`tk summary`: a model's layers, parameters, FLOPs and receptive fields."""
    app.command("summary")(summary_command)


def list_command(
    kind: Annotated[Optional[str], typer.Argument(help="backbones, heads, losses, augmentations or tasks.")] = None,
    pattern: Annotated[Optional[str], typer.Argument(help="Shell wildcard, e.g. 'resnet*'.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List registered components: name, summary and the plugin that added it."""
    rows = catalog.list_rows(kind, pattern)
    if as_json:
        echo_json(rows)
        return
    _table(rows, ["kind", "name", "summary", "plugin"], empty="nothing registered matches")


def info_command(
    name: Annotated[str, typer.Argument(help="A component name, e.g. focal.")],
    as_json: JsonOption = False,
) -> None:
    """Show a component's kind, documentation, plugin and constructor options."""
    described = catalog.describe(name)
    if as_json:
        echo_json(described)
        return
    for item in described:
        _print_info(item)


def plugins_command(as_json: JsonOption = False) -> None:
    """Show every plugin: origin, version, status, error and what it registered."""
    rows = catalog.plugin_rows()
    if as_json:
        echo_json(rows)
        return
    shown = [
        {**r, "registered": ", ".join(r["registered"]) or "-", "error": r["error"] or ""} for r in rows
    ]
    _table(shown, ["name", "distribution", "version", "status", "registered", "error"], empty="no plugins")


def summary_command(
    target: Annotated[str, typer.Argument(help="A backbone name (e.g. resnet18) or a run directory.")],
    input_shape: Annotated[Optional[str], typer.Option("--input", help="Input as CxHxW (default 3x224x224, or the run's); for a sequence model, tokens (default 50).")] = None,
    depth: Annotated[Optional[int], typer.Option("--depth", help="Show modules this many levels deep instead of every layer.")] = None,
    head: Annotated[Optional[str], typer.Option("--head", help="Put this head on a backbone, e.g. linear.")] = None,
    classes: Annotated[int, typer.Option("--classes", help="Outputs of the head.")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Per-layer output shape, parameters, FLOPs and receptive field of a model."""
    from taskkit.model import summary as s

    model, shape, inputs = s.model_for_summary(target, input_shape, head, classes)
    result = s.summarize(model, shape, depth, inputs)
    if as_json:
        echo_json(result.as_dict())
        return
    _print_summary(target, result)


def _print_summary(target: str, result: Any) -> None:
    rows = [{"layer": r.name, "type": r.kind, "output": "x".join(map(str, r.output_shape or [])) or "-",
             "params": f"{r.trainable:,}", "frozen": f"{r.frozen:,}", "FLOPs": f"{r.flops:,}",
             "receptive field": r.receptive_field or "-"} for r in result.rows]
    _table(rows, ["layer", "type", "output", "params", "frozen", "FLOPs", "receptive field"], empty="no layers")
    shape = "x".join(map(str, result.input_shape))
    from taskkit.model.summary import human

    typer.echo(f"{target} on {shape}: {result.total_trainable:,} trainable and {result.total_frozen:,} frozen "
               f"parameters; {human(result.multiply_adds)} multiply-adds "
               f"({human(result.total_flops)} FLOPs as torch's flop counter counts them, 2 per multiply-add)")


def _print_info(item: dict[str, Any]) -> None:
    origin = f"{item['distribution']} {item['version']}".strip()
    typer.echo(f"{item['name']} ({item['kind']}) from plugin '{item['plugin']}' ({origin})")
    if item["aliases"]:
        typer.echo(f"aliases: {', '.join(item['aliases'])}")
    typer.echo(f"\n{item['doc'] or item['summary']}\n")
    typer.echo("options:" if item["options"] else "options: none")
    for option, default in item["options"].items():
        typer.echo(f"  {option} = {default}")
    stages = item.get("stages")
    if isinstance(stages, str):
        typer.echo(f"\nstages: {stages}")
    elif stages:
        typer.echo(f"\nstages ({item['stages_note']}):")
        _table([{**row, "params": f"{row['params']:,}"} for row in stages],
               ["stage", "out_channels", "reduction", "params"], empty="no stages")
    if "pretrained" in item:
        typer.echo(f"pretrained weights: {item['pretrained']}")


def _table(rows: list[dict[str, Any]], columns: list[str], empty: str) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        typer.echo(empty)
        return
    table = Table(*columns, box=None, header_style="bold")
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console(width=max(120, Console().width), soft_wrap=True).print(table)
