"""`tk export`: a trained run in a standard format (the work is in `taskkit.export.writer`; no torch here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def export_command(
    run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/classify.")],
    fmt: Annotated[str, typer.Option("--format", help="onnx, torchscript or a plugin's format (see `tk list formats`).")] = "onnx",
    out: Annotated[Optional[Path], typer.Option("--out", help="The model file to write (default RUN/model plus the format's suffix, e.g. RUN/model.onnx); its preprocessing JSON goes beside it.")] = None,
    dynamic_batch: Annotated[bool, typer.Option("--dynamic-batch", help="Let an exported image model take any batch size (checked with two); text models always do, and any length.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable results.")] = False,
) -> None:
    """Export a trained run (of any task that declares what its model reads and answers) to ONNX,
    TorchScript or a plugin's format, with its preprocessing (for texts, tokenizer and vocabulary)
    recorded beside it, and check the export against the PyTorch model."""
    from taskkit.export.writer import TOLERANCE, export_run
    from taskkit.report.json_output import echo_json

    result = export_run(run, fmt, out, dynamic_batch)
    if as_json:
        echo_json(result)
        return
    typer.echo(f"wrote {result['model']} and {result['preprocessing']}")
    verdict = "within" if result["within_tolerance"] else "ABOVE"
    lengths = [n for batch in result.get("checked_lengths", []) for n in batch]
    texts = f" texts of {min(lengths)} to {max(lengths)} tokens" if lengths else ""
    typer.echo(f"largest difference from the PyTorch model: {result['max_abs_difference']:.2e} "
               f"({verdict} {TOLERANCE:.0e}; batches of {', '.join(map(str, result['checked_batches']))}{texts})")


def add_export_command(app: typer.Typer) -> None:
    app.command("export")(export_command)
