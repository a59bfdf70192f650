"""The one registry class behind backbones, heads, losses, augmentations and tasks.

A registry maps names to factories (classes or functions) and remembers, for each, its
summary and the plugin that added it, so `tk list` and `tk info` can say where a component
comes from. Reading a registry first asks the plugins to fill it (see `taskkit.plugin_manager`),
which is why plugins load lazily and only once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import fnmatch
import inspect
import logging
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from taskkit.errors import (
    BadInputError, ComponentOptionError, DuplicateComponentError, UnknownComponentError, one_line,
)

log = logging.getLogger("taskkit")

T = TypeVar("T", bound=Callable[..., Any])

#: The plugin whose hook is running; registrations made outside any hook count as user code.
_current_plugin: ContextVar[str] = ContextVar("taskkit_current_plugin", default="user code")


#: A name is a word of letters, digits and `_ . + -` (`ce+dice`), or two joined by one `/` as the
#: adapters' `timm/convnext_tiny`: it is typed on command lines, kept in run.json and shown in
#: tables, so it has no whitespace and no other path separator, and no part starts like an
#: option (`-x`) or a hidden or parent path (`.x`, `..`).
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_][A-Za-z0-9_.+-]*)?")


class RegistrationError(BadInputError, ValueError):
    """A registration refused before it is stored: a name that is not one, or a factory that
    cannot be called."""


def check_name(label: object, kind: str, plugin: str) -> str:
    """`label` if it can name a component; otherwise an error naming the plugin that tried it."""
    if isinstance(label, str) and _NAME.fullmatch(label):
        return label
    shown = repr(label) if isinstance(label, str) else f"{label!r} ({type(label).__name__}, not str)"
    raise RegistrationError(
        f"{kind} name {one_line(shown, 80)} from plugin '{plugin}' is refused: a name is letters, digits, "
        "'_', '.', '+' and '-', starts with a letter, digit or '_', and has at most one '/' "
        "(as in 'timm/resnet50')"
    )


@contextlib.contextmanager
def registering_as(plugin: str) -> Iterator[None]:
    """Attribute every registration made inside the block to `plugin`."""
    token = _current_plugin.set(plugin)
    try:
        yield
    finally:
        _current_plugin.reset(token)


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component: its factory and where it came from."""

    name: str
    factory: T
    kind: str
    plugin: str
    aliases: tuple[str, ...] = field(default=())
    replaces: str | None = None  # the plugin whose entry of the same name this one replaced

    @property
    def doc(self) -> str:
        try:
            return inspect.getdoc(self.factory) or ""
        except Exception:  # a plugin's odd factory must not break `tk list` for everyone
            return ""

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def takes(self, option: str) -> bool:
        """Whether the factory accepts `option` by name (true for one taking `**kwargs`)."""
        try:
            params = inspect.signature(self.factory).parameters
        except Exception:
            return False
        return option in params or any(p.kind == p.VAR_KEYWORD for p in params.values())

    def options(self) -> dict[str, Any]:
        """Constructor options and their defaults (`inspect.Parameter.empty` when required)."""
        try:
            params = inspect.signature(self.factory).parameters.values()
        except Exception:
            return {}
        return {
            p.name: p.default
            for p in params
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }


