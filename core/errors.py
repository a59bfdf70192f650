"""Error types with the exit code the CLI gives them.

Every error a user can cause is a `BadInputError`: the CLI prints its message as one line
and exits 2. Failures of training itself exit 1. Keeping the code on the class means no
command has to decide it again.
"""

from __future__ import annotations


class TaskkitError(Exception):
    """Base of every error taskkit raises on purpose."""

    exit_code = 1


class BadInputError(TaskkitError):
    """The user asked for something that cannot be done; the message says how to fix it."""

    exit_code = 2


class UnknownComponentError(BadInputError, LookupError):
    """A name that no registry holds, with the closest names it does hold."""

    def __init__(self, kind: str, plural: str, name: str, suggestions: list[str]):
        self.kind, self.name, self.suggestions = kind, name, suggestions
        hint = f"; did you mean {_quoted_choices(suggestions)}?" if suggestions else ";"
        listing = f"tk list {plural}".strip()
        super().__init__(f"unknown {kind} '{name}'{hint} see `{listing}`")


class ComponentOptionError(BadInputError, TypeError):
    """Options that a component's constructor does not take."""


class DuplicateComponentError(TaskkitError):
    """Two plugins registered the same name without `override=True`."""

    def __init__(self, kind: str, name: str, first: str, second: str):
        self.kind, self.name, self.first, self.second = kind, name, first, second
        super().__init__(
            f"{kind} '{name}' is registered by both plugin '{first}' and plugin '{second}'; "
            f"rename one, or register with override=True to replace it"
        )


class TrainingError(TaskkitError):
    """Training could not go on (a NaN loss, a device failure); exit code 1."""


class Interrupted(TaskkitError):
    """Ctrl-C (SIGINT) during training; the last checkpoint is kept for `--resume` (exit code 130)."""

    exit_code = 130


class WriteError(TrainingError):
    """The storage refused a write (full disk, quota); the file it would have replaced is intact (exit code 1)."""


def _quoted_choices(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def one_line(text: object, limit: int = 160) -> str:
    """`text` on one line, shortened to `limit` characters: for the end of an error message."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def describe(exc: BaseException, limit: int = 160) -> str:
    """An exception as `Type: message` on one line, for the end of a bad-input message."""
    return f"{type(exc).__name__}: {one_line(exc, limit)}"
