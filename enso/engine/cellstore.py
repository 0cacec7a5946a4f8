"""Finished cells on disk: one JSON file per cell, named by its key, written atomically.

A cell file appears complete or not at all (temporary file, fsync, rename), so a run killed
at any moment, even by SIGKILL, leaves only whole cells behind; a resumed run computes the
missing ones. A file that does not parse or names another key reads as missing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from enso.store import write_json_atomic

log = logging.getLogger(__name__)

CELLS = "cells"


class CellStore:
    def __init__(self, results_dir: Path):
        self.root = Path(results_dir) / CELLS

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def read(self, key: str) -> list[dict[str, Any]] | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if stored.get("key") != key or not isinstance(stored.get("rows"), list):
                raise ValueError("wrong key or no rows")
            return stored["rows"]
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("cell file %s is unreadable (%s); recomputing that cell", path, exc)
            return None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def write(self, key: str, rows: list[dict[str, Any]], **extra: Any) -> None:
        """``extra`` is kept beside the rows for inspection (e.g. the sample's digest)."""
        write_json_atomic(self.path(key), {"key": key, **extra, "rows": [_plain(row) for row in rows]})

    def read_extra(self, key: str) -> dict[str, Any]:
        try:
            stored = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in stored.items() if k not in ("key", "rows")}

    def clean_temporaries(self) -> None:
        """Remove temporary files a killed run left behind (never a finished cell)."""
        if self.root.is_dir():
            for temp in self.root.glob("*/.tmp-*"):
                temp.unlink(missing_ok=True)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            value = None  # JSON has no NaN; read back as NaN by the results table
        out[key] = value
    return out
