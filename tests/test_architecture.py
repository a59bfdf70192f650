"""The shape of core, held by a test: imports run downward only, modules and functions stay small.

The import graph is read from the installed sources with `ast`, imports inside functions
included, so a lazy import that closes a circle is caught as surely as a top-level one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import taskkit
import taskkit.plugins
import taskkit.tasks

CORE_TOP_LEVEL_MODULES = 15
MODULE_LINES = 300
FUNCTION_LINES = 50


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    is_package: bool
    imports: set[str] = field(default_factory=set)


def _walk_package(package: str, roots: list[str], skip: set[Path]) -> dict[str, Module]:
    """Every .py file under `roots`, named as the import system names it; `skip` holds the
    directories of other packages that live inside these roots' folders (none today)."""
    found: dict[str, Module] = {}
    for root in map(Path, roots):
        for path in sorted(root.rglob("*.py")):
            if any(parent in skip for parent in path.parents) or "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join([package, *parts])
            found[name] = Module(name, path, ast.parse(path.read_text(), str(path)), is_package)
    return found


def _all_modules() -> dict[str, Module]:
    plugin_dirs = {Path(p) for p in taskkit.plugins.__path__}
    task_dirs = {Path(p) for p in taskkit.tasks.__path__}
    modules = _walk_package("taskkit", list(taskkit.__path__), plugin_dirs | task_dirs)
    modules.update(_walk_package("taskkit.plugins", list(taskkit.plugins.__path__), set()))
    modules.update(_walk_package("taskkit.tasks", list(taskkit.tasks.__path__), set()))
    return modules


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` names, relative levels resolved."""
    if node.level == 0:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: Module, known: set[str]) -> set[str]:
    """The taskkit modules `module` imports anywhere in its tree; `from a import b` counts as
    importing `a.b` when that is a module, else `a`."""
    named: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                named.add(candidate if candidate in known else source)
    result = set()
    for name in named:
        if name == "taskkit" or name.startswith("taskkit."):
            while name not in known and "." in name:  # `import taskkit.x.y` of a name that is no module
                name = name.rsplit(".", 1)[0]
            result.add(name)
    result.discard(module.name)
    return result


def _is_core(name: str) -> bool:
    return not any(name == top or name.startswith(top + ".") for top in ("taskkit.plugins", "taskkit.tasks"))


def _is_cli(name: str) -> bool:
    return name == "taskkit.cli" or name.startswith("taskkit.cli.")


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    found = _all_modules()
    for module in found.values():
        module.imports = _imports(module, set(found))
    return found


@pytest.fixture(scope="module")
def core(modules) -> dict[str, Module]:
    return {name: module for name, module in modules.items() if _is_core(name)}


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member, or a self-import."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(start: str) -> None:  # iterative, so deep graphs never hit the recursion limit
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _circle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """One import circle through a component's members, in import order, its start repeated at the end."""
    inside = set(members)
    start = members[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth-first from `start`, back to it: the shortest circle through it
        following = []
        for node in frontier:
            for successor in sorted(graph[node] & inside):
                if successor == start:
                    return paths[node] + [start]
                if successor not in paths:
                    paths[successor] = paths[node] + [successor]
                    following.append(successor)
        frontier = following
    return members


def test_the_graph_sees_lazy_and_relative_imports(modules):
    """The graph is only as good as its reading: a function-level import is an edge too."""
    assert "taskkit.hookspecs" in modules["taskkit"].imports
    assert "taskkit.cli.app" in modules["taskkit.__main__"].imports
    lazy = [name for name, module in modules.items()
            if any(isinstance(node, (ast.Import, ast.ImportFrom))
                   for fn in ast.walk(module.tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for node in ast.walk(fn))]
    assert lazy, "expected some module to import inside a function"


def test_no_import_circle_in_core(core):
    graph = {name: {target for target in module.imports if target in core} for name, module in core.items()}
    circles = [" -> ".join(_circle(graph, component)) for component in _strongly_connected(graph)]
    assert not circles, "import circles in core:\n" + "\n".join(circles)


def test_no_import_circle_anywhere_in_the_package(modules):
    """Plugins and tasks too: a circle through a built-in plugin is as hard to change as one in core."""
    graph = {name: {target for target in module.imports if target in modules} for name, module in modules.items()}
    circles = [" -> ".join(_circle(graph, component)) for component in _strongly_connected(graph)]
    assert not circles, "import circles in taskkit:\n" + "\n".join(circles)


def test_plugins_never_import_tasks(modules):
    """Imports run tasks -> plugins -> core: a plugin serves every task, so it knows none."""
    wrong = sorted(f"{name} imports {target}" for name, module in modules.items()
                   if name.startswith("taskkit.plugins") for target in module.imports
                   if target == "taskkit.tasks" or target.startswith("taskkit.tasks."))
    assert not wrong, "plugins importing tasks:\n" + "\n".join(wrong)


def _layer(name: str, core: dict[str, Module]) -> str:
    """A core subpackage (`taskkit.train`) for a module inside one; a top-level module is its own."""
    parts = name.split(".")
    package = ".".join(parts[:2])
    return package if len(parts) > 1 and package in core and core[package].is_package else name


def test_core_subpackages_import_each_other_one_way(core):
    """Above the module graph: a package that imports another is never imported back by it, so
    the packages stack in layers (a lazy import inside a function counts here too)."""
    graph: dict[str, set[str]] = {}
    for name, module in core.items():
        layer = _layer(name, core)
        graph.setdefault(layer, set()).update(
            _layer(target, core) for target in module.imports if target in core and _layer(target, core) != layer)
    for targets in list(graph.values()):
        for target in targets:
            graph.setdefault(target, set())
    circles = [" -> ".join(_circle(graph, component)) for component in _strongly_connected(graph)]
    assert not circles, "core packages that import each other:\n" + "\n".join(circles)


def test_core_never_imports_plugins_or_tasks(core):
    wrong = sorted(f"{name} imports {target}" for name, module in core.items()
                   for target in module.imports if not _is_core(target))
    assert not wrong, "core meets plugins and tasks only through entry points:\n" + "\n".join(wrong)


def test_only_the_cli_imports_the_cli(core):
    allowed = {"taskkit.__main__"}
    wrong = sorted(f"{name} imports {target}" for name, module in core.items()
                   if not _is_cli(name) and name not in allowed
                   for target in module.imports if _is_cli(target))
    assert not wrong, "nothing below the CLI imports it:\n" + "\n".join(wrong)


def test_core_top_level_stays_small():
    top = sorted(path.name for root in taskkit.__path__ for path in Path(root).glob("*.py"))
    assert len(top) <= CORE_TOP_LEVEL_MODULES, f"{len(top)} modules at core's top level: {top}"


def test_core_modules_stay_short(core):
    long = sorted(f"{module.path.name} ({name}): {lines} lines" for name, module in core.items()
                  if (lines := len(module.path.read_text().splitlines())) > MODULE_LINES)
    assert not long, f"core modules over {MODULE_LINES} lines:\n" + "\n".join(long)


def test_core_functions_stay_short(core):
    long = sorted(f"{name}.{node.name} (line {node.lineno}): {node.end_lineno - node.lineno + 1} lines"
                  for name, module in core.items() for node in ast.walk(module.tree)
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.end_lineno - node.lineno + 1 > FUNCTION_LINES)
    assert not long, f"core functions over {FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_every_core_subpackage_says_its_job(core):
    silent = sorted(name for name, module in core.items()
                    if module.is_package and name != "taskkit" and not ast.get_docstring(module.tree))
    assert not silent, "core packages without a docstring: " + ", ".join(silent)


def test_the_circle_finder_names_a_circle_in_order():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    (component,) = _strongly_connected(graph)
    assert component == ["a", "b", "c"]
    assert _circle(graph, component) == ["a", "b", "c", "a"]
    assert _strongly_connected({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve_against_their_package():
    tree = ast.parse("from . import x\nfrom ..y import z\n")
    package = Module("taskkit.train", Path("__init__.py"), tree, is_package=True)
    plain = Module("taskkit.train.engine", Path("engine.py"), tree, is_package=False)
    first, second = tree.body
    assert _resolve(package, first) == "taskkit.train"
    assert _resolve(plain, first) == "taskkit.train"
    assert _resolve(plain, second) == "taskkit.y"
    assert _imports(plain, {"taskkit", "taskkit.train", "taskkit.train.x", "taskkit.y"}) == {
        "taskkit.train.x", "taskkit.y"}
