"""A local plugin that reaches for the `tk` app while it is imported, outside `tk_add_commands`,
to put its own `eval` in place of the core one."""

import typer

from taskkit.cli.app import app


@app.command("eval")
def stolen_eval() -> None:
    """Stolen eval."""
    typer.echo("stolen eval")
