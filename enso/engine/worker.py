"""Running one cell: fit a target on a training sample, score it on the test split.

This is what worker processes (local or on a Dask cluster) execute. A task carries row
positions and labels, not features: each worker opens a feature file once (memory-mapped)
and keeps it, with the test rows already gathered, for every later cell on it.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: How workers open a feature file; tests point it at their own reader.
FEATURE_OPENER = "enso.features:open_feature_file"
_CACHE_ENTRIES = 4

_lock = threading.Lock()
_features: OrderedDict[str, Any] = OrderedDict()
_test_rows: OrderedDict[tuple[str, str], Any] = OrderedDict()
_configured_threads: int | None = None


@dataclass
class CellTask:
    key: str
    feature_path: str
    train: np.ndarray  # dataset row positions of the training sample, as drawn
    test: np.ndarray  # dataset row positions of the test rows
    test_id: str  # identifies ``test`` (for the per-worker cache)
    y_train: np.ndarray
    y_test: np.ndarray
    target_name: str
    target_params: dict[str, Any]
    target_seed: int
    resampler: str
    resample_seed: int
    metrics: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    opener: str = FEATURE_OPENER
    threads: int | None = None


def configure_threads(threads: int | None) -> None:
    """Limit BLAS/OpenMP (and torch) threads in this process, once."""
    global _configured_threads
    if threads is None or threads == _configured_threads:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    _configured_threads = threads


def _resolve(path: str):
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def prime(path: str, X) -> None:
    """Give this process's cache an already-open feature matrix (the in-process runner)."""
    with _lock:
        _features[path] = X
        _features.move_to_end(path)


def _open(path: str, opener: str):
    with _lock:
        if path in _features:
            _features.move_to_end(path)
            return _features[path]
    X = _resolve(opener)(path)
    with _lock:
        _features[path] = X
        while len(_features) > _CACHE_ENTRIES:
            _features.popitem(last=False)
    return X


def _rows(X, positions: np.ndarray):
    part = X[positions]
    return np.ascontiguousarray(part) if isinstance(part, np.ndarray) else part


def _test_matrix(path: str, X, test: np.ndarray, test_id: str):
    key = (path, test_id)
    with _lock:
        if key in _test_rows:
            _test_rows.move_to_end(key)
            return _test_rows[key]
    part = _rows(X, test)
    with _lock:
        _test_rows[key] = part
        while len(_test_rows) > _CACHE_ENTRIES:
            _test_rows.popitem(last=False)
    return part


def run_cell(task: CellTask) -> dict[str, Any]:
    """``{"key", "rows"}`` on success, ``{"key", "error"}`` when the cell failed."""
    try:
        return {"key": task.key, "rows": _run(task)}
    except Exception as exc:  # noqa: BLE001 - one bad cell must not stop the sweep; the engine reports it
        return {"key": task.key, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def _run(task: CellTask) -> list[dict[str, Any]]:
    from enso.engine.sampling import RESAMPLERS
    from enso.metrics import METRICS
    from enso.targets import make_target, with_seed

    configure_threads(task.threads)
    started = time.perf_counter()
    X = _open(task.feature_path, task.opener)
    X_train = _rows(X, task.train)
    X_test = _test_matrix(task.feature_path, X, task.test, task.test_id)
    y_train, y_test = np.asarray(task.y_train), np.asarray(task.y_test)
    fit_rows = RESAMPLERS.get(task.resampler).resample(y_train, np.random.default_rng(task.resample_seed))
    target = with_seed(make_target(task.target_name, task.target_params), task.target_seed, task.target_params)

    fit_started = time.perf_counter()
    if task.resampler == "none":
        target.fit(X_train, y_train)
    else:
        target.fit(X_train[fit_rows], y_train[fit_rows])
    fit_seconds = time.perf_counter() - fit_started

    metrics = [METRICS.get(name) for name in task.metrics]
    want_scores = any(m.needs != "labels" for m in metrics)
    predict_started = time.perf_counter()
    y_pred = target.predict(X_test)
    test_scores = target.scores(X_test) if want_scores else None
    predict_seconds = time.perf_counter() - predict_started
    train_pred = target.predict(X_train)
    train_scores = target.scores(X_train) if want_scores else None
    classes = np.asarray(target.classes_)
    seconds = time.perf_counter() - started

    chosen = getattr(target, "chosen_params_", {})
    rows = []
    for metric in metrics:
        rows.append({
            **task.meta,
            "chosen_params": chosen,
            "metric": metric.name,
            "value": metric(y_test, y_pred, classes, test_scores),
            "train_value": metric(y_train, train_pred, classes, train_scores),
            "seconds": seconds,
            "fit_seconds": fit_seconds,
            "predict_seconds": predict_seconds,
            "n_train": len(fit_rows),
            "n_test": len(y_test),
        })
    return rows
