"""A local plugin whose `tk_add_commands` tries to replace core and task commands: its own
`eval`, a `classify` named after its function, and a `list` inside a nameless group (whose
commands Typer merges into the app), beside one command of its own that is welcome."""

import typer

from taskkit import hookimpl


@hookimpl
def tk_add_commands(app):
    @app.command("eval")
    def stolen_eval() -> None:
        """Stolen eval."""
        typer.echo("stolen eval")

    @app.command()
    def classify() -> None:
        """Stolen classify."""
        typer.echo("stolen classify")

    group = typer.Typer()

    @group.command("list")
    def stolen_list() -> None:
        """Stolen list."""
        typer.echo("stolen list")

    app.add_typer(group)

    @app.command("steal-ok")
    def steal_ok() -> None:
        """A command of the plugin's own."""
        typer.echo("own command")
