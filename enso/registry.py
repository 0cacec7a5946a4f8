"""Name-to-object registries for datasets, featurizers, targets and metrics.

Look-up ignores case and knows aliases; a duplicate name is refused; an unknown name
gets an error that lists the valid ones and the closest match. Third-party packages add
entries through an entry-point group, loaded on first use.
"""

from __future__ import annotations

import difflib
import logging
from importlib import metadata
from typing import Callable, Generic, Iterator, TypeVar

from enso.errors import UnknownNameError

log = logging.getLogger(__name__)

T = TypeVar("T")


def closest(name: str, candidates: list[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None


def unknown_name_message(what: str, name: str, valid: list[str], hint: str | None = None) -> str:
    hint = hint or closest(name, valid)
    suggestion = f"; did you mean {hint!r}?" if hint else ""
    shown = repr(name) if len(name) <= 100 else f"{name[:60]!r}... ({len(name)} characters)"
    return f"unknown {what} {shown}{suggestion} (valid: {', '.join(sorted(valid, key=str.lower))})"


class Registry(Generic[T]):
    """Objects of one kind by name, in registration order."""

    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._names: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        self._entry_points_loaded = entry_point_group is None

    def register(self, name: str, obj: T, aliases: tuple[str, ...] | list[str] = ()) -> T:
        for label in (name, *aliases):
            existing = self._resolve(label)
            if existing is not None:
                raise ValueError(f"{self.kind} name {label!r} is already registered (as {existing!r})")
        self._items[name] = obj
        self._names[name.lower()] = name
        for alias in aliases:
            self._aliases[alias.lower()] = name
        return obj

    def decorator(self, name: str, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            return self.register(name, obj, aliases)
        return wrap

    def _resolve(self, name: str) -> str | None:
        key = name.lower()
        return self._names.get(key) or self._aliases.get(key)

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for entry in metadata.entry_points(group=self.entry_point_group):
            try:
                obj = entry.load()
            except Exception as exc:  # a broken plug-in must not take the tool down
                log.warning("could not load %s plug-in %r from %s: %s", self.kind, entry.name, entry.value, exc)
                continue
            self._register_plugin(entry, obj)

    def _register_plugin(self, entry: metadata.EntryPoint, obj: object) -> None:
        """Register what a plug-in entry point loaded; subclasses may unpack or check it."""
        try:
            self.register(entry.name, obj)
        except ValueError as exc:
            log.warning("ignoring %s plug-in: %s", self.kind, exc)

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name`` (case-insensitive, aliases resolved)."""
        self._load_entry_points()
        resolved = self._resolve(name)
        if resolved is None:
            hint = closest(name, self.names() + list(self._aliases))
            hint = self._resolve(hint) if hint else None
            raise UnknownNameError(unknown_name_message(self.kind, name, self.names(), hint))
        return resolved

    def get(self, name: str) -> T:
        return self._items[self.canonical(name)]

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return self._resolve(name) is not None

    def names(self) -> list[str]:
        self._load_entry_points()
        return list(self._items)

    def aliases_of(self, name: str) -> list[str]:
        canonical = self.canonical(name)
        return [alias for alias, target in self._aliases.items() if target == canonical]

    def items(self) -> Iterator[tuple[str, T]]:
        self._load_entry_points()
        return iter(list(self._items.items()))

    def __len__(self) -> int:
        return len(self.names())


def check_params(kind: str, name: str, factory: Callable, params: dict) -> None:
    """Refuse parameters that ``factory`` does not take, naming the closest valid one."""
    import inspect

    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    accepted = [
        p.name for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
    ]
    if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        return
    for key in params:
        if key not in accepted:
            raise UnknownNameError(unknown_name_message(f"parameter of {kind} {name!r}:", key, accepted)
                                   if accepted else f"{kind} {name!r} takes no parameters, got {key!r}")


def build(registry: Registry, name: str, params: dict | None = None):
    """Instantiate ``registry``'s entry ``name`` with ``params``, refusing unknown or bad values.

    Entries follow scikit-learn's rule: ``__init__`` stores and checks its parameters and
    does no work, so building one is cheap and validates a config before anything runs.
    """
    from enso.errors import ConfigError

    params = dict(params or {})
    canonical = registry.canonical(name)
    factory = registry.get(canonical)
    check_params(registry.kind, canonical, factory, params)
    try:
        return factory(**params)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad parameters for {registry.kind} {canonical!r}: {exc}") from exc
