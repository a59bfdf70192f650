"""The CLI reference page, written from the Typer app itself so it cannot drift from the code.

`python -m taskkit.cli.reference [FILE]` prints (or writes) Markdown with one section per
command, in the order `tk --help` lists them: its usage line, its help, and a table of its
arguments and options with their defaults. `make docs` runs it before building the site,
and a test compares the committed page with a fresh rendering.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

HEADER = """# CLI reference

Every `tk` command with its arguments and options, generated from the command-line app
(`python -m taskkit.cli.reference docs/cli.md`); the same text as each command's `--help`.
Plugins add commands of their own, which `tk --help` lists.
"""


def _is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")


def commands(group: Any, prefix: str = "tk") -> list[tuple[str, Any]]:
    """(full name, command) for every command under `group` (the app's command, from
    `typer.main.get_command`), depth first, in `--help` order."""
    found: list[tuple[str, Any]] = []
    context = typer.Context(group, info_name=prefix)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        full = f"{prefix} {name}"
        found.append((full, command))
        if _is_group(command):
            found.extend(commands(command, full))
    return found


def render(group: Any) -> str:
    """The whole page for the app's command."""
    parts = [HEADER, _section("tk", group)]
    for full, command in commands(group):
        parts.append(_section(full, command))
    return "\n".join(parts)


def _section(full: str, command: Any) -> str:
    context = typer.Context(command, info_name=full)
    usage = " ".join([full, *command.collect_usage_pieces(context)])
    lines = [f"## `{full}`", "", f"```\n{usage}\n```", "", _text(command.help or command.short_help or ""), ""]
    if _is_group(command):
        names = [n for n in command.list_commands(context) if not command.get_command(context, n).hidden]
        lines += ["Commands: " + ", ".join(f"`{full} {n}`" for n in names), ""]
    rows = [_row(param, context) for param in command.params if not getattr(param, "hidden", False)]
    if rows:
        lines += ["| argument or option | description |", "| --- | --- |", *rows, ""]
    return "\n".join(lines)


def _row(param: Any, context: typer.Context) -> str:
    """One parameter as `--help` shows it: its names with the kind of value, then its help and default."""
    names, help_text = param.get_help_record(context) or (param.name, "")
    return f"| `{names}` | {_cell(help_text)} |"


def _text(help_text: str) -> str:
    return "\n".join(line.strip() for line in help_text.strip().splitlines())


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: list[str] | None = None) -> None:
    from taskkit.cli.app import build_app

    page = render(typer.main.get_command(build_app()))  # type: ignore[arg-type]
    args = sys.argv[1:] if argv is None else argv
    if args:
        Path(args[0]).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)


if __name__ == "__main__":
    main()
