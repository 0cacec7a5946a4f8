"""What a cell's target is fitted on: a small serialisable description, opened in the worker.

The parent describes each cell's target input with a ``TargetInput`` built from the dataset's
task type and the target's tags (``TargetTags.input``); the worker opens it with
``open_input`` (one source per process and input, kept for the cells after it) and asks the
source for the rows it needs (``source.rows(positions)``): the training sample, the test rows,
a given validation set. The worker's loop is the same for every kind of input:

- ``"features"`` (every target today): a feature file of the featurizer, memory-mapped, and the
  dataset's ``Layout`` (``enso.tasks``: how rows map to feature rows; a few arrays at most).
  The rows a target sees are ``task.target_input(features, layout, rows, options)``
  (classification: ``features[rows]``; a pair task combines the two texts' features per cell, a
  sequence task gathers per-token rows), so new task types add a task module, not an edit here.
- ``"texts"`` (the fine-tuning targets next): the dataset's texts and the model of the
  featurizer the target names (its ``source`` parameter; ``Featurizer.source_model_folder()``).
  The target's ``fit``/``predict``/``scores`` get a ``TextRows``: a sequence of the rows' texts,
  in order (a tuple of texts per row where a row has several, as pairs do), with
  ``model_folder`` (a path) and ``shape``; indexing it with positions gives the ``TextRows`` of
  those rows. ``fit`` also gets ``source=`` the ``SourceModel`` (folder, file hashes, settings).

A source's ``rows`` result is what ``target.fit(X, y, **source.fit_kwargs())`` and
``target.predict(X)`` take. The
texts are read where the worker runs (``DatasetRef``: ``enso.data.load_dataset``, checked
against the content hash the plan saw), so a description stays small however large the
dataset; a feature input never reads the dataset.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: How workers open a feature file; tests point it at their own reader.
FEATURE_OPENER = "enso.features:open_feature_file"
FEATURES, TEXTS = "features", "texts"
#: input kind -> the class that opens it in the worker (``module:Class``, imported where it runs)
SOURCES = {FEATURES: "enso.engine.inputs:FeatureSource", TEXTS: "enso.engine.inputs:TextSource"}
_CACHE_ENTRIES = 4


@dataclass(frozen=True)
class DatasetRef:
    """Where a worker finds a dataset as the plan saw it: name, workspace root, cap, content hash."""

    name: str
    root: str
    max_examples: int | None
    content_hash: str


@dataclass(frozen=True)
class TargetInput:
    """A cell's target input, as the worker opens it (see the module docstring).

    ``kind``: ``"features"`` or ``"texts"`` (a ``SOURCES`` name); ``task``: the dataset's task
    type (a ``TASKS`` name); ``layout``: how the dataset's rows map to units (``Dataset.layout``);
    ``features``: the feature file (features); ``model_folder`` and ``source_model`` (texts): the
    source model's folder and its ``SourceModel`` as a dict; ``options``: the task's options for
    the target input (JSON-able; e.g. a pair task's ``pair_features``).
    """

    kind: str
    task: str
    dataset: DatasetRef
    layout: Any = None
    features: str | None = None
    opener: str = FEATURE_OPENER
    model_folder: str | None = None
    source_model: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def cache_key(self) -> tuple:
        """What identifies the opened source in a worker's cache."""
        return (self.kind, self.task, self.features, self.opener, self.model_folder, self.dataset.content_hash,
                repr(sorted(self.options.items())))


class TextRows(Sequence):
    """The input of a ``"texts"`` target: the texts of some dataset rows, in order, and the source model folder."""

    def __init__(self, texts: Sequence[str], model_folder: str | None):
        self.texts = list(texts)
        self.model_folder = model_folder

    @property
    def shape(self) -> tuple[int]:
        return (len(self.texts),)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self.texts[int(index)]
        if isinstance(index, slice):
            return TextRows(self.texts[index], self.model_folder)
        return TextRows([self.texts[i] for i in np.asarray(index, dtype=np.int64)], self.model_folder)

    def __repr__(self) -> str:
        return f"TextRows({len(self.texts)} texts, model_folder={self.model_folder!r})"


# -- in the worker ------------------------------------------------------------------------

_lock = threading.Lock()
_sources: OrderedDict[tuple, Any] = OrderedDict()
_features: OrderedDict[str, Any] = OrderedDict()
_datasets: OrderedDict[str, Any] = OrderedDict()


def _resolve(path: str):
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _cached(cache: OrderedDict, key, make):
    with _lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _lock:
        cache[key] = value
        while len(cache) > _CACHE_ENTRIES:
            cache.popitem(last=False)
    return value


def prime_features(path: str, X) -> None:
    """Give this process's cache an already-open feature matrix (the in-process runner)."""
    with _lock:
        _features[path] = X
        _features.move_to_end(path)


def prime_dataset(dataset) -> None:
    """Give this process's cache an already-loaded dataset (the in-process runner)."""
    with _lock:
        _datasets[dataset.content_hash] = dataset
        _datasets.move_to_end(dataset.content_hash)


def open_features(path: str, opener: str = FEATURE_OPENER):
    return _cached(_features, path, lambda: _resolve(opener)(path))


def open_dataset(ref: DatasetRef):
    def load():
        from enso.data import load_dataset
        from enso.workspace import Workspace

        from pathlib import Path

        # a worker process or Dask worker gets the root as text (Workspace joins paths with /)
        dataset = load_dataset(ref.name, Workspace(Path(ref.root)), max_examples=ref.max_examples)
        if dataset.content_hash != ref.content_hash:
            raise ValueError(f"dataset {ref.name} in {ref.root} changed since the sweep was planned; rerun")
        return dataset

    return _cached(_datasets, ref.content_hash, load)


def open_input(description: TargetInput):
    """The source of ``description`` in this process (opened once, then kept)."""
    return _cached(_sources, description.cache_key(), lambda: _resolve(SOURCES[description.kind])(description))


def task_type(name: str):
    """The task type ``name`` from the ``TASKS`` registry; None while no registry exists (classification only)."""
    try:
        from enso.tasks import TASKS
    except ImportError:  # before task types exist, every dataset is a classification one
        return None
    return TASKS.get(name)


def _contiguous(part):
    return np.ascontiguousarray(part) if isinstance(part, np.ndarray) else part


class FeatureSource:
    """A feature file and the task type's layout: ``rows(positions)`` is what the target sees for those rows."""

    def __init__(self, description: TargetInput):
        self.description = description
        self.X = open_features(description.features, description.opener)
        self.task = task_type(description.task)
        self._test: OrderedDict[str, Any] = OrderedDict()

    def rows(self, positions: np.ndarray, cache_id: str | None = None):
        """The target input of dataset rows ``positions``; ``cache_id`` keeps it for later cells (the test rows)."""
        if cache_id is not None:
            return _cached(self._test, cache_id, lambda: self.rows(positions))
        positions = np.asarray(positions, dtype=np.int64)
        if self.task is not None:
            try:
                return _contiguous(self.task.target_input(self.X, self.description.layout, positions,
                                                          dict(self.description.options)))
            except NotImplementedError:  # a task type without its own: one feature row per dataset row
                self.task = None
        return _contiguous(self.X[positions])

    def fit_kwargs(self) -> dict[str, Any]:
        """What ``target.fit`` takes besides the rows: nothing, for features."""
        return {}

    def release(self) -> None:
        """Drop the pages of a large memory-mapped feature file from this process once a cell has its rows.

        ``rows`` copies what it takes (sequence rows it reads from the file only when the target asks,
        unmapped: ``enso.tasks.rows.FileRows``), so the pages it touched are no longer needed here; they stay in
        the OS's page cache (a later cell maps them back cheaply) but stop counting in this process's
        RSS: on all of CoNLL-2003 they were 0.46 GB of a CRF cell's 2.2 GB peak.
        """
        mapped = getattr(self.X, "_mmap", None)
        if mapped is None or getattr(self.X, "nbytes", 0) < RELEASE_BYTES or not hasattr(mapped, "madvise"):
            return
        import mmap

        try:
            mapped.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError, AttributeError):  # a platform without it: the pages stay, nothing breaks
            pass


