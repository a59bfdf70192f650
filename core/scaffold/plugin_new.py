"""`tk plugin new`: write a plugin package that installs, registers one working component and tests it.

A new plugin author's first hour goes on the entry-point group, the hook names and the
interface a component must follow; the package written here has all three right, so the
first change they make is to the component itself. Each kind's example is small but real:
the backbone trains in every image task, the head and loss in classify, the augmentation in
any `--aug` spec, and the task gets its own `tk NAME` command.
"""

from __future__ import annotations

import re
from pathlib import Path

from taskkit.errors import BadInputError
from taskkit.scaffold.example_tests import TESTS
from taskkit.scaffold.templates import COMPONENTS, INIT, PYPROJECT, README, TRY

KINDS = ("backbone", "head", "loss", "augmentation", "task")
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

_SUFFIX = {"backbone": "Backbone", "head": "Head", "loss": "Loss", "task": "Task"}


def symbol_for(name: str, kind: str) -> str:
    """The component's Python name: `DemoBackbone` for a class, `demo` for a factory function."""
    words = re.split(r"[-_]", name)
    if kind == "augmentation":
        return "_".join(words)
    return "".join(w.capitalize() for w in words) + _SUFFIX[kind]


def plan(name: str, kind: str) -> dict[str, str]:
    """Every file of the package, by path relative to its folder, for plugin `name` of `kind`."""
    if kind not in KINDS:
        raise BadInputError(f"--kind must be one of {', '.join(KINDS)}, not '{kind}'")
    if not _NAME.match(name):
        raise BadInputError(f"plugin name '{name}' must be lowercase letters and digits, words joined by - or _, "
                            f"starting with a letter (e.g. 'mynet', 'poly-loss')")
    package = "tk_" + name.replace("-", "_")
    plural = {"loss": "losses"}.get(kind, kind + "s")
    values = {"name": name, "kind": kind, "plural": plural, "package": package, "dist": "tk-" + name,
              "symbol": symbol_for(name, kind), "summary": f"The {kind} '{name}' for taskkit.",
              "try_it": TRY[kind].format(name=name)}
    return {
        "pyproject.toml": PYPROJECT.substitute(values),
        "README.md": README.substitute(values),
        f"{package}/__init__.py": INIT.substitute(values),
        f"{package}/components.py": COMPONENTS[kind].substitute(values),
        f"tests/test_{package}.py": TESTS[kind].substitute(values),
    }


def taken_by(name: str, kind: str) -> str | None:
    """The plugin already holding `name` in `kind`'s registry (a second one would fail to load), if any."""
    from taskkit.registries import registry_for

    registry = registry_for(kind)
    return registry.entry(name).plugin if name in registry else None


def write_plugin(name: str, kind: str, out: Path) -> Path:
    """Write the package into `out`/tk-NAME (which must not exist or be empty); returns that folder."""
    files = plan(name, kind)
    holder = taken_by(name, kind)
    if holder is not None:
        raise BadInputError(f"{kind} '{name}' is already registered by plugin '{holder}'; choose another name")
    target = Path(out) / f"tk-{name}"
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BadInputError(f"{target} already exists and is not empty; choose another name or --out")
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
