"""Finished cells on disk: one store artifact per cell, holding its predictions.

``results/<experiment>/cells/<key[:2]>/<key>/`` is written with ``store.write_artifact``
(temporary folder, manifest with sha256 last, rename), so a run killed at any moment, even by
SIGKILL, leaves only whole cells behind; a resumed run computes the missing ones. Cells are
written only under the experiment's lock (``enso.engine.lock``), which covers all of them, so
no ``<key>.lock`` file sits beside each cell. It holds:

- ``cell.json``: ``key``, ``format``, ``meta`` (the cell's identity columns), ``chosen_params``,
  ``timings`` (``seconds``, ``fit_seconds``, ``predict_seconds``), ``n_train`` (rows of the final
  fit), ``n_test``, ``classes``, ``sample`` (digest of the training rows) and ``test`` (digest
  of the test rows).
- ``predictions.npz`` (no pickle; see ``PREDICTION_FIELDS``): ``classes`` (``<U``), and for the
  test rows and the training sample each ``<part>_rows`` (int64 dataset rows), ``y_<part>``
  (int32 codes into ``classes``; for a test label the target never saw, ``-1 - j`` where
  ``unseen_labels[j]`` is that label), ``<part>_pred`` (int32 codes) and, where the target gives
  scores, ``<part>_scores`` (float32, one column per class) with ``score_kind``
  (``"proba"``/``"decision"``).

Sequence tasks (a later phase) keep the layout: per-token arrays are flat, with
``<part>_offsets`` (int64, one more than the number of sentences) saying where each
sentence's tokens start; the schema check already measures per-token arrays by the offsets.

A cell is read back verified (the manifest's sha256) and schema-checked (keys, dtypes,
shapes, codes in range, ``cell.json`` fields and types); anything wrong is a warning and the
cell counts as missing, so it is recomputed.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enso import store

log = logging.getLogger(__name__)

CELLS = "cells"
CELL_FILE = "cell.json"
PREDICTIONS_FILE = "predictions.npz"
FORMAT = 1
PARTS = ("test", "train")
#: field -> (dtype kind(s), per: "rows", "classes" or None for a scalar / free length)
PREDICTION_FIELDS = {
    "classes": ("U", None), "unseen_labels": ("U", None), "score_kind": ("U", None),
    **{f"{part}_rows": ("i8", "rows") for part in PARTS},
    **{f"y_{part}": ("i4", "items") for part in PARTS},
    **{f"{part}_pred": ("i4", "items") for part in PARTS},
    **{f"{part}_scores": ("f4", "items") for part in PARTS},
    **{f"{part}_offsets": ("i8", None) for part in PARTS},
}
_REQUIRED = ("classes", "unseen_labels", *(f"{name}_{part}" if name == "y" else f"{part}_{name}"
                                           for part in PARTS for name in ("rows", "y", "pred")))
META_FIELDS = {
    "experiment": str, "protocol": str, "dataset": str, "featurizer": str, "featurizer_id": str, "target": str,
    "target_params": str, "sampler": str, "resampler": str, "train_size": int, "resample": int,
    "n_classes": int, "seed": int,
}
TIMINGS = ("seconds", "fit_seconds", "predict_seconds")


class CellProblem(ValueError):
    """What makes a stored cell unusable."""


@dataclass
class StoredCell:
    """A verified, schema-checked cell: ``info`` (cell.json) and its ``predictions`` arrays."""

    key: str
    path: Path
    info: dict[str, Any]
    predictions: dict[str, np.ndarray]


class CellStore:
    def __init__(self, results_dir: Path):
        self.root = Path(results_dir) / CELLS

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def exists(self, key: str) -> bool:
        return (self.path(key) / store.MANIFEST).is_file()

    def stored_keys(self) -> set[str]:
        """Keys of the cell folders that have a manifest (unverified; ``read`` verifies)."""
        keys = set()
        if not self.root.is_dir():
            return keys
        for shard in os.scandir(self.root):
            if shard.is_dir() and not store.is_temporary(shard.name):
                for entry in os.scandir(shard.path):
                    if not store.is_temporary(entry.name) and os.path.isfile(
                            os.path.join(entry.path, store.MANIFEST)):
                        keys.add(entry.name)
        return keys

    def read(self, key: str) -> StoredCell | None:
        """The cell of ``key`` if it is stored whole and well-formed; else None (with a warning if damaged)."""
        location = self.path(key)
        if not location.exists():
            return None
        artifact = store.read_artifact(location, key)
        if artifact is None:
            return None  # read_artifact warned
        try:
            if set(artifact.manifest["files"]) != {CELL_FILE, PREDICTIONS_FILE}:
                raise CellProblem(f"holds {sorted(artifact.manifest['files'])}, not {CELL_FILE} and "
                                  f"{PREDICTIONS_FILE}")
            info = json.loads((location / CELL_FILE).read_text(encoding="utf-8"))
            with np.load(location / PREDICTIONS_FILE, allow_pickle=False) as archive:
                predictions = {name: archive[name] for name in archive.files}
            check_cell(key, info, predictions)
        except (OSError, ValueError) as exc:  # CellProblem, JSON and npz errors are ValueErrors
            log.warning("cell %s does not hold a valid cell (%s); recomputing it", location, exc)
            return None
        return StoredCell(key, location, info, predictions)

    def write(self, key: str, info: dict[str, Any], predictions: dict[str, np.ndarray]) -> None:
        """Store a cell; the caller holds the experiment lock, which covers every cell (no lock file per cell)."""
        check_cell(key, info, predictions)  # never store what a read would refuse
        with store.write_artifact(self.path(key), key=key, kind="cell", lock=False) as writer:
            (writer.path / CELL_FILE).write_text(json.dumps(info, sort_keys=True, allow_nan=False) + "\n",
                                                 encoding="utf-8")
            np.savez(writer.path / PREDICTIONS_FILE, **predictions)
            writer.meta.update({"dataset": info["meta"]["dataset"], "featurizer": info["meta"]["featurizer"],
                                "target": info["meta"]["target"], "format": FORMAT})

    def clean_temporaries(self) -> int:
        """Remove what killed runs left behind (never a finished cell), and the per-cell lock files of old runs.

        Call it under the experiment lock: cells are written only under it, so a ``<key>.lock``
        left by an engine that locked each cell guards nothing.
        """
        if not self.root.is_dir():
            return 0
        removed = store.clean_temporaries(self.root, recursive=True)
        for shard in os.scandir(self.root):
            if shard.is_dir() and not store.is_temporary(shard.name):
                for entry in os.scandir(shard.path):
                    if entry.name.endswith(".lock") and entry.is_file(follow_symlinks=False):
                        os.unlink(entry.path)
                        removed += 1
        return removed


def check_cell(key: str, info: Any, predictions: dict[str, np.ndarray]) -> None:
    """Raise ``CellProblem`` naming the first thing wrong with a cell's ``info`` and ``predictions``."""
    if not isinstance(info, dict):
        raise CellProblem(f"{CELL_FILE} is a JSON {type(info).__name__}, not an object")
    if info.get("key") != key:
        raise CellProblem(f"{CELL_FILE} names key {str(info.get('key'))[:16]!r}")
    if info.get("format") != FORMAT:
        raise CellProblem(f"{CELL_FILE} has format {info.get('format')!r}, not {FORMAT}")
    meta = info.get("meta")
    if not isinstance(meta, dict):
        raise CellProblem("'meta' is missing or not an object")
    for name, kind in META_FIELDS.items():
        value = meta.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CellProblem(f"meta.{name} is {value!r}, not a {kind.__name__}")
    if not isinstance(info.get("chosen_params"), dict):
        raise CellProblem("'chosen_params' is missing or not an object")
    timings = info.get("timings")
    if not isinstance(timings, dict):
        raise CellProblem("'timings' is missing or not an object")
    for name in TIMINGS:
        value = timings.get(name)
        if not _number(value) or not math.isfinite(value) or value < 0:
            raise CellProblem(f"timings.{name} is {value!r}, not a non-negative number")
    for name, minimum in (("n_train", 1), ("n_test", 1)):
        value = info.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise CellProblem(f"{name} is {value!r}, not an integer >= {minimum}")
    for name in ("sample", "test"):
        if not isinstance(info.get(name), str):
            raise CellProblem(f"{name!r} is missing or not a string")
    _check_predictions(predictions, info)


