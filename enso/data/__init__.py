"""Datasets: the registry of real benchmark data, the downloader, and the user's own data.

``DATASETS`` holds declarative ``DatasetRecord`` objects (plug-ins add more through the
``enso.datasets`` entry-point group); ``download`` fetches, verifies, parses and stores
them under ``datasets/<Name>/``; ``load_dataset`` reads one back, verified.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Iterable, Iterator

from enso.data.dataset import Dataset
from enso.data.records import DataFile, DatasetRecord, Format, GivenSplit, PyPISource, StratifiedSplit, UrlSource
from enso.errors import EnsoError, UnknownNameError
from enso.registry import Registry, unknown_name_message
from enso.workspace import Workspace

log = logging.getLogger(__name__)

__all__ = [
    "DATASETS", "DataFile", "Dataset", "DatasetRecord", "DatasetRegistry", "Format", "GivenSplit", "PyPISource",
    "StratifiedSplit", "UrlSource", "download", "import_local", "is_downloaded", "load_dataset",
]


class DatasetRegistry(Registry[DatasetRecord]):
    """Registered records, plus the user's own datasets stored in the current workspace.

    Local datasets are found in ``workspace.datasets`` of the attached workspace, else of
    ``$ENSO_ROOT`` or the current directory, so configs can name them like any other.
    """

    def __init__(self, kind: str, entry_point_group: str | None = None):
        super().__init__(kind, entry_point_group)
        self._workspace: Workspace | None = None

    def attach(self, workspace: Workspace | None) -> None:
        """Look for local datasets in ``workspace`` from now on (None: ``$ENSO_ROOT`` or cwd)."""
        self._workspace = workspace

    @contextlib.contextmanager
    def using(self, workspace: Workspace) -> Iterator[None]:
        previous, self._workspace = self._workspace, workspace
        try:
            yield
        finally:
            self._workspace = previous

    def workspace(self) -> Workspace | None:
        if self._workspace is not None:
            return self._workspace
        try:
            return Workspace.resolve(None)
        except EnsoError:
            return None

    def local_names(self) -> list[str]:
        from enso.data.local import local_names

        workspace = self.workspace()
        if workspace is None:
            return []
        registered = {name.lower() for name in self.names()}
        return sorted(name for key, name in local_names(workspace).items() if key not in registered)

    def is_registered(self, name: str) -> bool:
        return super().__contains__(name)

    def is_local(self, name: str) -> bool:
        return not self.is_registered(name) and name.lower() in {n.lower() for n in self.local_names()}

    def canonical(self, name: str) -> str:
        try:
            return super().canonical(name)
        except UnknownNameError:
            local = {n.lower(): n for n in self.local_names()}
            if name.lower() in local:
                return local[name.lower()]
            raise UnknownNameError(unknown_name_message(self.kind, name, self.names() + list(local.values()))
                                   + "; `python -m enso.download --list` shows them") from None

    def __contains__(self, name: str) -> bool:
        return self.is_registered(name) or self.is_local(name)

    def get(self, name: str) -> DatasetRecord:
        canonical = self.canonical(name)
        if canonical not in self._items:
            raise EnsoError(f"{canonical} is the user's own dataset, not a registered record; "
                            "read it with enso.data.load_dataset")
        return self._items[canonical]

    def record(self, name: str) -> DatasetRecord | None:
        """The registered record of ``name``, or None for a local dataset."""
        canonical = self.canonical(name)
        return self._items.get(canonical)

    def _register_plugin(self, entry, obj) -> None:
        """A plug-in gives a record, a list of records, or a callable returning them; each keeps its aliases."""
        try:
            if callable(obj) and not isinstance(obj, DatasetRecord):
                obj = obj()
        except Exception as exc:  # a broken plug-in must not take the tool down
            log.warning("could not load dataset plug-in %r from %s: %s", entry.name, entry.value, exc)
            return
        records = obj if isinstance(obj, (list, tuple)) else [obj]
        for record in records:
            if not isinstance(record, DatasetRecord):
                log.warning("ignoring dataset plug-in %r: %s is not a DatasetRecord", entry.name,
                            type(record).__name__)
                continue
            try:
                self.register(record.name, record, record.aliases)
            except ValueError as exc:
                log.warning("ignoring dataset plug-in %r: %s", entry.name, exc)

    def unregister(self, name: str) -> None:
        """Remove a registered record (for plug-in tests); its aliases go with it."""
        canonical = super().canonical(name)
        del self._items[canonical]
        del self._names[canonical.lower()]
        for alias in [a for a, target in self._aliases.items() if target == canonical]:
            del self._aliases[alias]


DATASETS: DatasetRegistry = DatasetRegistry("dataset", "enso.datasets")


def register(record: DatasetRecord) -> DatasetRecord:
    return DATASETS.register(record.name, record, record.aliases)


def _register_catalog() -> None:
    from enso.data.catalog import RECORDS

    for record in RECORDS:
        register(record)


_register_catalog()


def _how_to_get(name: str, local: bool) -> str:
    if local:
        return f"import it again with `python -m enso.download --csv PATH --name {name} ...`"
    return f"run `python -m enso.download {name}`"


def is_downloaded(name: str, workspace: Workspace) -> bool:
    """Whether ``datasets/<name>/`` holds a whole artifact built from the current record."""
    from enso.store import read_artifact

    with DATASETS.using(workspace):
        canonical = DATASETS.canonical(name)
        record = DATASETS.record(canonical)
    return read_artifact(workspace.dataset_dir(canonical), record.key() if record else None) is not None


def load_dataset(name: str, workspace: Workspace, *, max_examples: int | None = None) -> Dataset:
    """The stored dataset ``name``, verified, capped to ``max_examples`` rows (stratified)."""
    from enso.data.build import read_dataset
    from enso.store import read_artifact

    with DATASETS.using(workspace):
        canonical = DATASETS.canonical(name)
        record = DATASETS.record(canonical)
        local = DATASETS.is_local(canonical)
    location = workspace.dataset_dir(canonical)
    dataset = read_dataset(canonical, location, record.key() if record else None)
    if dataset is None:
        if record is not None and read_artifact(location) is not None:
            raise EnsoError(f"dataset {canonical} in {location} was built from another version of its record; "
                            f"run `python -m enso.download {canonical}` to rebuild it")
        if (location / "manifest.json").exists():
            raise EnsoError(f"dataset {canonical} in {location} is damaged or incomplete (see the warning above); "
                            f"{_how_to_get(canonical, local)}" + ("" if local else " to rebuild it"))
        raise EnsoError(f"dataset {canonical} is not downloaded; {_how_to_get(canonical, local)}")
    return dataset.capped(max_examples)


def download(names: Iterable[str], workspace: Workspace, *, mirror: str | None = None, offline: bool = False,
             force: bool = False, downloader=None) -> list[Dataset]:
    """Fetch, verify, parse and store each dataset in ``names`` that is not already stored.

    A stored dataset is reused unless ``force``; ``offline`` uses only what is stored and
    fails, saying how to get it, for anything else. Local datasets are never fetched. When
    one of several datasets fails, the others are still built and stored, and one error
    naming every failure is raised at the end.
    """
    from enso.data.build import Sources, read_dataset
    from enso.data.downloader import Downloader
    from enso.store import clean_temporaries

    canonical: list[str] = []
    records: dict[str, DatasetRecord | None] = {}
    with DATASETS.using(workspace):
        for name in names:
            resolved = DATASETS.canonical(name)
            if resolved not in canonical:
                canonical.append(resolved)
                records[resolved] = DATASETS.record(resolved)
    clean_temporaries(workspace.datasets, recursive=True)  # what killed downloads and imports left behind
    if force and offline:
        log.warning("--offline: stored datasets are used as they are; --force does not rebuild them")
        force = False
    results: dict[str, Dataset] = {}
    todo: list[DatasetRecord] = []
    for name in canonical:
        record = records[name]
        location = workspace.dataset_dir(name)
        if record is None:  # the user's own data: only ever imported, never fetched
            results[name] = load_dataset(name, workspace)
            continue
        stored = None if force else read_dataset(name, location, record.key())
        if stored is not None:
            log.info("%s is already downloaded and verified", name)
            results[name] = stored
        elif offline:
            raise EnsoError(f"dataset {name} is not in {workspace.datasets} and --offline forbids fetching it; "
                            f"run `python -m enso.download {name}` with network access (or --mirror)")
        else:
            todo.append(record)
    if todo:
        downloader = downloader or Downloader()
        failures: list[tuple[str, EnsoError]] = []
        with Sources(workspace, mirror=mirror, downloader=downloader, refetch=force) as sources, \
                _progress(len(todo)) as bar:
            for record in todo:
                bar.set_postfix_str(record.name)
                try:
                    results[record.name] = _build_once(record, workspace, sources, force)
                except EnsoError as exc:
                    if len(todo) == 1:
                        raise
                    log.error("%s failed: %s", record.name, exc)
                    failures.append((record.name, exc))
                bar.update()
        if failures:
            stored = len(canonical) - len(failures)
            detail = "; ".join(f"{name}: {exc}" for name, exc in failures)
            raise EnsoError(f"{len(failures)} of {len(canonical)} datasets failed ({stored} stored): {detail}")
    return [results[name] for name in canonical]


def _build_once(record: DatasetRecord, workspace: Workspace, sources, force: bool) -> Dataset:
    """Build ``record`` under its artifact's lock; one that another run stored meanwhile is read instead."""
    from enso.data.build import build, read_dataset
    from enso.store import artifact_lock

    location = workspace.dataset_dir(record.name)
    with artifact_lock(location):
        stored = None if force else read_dataset(record.name, location, record.key())
        if stored is not None:
            log.info("%s was stored by another run meanwhile", record.name)
            return stored
        return build(record, workspace, sources)


def _progress(total: int):
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc="datasets", unit="dataset", file=sys.stderr, disable=None if total > 1 else True,
                leave=False)


def import_local(*args, **kwargs) -> Dataset:
    from enso.data.local import import_local as _import_local

    return _import_local(*args, **kwargs)
