"""Datasets: the registry of real benchmark data, the downloader, and the user's own data.

``DATASETS`` holds declarative ``DatasetRecord`` objects (plug-ins add more through the
``enso.datasets`` entry-point group); ``download`` fetches, verifies, parses and stores
them under ``datasets/<Name>/``; ``load_dataset`` reads one back, verified. The user's own
datasets live in a workspace, which every function is given: ``resolve_dataset(name,
workspace)`` and ``DATASETS.in_workspace(workspace)`` know both kinds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from enso.data.dataset import Dataset
from enso.data.records import DataFile, DatasetRecord, Format, GivenSplit, PyPISource, StratifiedSplit, UrlSource
from enso.errors import EnsoError, UnknownNameError
from enso.registry import Registry, unknown_name_message
from enso.store import Reuse
from enso.workspace import Workspace

log = logging.getLogger(__name__)

__all__ = [
    "DATASETS", "DataFile", "Dataset", "DatasetRecord", "DatasetRegistry", "Format", "GivenSplit", "PyPISource",
    "StratifiedSplit", "UrlSource", "WorkspaceDatasets", "download", "import_local", "is_downloaded",
    "load_dataset", "resolve_dataset",
]


class DatasetRegistry(Registry[DatasetRecord]):
    """The registered dataset records; the user's own datasets are found through a workspace.

    ``DATASETS.canonical(name)`` knows registered names (and aliases) only. A workspace's
    local datasets join them in ``DATASETS.in_workspace(workspace)``, a view with the same
    look-ups that configs are validated against; ``resolve_dataset(name, workspace)`` is
    the short form. There is no attached or current-directory workspace.
    """

    def in_workspace(self, workspace: Workspace | None) -> WorkspaceDatasets:
        """Registered records plus the local datasets stored in ``workspace`` (None: registered only)."""
        return WorkspaceDatasets(self, workspace)

    def is_registered(self, name: str) -> bool:
        return super().__contains__(name)

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name``; a local dataset needs its workspace (``in_workspace``)."""
        try:
            return super().canonical(name)
        except UnknownNameError:
            raise UnknownNameError(unknown_name_message(self.kind, name, self.names())
                                   + "; `python -m enso.download --list` shows them") from None

    def record(self, name: str) -> DatasetRecord:
        """The registered record of ``name`` (``in_workspace(ws).record`` also answers None for a local one)."""
        return self._items[self.canonical(name)]

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


class WorkspaceDatasets:
    """The datasets a workspace can name: every registered record, plus its own stored datasets.

    Names ignore case; a registered name wins over a local folder of the same name. What
    configs are validated against (``canonical``), and what ``download``/``load_dataset``
    resolve names with. Local names are read from ``workspace.datasets`` on each call.
    """

    def __init__(self, registry: DatasetRegistry, workspace: Workspace | None):
        self.registry = registry
        self.workspace = workspace
        self.kind = registry.kind

    def __repr__(self) -> str:
        where = self.workspace.root if self.workspace is not None else "no workspace"
        return f"<datasets of {where}>"

    def local_names(self) -> list[str]:
        """The user's own datasets stored in the workspace, sorted (names a record has are left out)."""
        from enso.data.local import local_names

        if self.workspace is None:
            return []
        registered = {name.lower() for name in self.registry.names()}
        return sorted(name for key, name in local_names(self.workspace).items() if key not in registered)

    def names(self) -> list[str]:
        return self.registry.names() + self.local_names()

    def is_registered(self, name: str) -> bool:
        return self.registry.is_registered(name)

    def is_local(self, name: str) -> bool:
        return not self.is_registered(name) and name.lower() in {n.lower() for n in self.local_names()}

    def canonical(self, name: str) -> str:
        """The registered or local spelling of ``name``; else an error naming the closest valid one."""
        if self.registry.is_registered(name):
            return self.registry.canonical(name)
        local = {n.lower(): n for n in self.local_names()}
        if name.lower() in local:
            return local[name.lower()]
        raise UnknownNameError(unknown_name_message(self.kind, name, self.registry.names() + list(local.values()))
                               + "; `python -m enso.download --list` shows them")

    def __contains__(self, name: str) -> bool:
        return self.is_registered(name) or self.is_local(name)

    def get(self, name: str) -> DatasetRecord:
        canonical = self.canonical(name)
        record = self.registry._items.get(canonical)
        if record is None:
            raise EnsoError(f"{canonical} is the user's own dataset, not a registered record; "
                            "read it with enso.data.load_dataset")
        return record

    def record(self, name: str) -> DatasetRecord | None:
        """The registered record of ``name``, or None for a local dataset."""
        return self.registry._items.get(self.canonical(name))

    def items(self) -> Iterator[tuple[str, DatasetRecord]]:
        """The registered records (local datasets have none)."""
        return self.registry.items()


DATASETS: DatasetRegistry = DatasetRegistry("dataset", "enso.datasets")


def register(record: DatasetRecord) -> DatasetRecord:
    return DATASETS.register(record.name, record, record.aliases)