def _check_predictions(predictions: dict[str, np.ndarray], info: dict[str, Any]) -> None:
    unknown = sorted(set(predictions) - set(PREDICTION_FIELDS))
    missing = [name for name in _REQUIRED if name not in predictions]
    if unknown or missing:
        raise CellProblem(f"{PREDICTIONS_FILE} lacks {missing}" if missing else
                          f"{PREDICTIONS_FILE} has unknown arrays {unknown}")
    for name, array in predictions.items():
        kind = PREDICTION_FIELDS[name][0]
        if not isinstance(array, np.ndarray):
            raise CellProblem(f"{name} is a {type(array).__name__}, not an array")
        found = array.dtype.kind if kind == "U" else f"{array.dtype.kind}{array.dtype.itemsize}"
        if found != kind:
            raise CellProblem(f"{name} is {array.dtype}, not {_dtype_name(kind)}")
    classes, unseen = predictions["classes"], predictions["unseen_labels"]
    if classes.ndim != 1 or not len(classes) or len(np.unique(classes)) != len(classes):
        raise CellProblem("classes is not a non-empty list of distinct labels")
    if classes.tolist() != info.get("classes"):
        raise CellProblem(f"{CELL_FILE} and {PREDICTIONS_FILE} list other classes")
    if unseen.ndim != 1 or np.isin(unseen, classes).any():
        raise CellProblem("unseen_labels is not a list of labels outside classes")
    k = len(classes)
    if "score_kind" in predictions:
        if predictions["score_kind"].ndim != 0 or str(predictions["score_kind"]) not in ("proba", "decision"):
            raise CellProblem(f"score_kind is {predictions['score_kind']!r}, not 'proba' or 'decision'")
    for part in PARTS:
        rows = predictions[f"{part}_rows"]
        if rows.ndim != 1 or (rows < 0).any():
            raise CellProblem(f"{part}_rows is not a list of dataset rows")
        items = len(rows)
        offsets = predictions.get(f"{part}_offsets")
        if offsets is not None:
            if offsets.shape != (len(rows) + 1,) or offsets[0] != 0 or (np.diff(offsets) < 0).any():
                raise CellProblem(f"{part}_offsets do not split the {part} rows")
            items = int(offsets[-1])
        low = -len(unseen) if part == "test" else 0
        for name in (f"y_{part}", f"{part}_pred"):
            codes = predictions[name]
            lowest = low if name.startswith("y_") else 0
            if codes.shape != (items,):
                raise CellProblem(f"{name} has shape {codes.shape}, not ({items},)")
            if items and (codes.min() < lowest or codes.max() >= k):
                raise CellProblem(f"{name} holds codes outside [{lowest}, {k})")
        scores = predictions.get(f"{part}_scores")
        if scores is not None:
            if "score_kind" not in predictions:
                raise CellProblem(f"{part}_scores without score_kind")
            if scores.shape != (items, k):
                raise CellProblem(f"{part}_scores has shape {scores.shape}, not ({items}, {k})")
        elif "score_kind" in predictions:
            raise CellProblem(f"score_kind without {part}_scores")
    if len(predictions["test_rows"]) != info["n_test"]:
        raise CellProblem(f"n_test is {info['n_test']} for {len(predictions['test_rows'])} test rows")
    if not len(predictions["train_rows"]):
        raise CellProblem("the training sample is empty")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _dtype_name(kind: str) -> str:
    return {"U": "a string array", "i8": "int64", "i4": "int32", "f4": "float32"}[kind]
