"""`tk data`: inspect a dataset before training on it, or write a generated one to try a task on.

Mounted by the main CLI with `app.add_typer(data_app, name="data")`. This module imports
only typer at module level (the data layer pulls in torch, numpy and PIL inside the
command), so `tk --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

data_app = typer.Typer(help="Inspect datasets, or write an example one.", no_args_is_help=True)


@data_app.command("check")
def check_command(
    path: Annotated[str, typer.Argument(help="A folder of class folders, a .csv/.jsonl manifest or a named dataset.")],
    data_root: Annotated[
        Optional[str], typer.Option("--data-root", metavar="DIR", help="Where named datasets live (default ./data).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Count images per class, summarise sizes and modes, and list unreadable files (never changes them)."""
    from taskkit.data.check import check_data

    report = check_data(path, data_root=data_root)
    if as_json:
        from taskkit.report.json_output import echo_json

        echo_json(report)
        return
    _print_report(report)


@data_app.command("shapes")
def shapes_command(
    out: Annotated[Path, typer.Argument(help="A new or empty folder to write images/, masks/ and classes.txt into.")],
    count: Annotated[int, typer.Option("--count", help="How many images.")] = 300,
    size: Annotated[int, typer.Option("--size", help="Side of each square image, in pixels.")] = 64,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed writes the same files.")] = 0,
) -> None:
    """Write a generated segmentation dataset: circles, squares and triangles on noisy backgrounds."""
    from taskkit.segmentation.shapes import write_shapes

    write_shapes(out, count=count, size=size, seed=seed)
    typer.echo(f"wrote {count} images and masks to {out} (classes: background, circle, square, triangle)")


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=max(120, Console().width), soft_wrap=True, highlight=False)
    console.print(f"data: {report['source']}  ({len(report['classes'])} classes, {report['total']} readable images)",
                  markup=False)
    if len(report.get("splits", {})) > 1:
        console.print("splits: " + ", ".join(f"{s} {n}" for s, n in report["splits"].items()), markup=False)
    classes = Table("class", "images", box=None, header_style="bold")
    for name, count in report["classes"].items():
        classes.add_row(Text(name), str(count))
    console.print(classes)
    sizes = report["sizes"]
    if sizes["min"]:
        shown = {k: "x".join(str(v) for v in sizes[k]) for k in ("min", "max", "most_common")}
        console.print(f"sizes: min {shown['min']}, max {shown['max']}, most common {shown['most_common']}"
                      " (width x height)", markup=False)
    console.print("modes: " + (", ".join(f"{m} {n}" for m, n in report["modes"].items()) or "none"), markup=False)
    if not report["bad_files"]:
        console.print("bad files: none")
        return
    console.print(f"bad files: {len(report['bad_files'])} (left untouched; fix or remove them)")
    bad = Table(box=None, header_style="bold")
    bad.add_column("path", overflow="fold")
    bad.add_column("reason", overflow="fold")
    for path, reason in report["bad_files"]:
        bad.add_row(Text(path), Text(reason))
    console.print(bad)