#: Feature files at least this large give their pages back after each cell's rows are taken (FeatureSource.release).
RELEASE_BYTES = 64 * 1024 * 1024


class TextSource:
    """The dataset's texts and the source model folder: ``rows(positions)`` is a ``TextRows``."""

    def __init__(self, description: TargetInput):
        self.description = description
        self.texts = open_dataset(description.dataset).texts

    def rows(self, positions: np.ndarray, cache_id: str | None = None) -> TextRows:
        positions = np.asarray(positions, dtype=np.int64)
        layout = self.description.layout
        units = layout.unit_index(positions) if layout is not None else positions
        texts = self.texts
        items = [texts[u] if np.ndim(u) == 0 else tuple(texts[i] for i in u) for u in units]
        return TextRows(items, self.description.model_folder)

    def fit_kwargs(self) -> dict[str, Any]:
        """``source=``: the ``SourceModel`` the target fine-tunes."""
        from enso.features.model_folder import SourceModel

        return {"source": SourceModel(**self.description.source_model)}

    def release(self) -> None:
        """Nothing mapped to give back."""


__all__ = ["FEATURES", "FEATURE_OPENER", "SOURCES", "TEXTS", "DatasetRef", "FeatureSource", "TargetInput",
           "TextRows", "TextSource", "open_input", "prime_dataset", "prime_features"]
