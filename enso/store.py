"""The artifact store: every stage's output is a folder addressed by the hash of its inputs.

An artifact is a folder holding payload files and ``manifest.json``. It is built in a
temporary sibling folder, the manifest is written last, and the folder is renamed into
place, so a half-written artifact never sits where a later run would look. A read checks
the manifest's key and every payload file's size and sha256; anything missing, broken or
stale reads as absent, and the caller recomputes.

Temporary files and folders are named ``.tmp-<name>-<pid>-<hex8>`` (and ``.old-...`` for
an artifact being replaced), carrying the writer's process id, so a later run can tell
the leftovers of a killed process (removed by :func:`clean_temporaries`) from the work
in progress of a live one (kept). A file set (:func:`write_fileset`) is the same contract
for files that live side by side in a folder with other things, such as a results table.

Whether a stage may use what is stored, or must compute, is one policy, :class:`Reuse`:
``REUSE`` (the default: read a valid artifact, compute a missing one), ``RECOMPUTE``
(``--force``: compute even when a valid one is stored) and ``ONLY_CACHED`` (``--offline``:
read what is stored, and fail with :func:`missing` for anything that is not).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import enum
import functools
import json
import logging
import os
import platform
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Self

import filelock

from enso.errors import ConfigError, EnsoError
from enso.hashing import file_sha256

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
TEMP_PREFIXES = (".tmp-", ".old-")
#: A temporary name without a PID (written before PIDs were recorded) is a leftover once this old.
PIDLESS_TEMP_MAX_AGE_S = 3600
_MAX_MANIFEST_BYTES = 64 << 20
_PID_NAME = re.compile(r"^\.(?:tmp|old)-.+-(\d+)-[0-9a-f]{8}$", re.DOTALL)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TRACKED_PACKAGES = (
    "enso", "numpy", "scipy", "scikit-learn", "pandas", "pyarrow", "gensim",
    "torch", "transformers", "tokenizers", "matplotlib",
)


class Reuse(enum.Enum):
    """What a stage does with a stored artifact: every library entry point takes ``reuse=``."""

    REUSE = "reuse"  #: read a valid stored artifact; compute one that is missing or stale
    RECOMPUTE = "recompute"  #: compute even when a valid artifact is stored (``--force``)
    ONLY_CACHED = "only-cached"  #: read what is stored; anything missing is an error (``--offline``)

    @classmethod
    def parse(cls, value: Reuse | str) -> Reuse:
        """``value`` as a policy: a member, or its value (``"only-cached"``) or name, case-insensitive."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            wanted = value.strip().lower().replace("_", "-")
            for member in cls:
                if wanted in (member.value, member.name.lower().replace("_", "-")):
                    return member
        raise ConfigError(f"reuse must be one of {', '.join(m.value for m in cls)}, got {value!r}")

    @classmethod
    def from_flags(cls, *, force: bool = False, offline: bool = False) -> Reuse:
        """The command line's ``--force`` (RECOMPUTE) and ``--offline`` (ONLY_CACHED); offline wins."""
        if offline:
            if force:
                log.warning("--offline: stored artifacts are used as they are; --force does not recompute them")
            return cls.ONLY_CACHED
        return cls.RECOMPUTE if force else cls.REUSE

    @property
    def reads(self) -> bool:
        """Whether a valid stored artifact is used."""
        return self is not Reuse.RECOMPUTE

    @property
    def computes(self) -> bool:
        """Whether a missing artifact may be computed."""
        return self is not Reuse.ONLY_CACHED


def missing(what: str, command: str, *, reason: str = "--offline (only-cached) forbids computing it") -> EnsoError:
    """The one-line error for an artifact that ``ONLY_CACHED`` needs and the store lacks.

    ``missing("features tfidf on TREC", "enso featurize default")`` reads "features tfidf on
    TREC are not stored and --offline (only-cached) forbids computing it; run `enso featurize
    default` first".
    """
    verb = "are" if what.split(" ", 1)[0].endswith("s") else "is"
    return EnsoError(f"{what} {verb} not stored and {reason}; run `{command}` first")


