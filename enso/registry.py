"""Name-to-object registries for datasets, featurizers, targets, metrics, protocols and task types.

Look-up ignores case and knows aliases; a duplicate name is refused; an unknown name
gets an error that lists the valid ones and the closest match. Third-party packages add
entries through an entry-point group, loaded on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any, Generic, TypeVar

from enso.errors import ConfigError, UnknownNameError, closest, unknown_name_message
from enso.params import check_params, validate_params

log = logging.getLogger(__name__)

T = TypeVar("T")


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
            except Exception as exc:  # noqa: BLE001 - a broken plug-in must not take the tool down
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

    def validate(self, name: str, params: dict[str, Any] | None = None) -> str:
        """The registered spelling of ``name``, once ``params`` pass the entry's declared checks.

        Unknown parameters are refused with the closest valid name, then the entry's
        ``_parameter_constraints`` are checked by ``enso.params.validate_params``; a bad value
        is a one-line ``ConfigError`` naming the entry. Nothing is built.
        """
        canonical = self.canonical(name)
        factory = self.get(canonical)
        params = dict(params or {})
        check_params(self.kind, canonical, factory, params)
        try:
            validate_params(getattr(factory, "_parameter_constraints", None) or {}, params)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad parameters for {self.kind} {canonical!r}: {exc}") from exc
        return canonical


def build(registry: Registry, name: str, params: dict | None = None):
    """Instantiate ``registry``'s entry ``name`` with ``params``, refusing unknown or bad values.

    Entries follow scikit-learn's rule: ``__init__`` stores and checks its parameters and
    does no work, so building one is cheap and validates a config before anything runs.
    """
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


__all__ = ["Registry", "build", "check_params", "closest", "unknown_name_message"]
