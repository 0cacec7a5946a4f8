"""sha256 of model files, computed once per process per file version."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from enso.hashing import file_sha256

_CACHE: dict[tuple[str, int, int], str] = {}


def cached_sha256(path: str | Path) -> str:
    """A file's sha256, remembered while its size and modification time stay the same."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = file_sha256(path)
    return _CACHE[key]


def files_sha256(root: str | Path, paths: Iterable[str | Path]) -> dict[str, str]:
    """``{path relative to root: sha256}``: the identity of a model folder's content, not its place."""
    root = Path(root)
    return {Path(p).relative_to(root).as_posix(): cached_sha256(p) for p in paths}
