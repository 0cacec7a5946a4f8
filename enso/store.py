"""The artifact store: every stage's output is a folder addressed by the hash of its inputs.

An artifact is a folder holding payload files and ``manifest.json``. It is built in a
temporary sibling folder, the manifest is written last, and the folder is renamed into
place, so a half-written artifact never sits where a later run would look. A read checks
the manifest's key and every payload file's size and sha256; anything missing, broken or
stale reads as absent, and the caller recomputes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import platform
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from enso.hashing import file_sha256

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
_TRACKED_PACKAGES = (
    "enso", "numpy", "scipy", "scikit-learn", "pandas", "pyarrow", "gensim",
    "torch", "transformers", "tokenizers", "matplotlib",
)


def package_versions(names: tuple[str, ...] = _TRACKED_PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    versions["python"] = platform.python_version()
    return versions


@dataclass(frozen=True)
class Artifact:
    """A verified artifact folder and its manifest."""

    path: Path
    manifest: dict[str, Any]

    def file(self, name: str) -> Path:
        if name not in self.manifest["files"]:
            raise KeyError(f"artifact {self.path} has no payload file {name!r}")
        return self.path / name

    @property
    def key(self) -> str:
        return self.manifest["key"]

    @property
    def meta(self) -> dict[str, Any]:
        return self.manifest.get("meta", {})


@dataclass
class ArtifactWriter:
    """Where a stage writes payload files before they are committed."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


def read_artifact(location: str | Path, key: str | None = None) -> Artifact | None:
    """The artifact at ``location`` if it is complete, intact and (when given) has ``key``."""
    location = Path(location)
    manifest_path = location / MANIFEST
    if not manifest_path.is_file():
        if location.exists():
            log.warning("%s has no manifest; treating it as absent and recomputing", location)
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        stored_key = manifest["key"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s has a broken manifest (%s); recomputing", location, exc)
        return None
    if key is not None and stored_key != key:
        log.info("%s was made from other inputs (key %s, wanted %s); recomputing",
                 location, stored_key[:12], key[:12])
        return None
    for name, expected in files.items():
        path = location / name
        problem = None
        if not path.is_file():
            problem = "is missing"
        elif path.stat().st_size != expected["size"]:
            problem = f"has {path.stat().st_size} bytes, manifest says {expected['size']}"
        elif file_sha256(path) != expected["sha256"]:
            problem = "does not match its sha256 in the manifest"
        if problem:
            log.warning("%s %s; treating the artifact as absent and recomputing", path, problem)
            return None
    return Artifact(location, manifest)


@contextlib.contextmanager
def write_artifact(
    location: str | Path,
    *,
    key: str,
    kind: str,
    params: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
) -> Iterator[ArtifactWriter]:
    """Build an artifact in a temporary folder and move it to ``location`` when the block ends.

    The block writes payload files into ``writer.path`` and may add to ``writer.meta``.
    If the block raises, nothing at ``location`` changes.
    """
    location = Path(location)
    location.parent.mkdir(parents=True, exist_ok=True)
    temp = location.parent / f".tmp-{location.name}-{uuid.uuid4().hex[:8]}"
    temp.mkdir()
    writer = ArtifactWriter(temp)
    try:
        yield writer
        files = {}
        for path in sorted(temp.rglob("*")):
            if path.is_file():
                name = path.relative_to(temp).as_posix()
                files[name] = {"sha256": file_sha256(path), "size": path.stat().st_size}
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "kind": kind,
            "key": key,
            "params": params or {},
            "inputs": inputs or {},
            "meta": writer.meta,
            "files": files,
            "versions": package_versions(),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        _write_json_atomic(temp / MANIFEST, manifest)
        _swap_into_place(temp, location)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _swap_into_place(temp: Path, location: Path) -> None:
    old = None
    if location.exists():
        old = location.parent / f".old-{location.name}-{uuid.uuid4().hex[:8]}"
        os.replace(location, old)
    os.replace(temp, location)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block ends.

    If the block raises, ``path`` is left as it was and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
    try:
        yield temp
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``."""
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, obj: Any) -> None:
    _write_json_atomic(Path(path), obj)
