"""Finds, loads and calls plugins: built-in ones, installed ones and local modules alike.

Every plugin comes in through one door: an entry point in group `taskkit` (our own built-in
plugins are declared in our pyproject.toml exactly like a third party's), or a module named
in `TK_PLUGINS` / `--plugin`. Each loads, and each hook runs, contained (`_contained`): a
broken plugin, even one that calls `sys.exit`, is recorded with its error, warned about in one
line, and shown by `tk plugins`, while every other plugin and the CLI carry on; what it prints
goes to stderr, so `--json` output stays parseable.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, ContextManager, Iterable

import pluggy

from taskkit import hookspecs
from taskkit.errors import one_line
from taskkit.registry import Registry, registering_as

ENTRY_POINT_GROUP = "taskkit"
BUILTIN_DISTRIBUTION = "taskkit"
log = logging.getLogger("taskkit")


@dataclass
class PluginRecord:
    """What `tk plugins` shows for one plugin."""

    name: str
    module: str
    distribution: str
    version: str
    status: str = "loaded"
    errors: list[str] = field(default_factory=list)

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None

    def fail(self, during: str, exc: BaseException) -> None:
        self.status = "failed"
        self.errors.append(f"{during}: {_what_happened(exc)}")
        origin = f" ({self.distribution} {self.version})".rstrip() if self.version else ""
        log.warning("plugin '%s'%s failed in %s: %s; see `tk plugins`",
                    self.name, origin, during, one_line(_what_happened(exc), 300))


def _what_happened(exc: BaseException) -> str:
    """An exception on one line; `sys.exit(3)` reads as the call it was, since "SystemExit: 3"
    hides that a plugin tried to end the process."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({'' if exc.code is None else repr(exc.code)})"
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _contained(record: PluginRecord, during: str, call: Callable[[], Any]) -> bool:
    """Run plugin code so that nothing it does ends `tk` or reaches stdout; False if it failed.

    `SystemExit` is caught with every other exception: a plugin's `sys.exit` would otherwise
    end every command, silently. Only `KeyboardInterrupt` passes, since it is the user's Ctrl-C.
    Its prints go to stderr, where they cannot corrupt a command's `--json` answer.
    """
    try:
        with contextlib.redirect_stdout(sys.stderr):
            call()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a plugin must never take the CLI down
        record.fail(during, exc)
        return False
    return True


class PluginManager:
    """Loads plugins once, on demand, and fills registries from their hooks."""

    def __init__(self, local_modules: Iterable[str] = (), autoload: bool = True):
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._local_modules = list(local_modules)
        self._autoload = autoload
        self._loaded = False
        self.records: list[PluginRecord] = []

    @classmethod
    def from_environment(cls) -> "PluginManager":
        """Honour `TK_PLUGINS=mod.a,mod.b` and `TK_DISABLE_PLUGIN_AUTOLOAD=1`."""
        local = [m.strip() for m in os.environ.get("TK_PLUGINS", "").split(",") if m.strip()]
        disabled = os.environ.get("TK_DISABLE_PLUGIN_AUTOLOAD", "").strip().lower()
        return cls(local, autoload=disabled in ("", "0", "false", "no"))

    def add_local_modules(self, modules: Iterable[str]) -> None:
        """Queue more local plugin modules; only possible before plugins have loaded."""
        modules = list(modules)
        if not modules:
            return
        if self._loaded:
            raise RuntimeError("plugins are already loaded; add local modules earlier")
        self._local_modules.extend(modules)

    def load(self) -> None:
        """Import every plugin once: built-ins first, then installed packages, then local modules."""
        if self._loaded:
            return
        self._loaded = True
        for ep in _entry_points(self._autoload):
            dist, version = _distribution(ep) if ep.dist else ("unknown", "")
            self._register(PluginRecord(self._free_name(ep.name, dist), ep.value, dist, version), ep.load)
        for module in self._local_modules:
            record = PluginRecord(self._free_name(Path(module).stem, "local"), module, "(local)", "")
            self._register(record, lambda m=module: _import_local(m))

    def _free_name(self, name: str, dist: str) -> str:
        taken = {r.name for r in self.records}
        return name if name not in taken else f"{dist}:{name}"

    def _register(self, record: PluginRecord, load: Callable[[], Any]) -> None:
        self.records.append(record)
        if not _contained(record, "import", lambda: self._pm.register(load(), name=record.name)):
            return
        try:
            self._pm.check_pending()  # hooks with no spec: a typo in a hook name
        except pluggy.PluginValidationError as exc:
            self._pm.unregister(name=record.name)
            record.fail("validation", exc)

    def call_each(
        self, hook_name: str, guard: Callable[[], ContextManager[Any]] | None = None, **kwargs: Any,
    ) -> None:
        """Call one hook of every loaded plugin in load order, each contained.

        `guard()`, if given, wraps each call: it may undo what the plugin did and raise to mark
        that plugin failed (the CLI keeps its own commands this way).
        """
        self.load()
        impls = {impl.plugin_name: impl for impl in getattr(self._pm.hook, hook_name).get_hookimpls()}
        for record in self.records:
            impl = impls.get(record.name)
            if impl is not None:
                with registering_as(record.name):
                    _contained(record, hook_name, lambda: _call(impl, kwargs, guard))

    def fill(self, registry: Registry) -> None:
        """Fill `registry` from the hook that serves its kind."""
        self.call_each(hookspecs.REGISTRY_HOOKS[registry.plural], **{registry.plural: registry})


def _call(impl: Any, kwargs: dict[str, Any], guard: Callable[[], ContextManager[Any]] | None) -> None:
    with guard() if guard else contextlib.nullcontext():
        impl.function(**{arg: kwargs[arg] for arg in impl.argnames})


def _entry_points(autoload: bool) -> list[metadata.EntryPoint]:
    """Entry points of group `taskkit`, built-ins first, each (distribution, name) once."""
    seen, found = set(), []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = _distribution(ep)[0] if ep.dist else ""
        if (dist, ep.name) in seen or (not autoload and dist != BUILTIN_DISTRIBUTION):
            continue
        seen.add((dist, ep.name))
        found.append(ep)
    return sorted(found, key=lambda ep: (ep.dist is None or _distribution(ep)[0] != BUILTIN_DISTRIBUTION))


_DISTRIBUTIONS: dict[int, tuple[str, str]] = {}


def _distribution(ep: metadata.EntryPoint) -> tuple[str, str]:
    """The name and version of the distribution declaring `ep`, its METADATA parsed once: the
    entry points of one distribution share it, and parsing it for each was most of what every
    `tk` command paid to load the plugins."""
    key = id(ep.dist)
    if key not in _DISTRIBUTIONS:
        read = ep.dist.metadata
        _DISTRIBUTIONS[key] = (read["Name"], read["Version"])
    return _DISTRIBUTIONS[key]


def _import_local(module: str) -> ModuleType:
    """Import a module by dotted name, or from a `.py` file path."""
    if not module.endswith(".py"):
        return importlib.import_module(module)
    path = Path(module)
    if not path.is_file():
        raise FileNotFoundError(f"no plugin file {path}")
    spec = importlib.util.spec_from_file_location(f"tk_local_{path.stem}", path)
    plugin = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = plugin
    spec.loader.exec_module(plugin)
    return plugin


_manager: PluginManager | None = None


def get_manager() -> PluginManager:
    """The process-wide plugin manager, configured from the environment on first use."""
    global _manager
    if _manager is None:
        _manager = PluginManager.from_environment()
    return _manager