class Registry(Generic[T]):
    """Names to factories for one kind of component (`kind` singular, `plural` for the CLI)."""

    def __init__(self, kind: str, plural: str, fill: Callable[["Registry[T]"], None] | None = None):
        self.kind, self.plural = kind, plural
        self._fill = fill
        self._filled = fill is None
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    def register(
        self, name: str | T | None = None, *, aliases: tuple[str, ...] | list[str] = (),
        override: bool = False,
    ) -> Callable[[T], T]:
        """Decorator adding a factory under `name` (default: its `__name__`) and `aliases`.

        Names are checked here, before anything is stored, so that one plugin's bad name
        fails that plugin instead of every `tk list` that would later try to show it.
        """
        if callable(name):  # used bare: @registry.register
            return self.register()(name)

        def add(factory: T) -> T:
            plugin = _current_plugin.get()
            key = check_name(getattr(factory, "__name__", None) if name is None else name, self.kind, plugin)
            labels = (aliases,) if isinstance(aliases, str) else tuple(aliases)
            entry = Entry(key, factory, self.kind, plugin, tuple(check_name(a, self.kind, plugin) for a in labels))
            if not callable(factory):
                raise RegistrationError(f"{self.kind} '{key}' from plugin '{plugin}' is refused: "
                                        f"{one_line(repr(factory), 60)} cannot be called; register a class or a function")
            for label in (key, *entry.aliases):
                self._check_free(label, entry.plugin, override)
            if override:
                replaced = self._remove(key)
                if replaced is not None and replaced.plugin != entry.plugin:
                    entry = dataclasses.replace(entry, replaces=replaced.plugin)
                    log.warning("plugin '%s' replaces %s '%s' of plugin '%s'", entry.plugin, self.kind, key,
                                replaced.plugin)
            self._entries[key] = entry
            self._aliases.update({alias: key for alias in entry.aliases})
            return factory

        return add

    def _check_free(self, label: str, plugin: str, override: bool) -> None:
        owner = self._entries.get(self._aliases.get(label, label))
        if owner is not None and not override:
            raise DuplicateComponentError(self.kind, label, owner.plugin, plugin)

    def _remove(self, name: str) -> Entry[T] | None:
        old = self._entries.pop(name, None)
        for alias in old.aliases if old else ():
            self._aliases.pop(alias, None)
        return old

    def _ensure_filled(self) -> None:
        if not self._filled:
            self._filled = True  # set first: a plugin reading its own registry must not recurse
            self._fill(self)

    def entry(self, name: str) -> Entry[T]:
        """The entry for `name` or one of its aliases; unknown names get close suggestions."""
        self._ensure_filled()
        key = self._aliases.get(name, name)
        if key not in self._entries:
            raise UnknownComponentError(self.kind, self.plural, name, self.suggest(name))
        return self._entries[key]

    def get(self, name: str) -> T:
        return self.entry(name).factory

    def build(self, name: str, context: dict[str, Any] | None = None, **options: Any) -> Any:
        """Call the factory of `name` with `options`, checking them against its signature first.

        `context` holds what the caller knows and a factory may use, such as the input size:
        each is passed only to a factory that names it (or takes `**kwargs`), so a plugin's
        backbone need not declare an option it has no use for.
        """
        entry = self.entry(name)
        options = {**{k: v for k, v in (context or {}).items() if entry.takes(k)}, **options}
        try:
            inspect.signature(entry.factory).bind(**options)
        except TypeError as exc:
            known = ", ".join(entry.options()) or "none"
            raise ComponentOptionError(
                f"{self.kind} '{entry.name}' does not accept those options ({exc}); "
                f"its options are: {known}"
            ) from None
        except ValueError:
            pass  # no introspectable signature: let the call decide
        return entry.factory(**options)

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names (not aliases) matching a shell wildcard, sorted."""
        self._ensure_filled()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n.lower(), pattern.lower()))

    def entries(self, pattern: str = "*") -> list[Entry[T]]:
        return [self._entries[n] for n in self.names(pattern)]

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        """The closest registered names and aliases to a misspelt `name`."""
        self._ensure_filled()
        labels = [*self._entries, *self._aliases]
        return difflib.get_close_matches(name, labels, n=limit, cutoff=0.6)

    def __contains__(self, name: object) -> bool:
        self._ensure_filled()
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure_filled()
        return len(self._entries)

    def __repr__(self) -> str:
        state = f"{len(self._entries)} entries" if self._filled else "not yet filled"
        return f"<Registry {self.plural}: {state}>"
