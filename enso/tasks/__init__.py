"""Task types: what differs between classification, sentence pairs and sequence labelling.

``TASKS`` maps a task type's name to its (stateless) instance; a dataset record names
one (``DatasetRecord.task``) and ``Dataset.task`` is it. Plug-ins add task types through
the ``enso.tasks`` entry-point group (a ``TaskType`` subclass or instance). Only
``classification`` ships today; ``pair-classification`` and ``sequence-labelling`` are
new modules against the interface in :mod:`enso.tasks.base`.
"""

from __future__ import annotations

import logging

from enso.registry import Registry
from enso.tasks.base import (SPLITS, Layout, Ragged, TaskType, Units, distinct_pair_units, distinct_text_units,
                             hash_rows, row_units, token_units)
from enso.tasks.rows import FileRows
from enso.tasks.classification import Classification
from enso.tasks.pairs import PairClassification
from enso.tasks.sequence import SequenceLabelling

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_TASK", "SPLITS", "TASKS", "Classification", "FileRows", "Layout", "Ragged", "TaskRegistry", "TaskType",
    "Units", "distinct_pair_units", "distinct_text_units", "get_task", "hash_rows", "row_units", "token_units",
]

DEFAULT_TASK = "classification"


class TaskRegistry(Registry[TaskType]):
    """Task types by name; registering a class registers one instance of it."""

    def register(self, name: str, obj, aliases: tuple[str, ...] | list[str] = ()) -> TaskType:
        if isinstance(obj, type) and issubclass(obj, TaskType):
            obj = obj()
        if not isinstance(obj, TaskType):
            raise TypeError(f"task type {name!r} must be a TaskType, not {type(obj).__name__}")
        if not obj.name or obj.name.lower() != name.lower():
            raise ValueError(f"task type registered as {name!r} must have name = {name!r} "
                             f"(its class {type(obj).__name__} says {obj.name!r})")
        return super().register(name, obj, aliases)

    def canonical(self, name: str) -> str:
        """As ``Registry.canonical``, but plug-ins are loaded only for a name the built-ins lack.

        Records name their task type when the catalog is imported; loading every plug-in
        then (one may import ``enso.data`` itself) would be a cycle for no reason.
        """
        resolved = self._resolve(name)
        return resolved if resolved is not None else super().canonical(name)

    def _register_plugin(self, entry, obj) -> None:
        try:
            self.register(entry.name, obj)
        except (TypeError, ValueError) as exc:
            log.warning("ignoring task type plug-in %r: %s", entry.name, exc)

    def unregister(self, name: str) -> None:
        """Remove a task type (for plug-in tests); its aliases go with it."""
        canonical = self.canonical(name)
        del self._items[canonical]
        del self._names[canonical.lower()]
        for alias in [a for a, target in self._aliases.items() if target == canonical]:
            del self._aliases[alias]


TASKS: TaskRegistry = TaskRegistry("task type", "enso.tasks")
TASKS.register(Classification.name, Classification)
TASKS.register(SequenceLabelling.name, SequenceLabelling)
TASKS.register(PairClassification.name, PairClassification)


def get_task(task: str | TaskType | None) -> TaskType:
    """The task type ``task`` names (None: classification); an instance is returned as is."""
    if isinstance(task, TaskType):
        return task
    return TASKS.get(task or DEFAULT_TASK)
