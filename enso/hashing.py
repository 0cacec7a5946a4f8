"""Stable hashes of parameters and files: the identities of artifacts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal values hash equally."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot hash a value of type {type(obj).__name__}")


def stable_hash(obj: Any, length: int = 64) -> str:
    """sha256 of the canonical JSON of ``obj``, truncated to ``length`` hex digits."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(folder: str | Path, pattern: str = "**/*") -> str:
    """One hash over every file below ``folder`` (relative paths and contents)."""
    folder = Path(folder)
    entries = {
        str(path.relative_to(folder)): file_sha256(path)
        for path in sorted(folder.glob(pattern))
        if path.is_file()
    }
    return stable_hash(entries)
