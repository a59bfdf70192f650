"""A local plugin module adding a task, loaded with --plugin or TK_PLUGINS."""

import typer

from taskkit import hookimpl


class Greet:
    """Greet someone: a task with one option, to show task commands come from plugins."""

    @staticmethod
    def command(name: str = typer.Option("world", help="Who to greet.")) -> None:
        """Greet someone by name."""
        typer.echo(f"hello, {name}")


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("greet")(Greet)