def _register_catalog() -> None:
    from enso.data.catalog import RECORDS

    for record in RECORDS:
        register(record)


_register_catalog()


def resolve_dataset(name: str, workspace: Workspace | None) -> str:
    """The registered or local (stored in ``workspace``) spelling of dataset ``name``.

    Case-insensitive, aliases resolved; an unknown name is an error naming the closest
    valid one. ``workspace=None`` knows registered datasets only.
    """
    return DATASETS.in_workspace(workspace).canonical(name)


def _how_to_get(name: str, local: bool) -> str:
    if local:
        return f"import it again with `python -m enso.download --csv PATH --name {name} ...`"
    return f"run `python -m enso.download {name}`"


def is_downloaded(name: str, workspace: Workspace) -> bool:
    """Whether ``datasets/<name>/`` holds a whole artifact built from the current record."""
    from enso.store import read_artifact

    datasets = DATASETS.in_workspace(workspace)
    canonical = datasets.canonical(name)
    record = datasets.record(canonical)
    return read_artifact(workspace.dataset_dir(canonical), record.key() if record else None) is not None


def load_dataset(name: str, workspace: Workspace, *, max_examples: int | None = None) -> Dataset:
    """The stored dataset ``name`` of ``workspace``, verified, capped to ``max_examples`` rows (stratified)."""
    from enso.data.build import read_dataset
    from enso.store import read_artifact

    datasets = DATASETS.in_workspace(workspace)
    canonical = datasets.canonical(name)
    record = datasets.record(canonical)
    local = record is None
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


def download(names: Iterable[str], workspace: Workspace, *, reuse: Reuse | str = Reuse.REUSE,
             mirror: str | None = None, downloader=None) -> list[Dataset]:
    """Fetch, verify, parse and store each dataset in ``names`` that is not already stored.

    ``reuse`` (``enso.store.Reuse``): ``REUSE`` (default) keeps a stored, verified dataset;
    ``RECOMPUTE`` fetches its sources again and rebuilds it; ``ONLY_CACHED`` uses only what is
    stored and fails, saying how to get it, for anything else. Local datasets are never
    fetched. When one of several datasets fails, the others are still built and stored, and
    one error naming every failure is raised at the end.
    """
    from enso.data.build import Sources, read_dataset
    from enso.data.downloader import Downloader
    from enso.progress import bar
    from enso.store import clean_temporaries, missing

    policy = Reuse.parse(reuse)
    datasets = DATASETS.in_workspace(workspace)
    canonical: list[str] = []
    records: dict[str, DatasetRecord | None] = {}
    for name in names:
        resolved = datasets.canonical(name)
        if resolved not in canonical:
            canonical.append(resolved)
            records[resolved] = datasets.record(resolved)
    clean_temporaries(workspace.datasets, recursive=True)  # what killed downloads and imports left behind
    recompute = not policy.reads
    results: dict[str, Dataset] = {}
    todo: list[DatasetRecord] = []
    for name in canonical:
        record = records[name]
        location = workspace.dataset_dir(name)
        if record is None:  # the user's own data: only ever imported, never fetched
            results[name] = load_dataset(name, workspace)
            continue
        stored = None if recompute else read_dataset(name, location, record.key())
        if stored is not None:
            log.info("%s is already downloaded and verified", name)
            results[name] = stored
        elif not policy.computes:
            raise missing(f"dataset {name}", f"python -m enso.download {name}",
                          reason=f"--offline (only-cached) forbids fetching it into {workspace.datasets}")
        else:
            todo.append(record)
    if todo:
        downloader = downloader or Downloader()
        failures: list[tuple[str, EnsoError]] = []
        with Sources(workspace, mirror=mirror, downloader=downloader, refetch=recompute) as sources, \
                bar(len(todo), "datasets", "dataset", enabled=len(todo) > 1) as progress:
            for record in todo:
                progress.set_postfix_str(record.name)
                try:
                    results[record.name] = _build_once(record, workspace, sources, recompute)
                except EnsoError as exc:
                    if len(todo) == 1:
                        raise
                    log.error("%s failed: %s", record.name, exc)
                    failures.append((record.name, exc))
                progress.update()
        if failures:
            stored = len(canonical) - len(failures)
            detail = "; ".join(f"{name}: {exc}" for name, exc in failures)
            raise EnsoError(f"{len(failures)} of {len(canonical)} datasets failed ({stored} stored): {detail}")
    return [results[name] for name in canonical]


def _build_once(record: DatasetRecord, workspace: Workspace, sources, recompute: bool) -> Dataset:
    """Build ``record`` under its artifact's lock; one that another run stored meanwhile is read instead."""
    from enso.data.build import build, read_dataset
    from enso.store import artifact_lock

    location = workspace.dataset_dir(record.name)
    with artifact_lock(location):
        stored = None if recompute else read_dataset(record.name, location, record.key())
        if stored is not None:
            log.info("%s was stored by another run meanwhile", record.name)
            return stored
        return build(record, workspace, sources)


def import_local(*args, **kwargs) -> Dataset:
    from enso.data.local import import_local as _import_local

    return _import_local(*args, **kwargs)