def package_versions(names: tuple[str, ...] = _TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (those installed) and of Python."""
    return dict(_package_versions(tuple(names)))


@functools.cache
def _package_versions(names: tuple[str, ...]) -> dict[str, str]:  # metadata look-ups are slow per write
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
    return _read_verified(location, location / MANIFEST, key)


def read_fileset(folder: str | Path, manifest_name: str, key: str | None = None) -> Artifact | None:
    """The file set that ``folder/manifest_name`` describes, verified like :func:`read_artifact`.

    ``None`` if the manifest is missing (quietly: the caller knows what that means, e.g. no
    results yet), and ``None`` with a warning if it is damaged, of another key, or any file
    it lists is missing or changed; ``Artifact.file(name)`` gives a listed file's path.
    """
    folder = Path(folder)
    return _read_verified(folder, folder / manifest_name, key, warn_missing=False)


def _read_verified(location: Path, manifest_path: Path, key: str | None, *,
                   warn_missing: bool = True) -> Artifact | None:
    if not manifest_path.is_file():
        if warn_missing and location.exists():
            log.warning("%s has no manifest; treating it as absent and recomputing", location)
        return None
    try:
        if manifest_path.stat().st_size > _MAX_MANIFEST_BYTES:
            raise ValueError(f"{manifest_path.name} is larger than {_MAX_MANIFEST_BYTES >> 20} MiB")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        problem = _manifest_problem(manifest)
    except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        problem = str(exc) or type(exc).__name__
    if problem:
        log.warning("%s has a broken manifest (%s); treating it as absent and recomputing", manifest_path, problem)
        return None
    stored_key = manifest["key"]
    if key is not None and stored_key != key:
        log.info("%s was made from other inputs (key %s, wanted %s); recomputing",
                 location, stored_key[:12], key[:12])
        return None
    for name, expected in manifest["files"].items():
        path = location / name
        problem = None
        try:
            if not path.is_file():
                problem = "is missing"
            elif path.stat().st_size != expected["size"]:
                problem = f"has {path.stat().st_size} bytes, manifest says {expected['size']}"
            elif file_sha256(path) != expected["sha256"]:
                problem = "does not match its sha256 in the manifest"
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or exc})"
        if problem:
            log.warning("%s %s; treating the artifact as absent and recomputing", path, problem)
            return None
    return Artifact(location, manifest)


def _manifest_problem(manifest: Any) -> str | None:
    """What makes ``manifest`` not a manifest (wrong shape or types), or ``None`` if it is one."""
    if not isinstance(manifest, dict):
        return f"a JSON {type(manifest).__name__}, not an object"
    if not isinstance(manifest.get("key"), str):
        return "'key' is missing or not a string"
    files = manifest.get("files")
    if not isinstance(files, dict):
        return "'files' is missing or not an object"
    for name, entry in files.items():
        parts = Path(name).parts
        if not name or Path(name).is_absolute() or ".." in parts or "\\" in name:
            return f"file name {name!r} points outside the artifact"
        if not isinstance(entry, dict):
            return f"the entry of {name!r} is not an object"
        size, digest = entry.get("size"), entry.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return f"the size of {name!r} is not a non-negative integer"
        if not isinstance(digest, str) or not _SHA256.match(digest):
            return f"the sha256 of {name!r} is not 64 hex digits"
    for field_name in ("meta", "params", "inputs"):
        if field_name in manifest and not isinstance(manifest[field_name], dict):
            return f"{field_name!r} is not an object"
    return None


@contextlib.contextmanager
def write_artifact(
    location: str | Path,
    *,
    key: str,
    kind: str,
    params: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    lock: bool = True,
) -> Iterator[ArtifactWriter]:
    """Build an artifact in a temporary folder and move it to ``location`` when the block ends.

    The block writes payload files into ``writer.path`` and may add to ``writer.meta``.
    If the block raises, nothing at ``location`` changes. The swap into place happens under
    :func:`artifact_lock`, so concurrent writers of one artifact take turns (the last one's
    artifact stays) instead of failing on each other's half-done rename. A caller that
    already holds a lock covering ``location`` (the engine writing cells under its
    experiment lock) passes ``lock=False``: no ``<location>.lock`` file is made beside it.
    """
    location = Path(location)
    location.parent.mkdir(parents=True, exist_ok=True)
    temp = location.parent / temporary_name(location.name)
    temp.mkdir()
    writer = ArtifactWriter(temp)
    try:
        yield writer
        files = {}
        for path in sorted(temp.rglob("*")):
            if path.is_file():
                name = path.relative_to(temp).as_posix()
                files[name] = {"sha256": file_sha256(path), "size": path.stat().st_size}
        manifest = _manifest(key=key, kind=kind, params=params, inputs=inputs, meta=writer.meta, files=files)
        _write_json_atomic(temp / MANIFEST, manifest)
        with artifact_lock(location) if lock else contextlib.nullcontext():
            _swap_into_place(temp, location)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _manifest(*, key: str, kind: str, params: dict[str, Any] | None, inputs: dict[str, Any] | None,
              meta: dict[str, Any] | None, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "kind": kind,
        "key": key,
        "params": params or {},
        "inputs": inputs or {},
        "meta": meta or {},
        "files": files,
        "versions": package_versions(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _swap_into_place(temp: Path, location: Path) -> None:
    """Rename ``temp`` to ``location``, moving an existing one aside first; the caller holds its lock."""
    old = None
    if os.path.lexists(location):
        old = location.parent / temporary_name(location.name, prefix=".old-")
        os.replace(location, old)
    try:
        os.replace(temp, location)
    except BaseException:
        if old is not None:
            os.replace(old, location)  # put the previous artifact back
        raise
    if old is not None:
        try:
            _remove(old)
        except OSError as exc:  # the new artifact is in place; the next clean_temporaries retries
            log.warning("cannot remove the replaced artifact %s (%s)", old, exc.strerror or exc)


def write_fileset(
    folder: str | Path,
    manifest_name: str,
    files: dict[str, Callable[[Path], None]],
    *,
    key: str,
    kind: str,
    meta: dict[str, Any] | None = None,
) -> Artifact:
    """Write ``folder/<name>`` for each entry of ``files``, then ``folder/<manifest_name>`` last.

    Each callable writes its file at the path it is given (a temporary name beside the
    final one), which is then renamed into place. The old manifest is removed before the
    first file is replaced, so a reader in between, or after a crash, finds no manifest
    (absent) rather than a mix of old and new files. Concurrent writers of one file set
    take turns under :func:`artifact_lock`. Returns the written set, as ``read_fileset`` would.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        if not name or "/" in name or "\\" in name or name in (".", "..", manifest_name) or is_temporary(name):
            raise ValueError(f"file set member {name!r} must be a plain file name other than the manifest's")
    manifest_path = folder / manifest_name
    with artifact_lock(manifest_path):
        manifest_path.unlink(missing_ok=True)
        entries = {}
        for name, write in files.items():
            with atomic_path(folder / name) as temp:
                write(temp)
                entries[name] = {"sha256": file_sha256(temp), "size": temp.stat().st_size}
        manifest = _manifest(key=key, kind=kind, params=None, inputs=None, meta=meta, files=entries)
        _write_json_atomic(manifest_path, manifest)
    return Artifact(folder, manifest)


class ArtifactLock(filelock.FileLock):
    """A ``filelock.FileLock`` that says, once, when it has to wait for another process."""

    def __enter__(self) -> Self:
        try:
            self.acquire(blocking=False)
        except filelock.Timeout:
            log.info("waiting for %s: another enso process is writing it", Path(self.lock_file).with_suffix(""))
            self.acquire()
        return self


def artifact_lock(location: str | Path) -> ArtifactLock:
    """An inter-process lock on ``<location>.lock`` beside the artifact (or file) ``location``.

    Use it as ``with artifact_lock(location): ...``. It is re-entrant within a process (one
    lock object per path), so a caller may hold it around check-then-build while
    ``write_artifact`` takes it again to swap the result into place. The lock file stays
    behind on release (removing it would let two processes hold two different inodes).
    """
    location = Path(location)
    location.parent.mkdir(parents=True, exist_ok=True)
    lock_path = location.parent / f"{location.name}.lock"
    return ArtifactLock(os.fspath(lock_path.absolute()), is_singleton=True)


def temporary_name(name: str, *, prefix: str = ".tmp-") -> str:
    """``.tmp-<name>-<pid>-<hex8>``: unique, and naming the process that writes it."""
    if prefix not in TEMP_PREFIXES:
        raise ValueError(f"temporary prefix must be one of {TEMP_PREFIXES}, got {prefix!r}")
    return f"{prefix}{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a store temporary (``.tmp-...`` or ``.old-...``); listings skip these."""
    return name.startswith(TEMP_PREFIXES)


def temporary_pid(name: str) -> int | None:
    """The writer's PID recorded in a temporary ``name``, or ``None`` if it records none."""
    match = _PID_NAME.match(name)
    return int(match.group(1)) if match else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (a zombie counts as alive)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process there
        try:
            import psutil
        except ImportError:
            return True  # cannot tell: keep the entry
        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OverflowError:
        return False
    return True


def clean_temporaries(folder: str | Path, *, recursive: bool = False) -> int:
    """Remove leftovers of killed writers in ``folder`` (and below it if ``recursive``).

    A ``.tmp-``/``.old-`` entry is removed when the process its name records is no longer
    alive, or, for a name without a PID, when it is older than an hour. Entries of live
    processes are work in progress and stay. Returns how many entries were removed.
    """
    folder = Path(folder)
    removed = 0
    pending = [folder]
    now = time.time()
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if is_temporary(entry.name):
                if _is_leftover(entry, now):
                    try:
                        _remove(Path(entry.path))
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        log.warning("cannot remove the leftover %s (%s); remove it by hand",
                                    entry.path, exc.strerror or exc)
                        continue
                    removed += 1
            elif recursive:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                except OSError:
                    continue
    if removed:
        log.info("removed %d temporary file(s) that killed runs left in %s", removed, folder)
    return removed


def _is_leftover(entry: os.DirEntry, now: float) -> bool:
    pid = temporary_pid(entry.name)
    if pid is not None:
        return not pid_alive(pid)
    try:
        return now - entry.stat(follow_symlinks=False).st_mtime > PIDLESS_TEMP_MAX_AGE_S
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    """Remove a file, a link (not what it points to) or a folder tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block ends.

    If the block raises, ``path`` is left as it was and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / temporary_name(path.name)
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
