"""Running one cell: fit a target on a training sample, score it on the test split.

This is what worker processes (local or on a Dask cluster) execute. A task carries row
positions, labels and a small description of the target's input (``enso.engine.inputs``:
a feature file and the task's layout, or the texts and a source model folder), never the
features themselves: each worker opens an input once (a feature file memory-mapped) and keeps
it, with the test rows already gathered, for every later cell on it. The loop below is the
same whatever the input: it asks the input's source for the rows of the training sample, the
test split and a given validation set. A cell's result is its predictions (test rows and
training sample; labels, and scores where the target gives them), from which the engine
computes every metric.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enso.engine.inputs import FEATURE_OPENER, TargetInput, open_input

_configured_threads: int | None = None


@dataclass
class CellTask:
    key: str
    input: TargetInput  # what the target is fitted on (a feature file, or texts and a model folder)
    train: np.ndarray  # dataset row positions of the training sample, as drawn
    test: np.ndarray  # dataset row positions of the test rows
    test_id: str  # identifies ``test`` (for the per-worker cache)
    y_train: np.ndarray
    y_test: np.ndarray
    target_name: str
    target_params: dict[str, Any]  # as fitted: the config's plus the engine's (scoring, resampler)
    target_seed: int
    resampler: str
    resample_seed: int
    metrics: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    config_params: dict[str, Any] | None = None  # the config's own target parameters (None: target_params)
    validation: np.ndarray | None = None  # dataset rows of a given validation set
    y_validation: np.ndarray | None = None
    sample: str = ""  # digest of ``train``
    torch_threads: int | None = None  # torch's threads for a cell that fine-tunes a model (None: as they are)


def configure_threads(threads: int | None) -> None:
    """Limit BLAS/OpenMP (and torch) threads in this process to ``threads`` (each time it changes)."""
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


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """torch's intra-op threads set to ``threads`` for the block (restored after); nothing when None."""
    if threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_cell(task: CellTask) -> dict[str, Any]:
    """``{"key", "info", "predictions", "rows"}`` on success, ``{"key", "error"}`` when the cell failed; both with
    ``pid``, the process that ran it.

    ``info`` and ``predictions`` are what the cell store keeps (cell.json, predictions.npz);
    ``rows`` are the results rows computed from exactly those predictions.
    """
    try:
        from enso.engine.assemble import metric_rows
        from enso.engine.cellstore import check_cell

        with torch_threads(task.torch_threads):  # a fine-tuning cell: the cores of its worker, in or out of process
            info, predictions = _run(task)
        check_cell(task.key, info, predictions)  # a target that breaks the cell format fails its cell, here
        return {"key": task.key, "info": info, "predictions": predictions,
                "rows": metric_rows(info, predictions, task.metrics), "pid": os.getpid()}
    except Exception as exc:  # noqa: BLE001 - one bad cell must not stop the sweep; the engine reports it
        return {"key": task.key, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                "pid": os.getpid()}


def encode(values, classes: np.ndarray) -> np.ndarray:
    """int32 codes of ``values`` into ``classes`` (-1 where a value is not a class)."""
    values = np.asarray(values).astype(str)
    if not len(values):
        return np.zeros(0, dtype=np.int32)
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    at = np.clip(np.searchsorted(ordered, values), 0, len(classes) - 1)
    return np.where(ordered[at] == values, order[at], -1).astype(np.int32)


def _score_matrix(scores, n: int, k: int, where: str):
    if scores is None:
        return None
    kind, values = scores
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:  # a binary decision function: the score of the second class
        values = np.column_stack([-values, values])
    if values.shape != (n, k):
        raise ValueError(f"the target's {kind} scores on the {where} rows have shape {values.shape}, "
                         f"not ({n}, {k}) for {k} classes")
    return kind, values.astype(np.float32)


def _labels(values):
    """Labels as the target takes them: a ``Ragged`` (one label per token) as is, else a numpy array."""
    from enso.tasks import Ragged

    return values if isinstance(values, Ragged) else np.asarray(values)


def _flat(values, offsets: np.ndarray | None, what: str) -> np.ndarray:
    """Per-row labels as a flat array: per-token ones (a ``Ragged`` or flat) checked against ``offsets``."""
    from enso.tasks import Ragged

    if isinstance(values, Ragged):
        if offsets is not None and not np.array_equal(values.offsets, offsets):
            raise ValueError(f"the target's {what} are not split into the sentences it was given")
        values = values.values
    values = np.asarray(values)
    if offsets is not None and values.shape[:1] != (int(offsets[-1]),):
        raise ValueError(f"the target gave {values.shape[0]} {what} for {int(offsets[-1])} tokens")
    return values


def _flat_scores(scores, offsets: np.ndarray | None):
    """``(kind, values)`` with per-token values flat (a target may give them as a ``Ragged``)."""
    from enso.tasks import Ragged

    if scores is None:
        return None
    kind, values = scores
    if isinstance(values, Ragged):
        values = values.values
    return kind, values


def _run(task: CellTask) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from enso.sampling import RESAMPLERS
    from enso.targets import make_target, with_seed
    from enso.tasks import Ragged

    configure_threads(task.threads)
    started = time.perf_counter()
    source = open_input(task.input)
    X_train = source.rows(task.train)
    X_test = source.rows(task.test, cache_id=task.test_id)
    # copies, or (sequence rows) FileRows read from the file when the target asks: no mapped page is needed now
    getattr(source, "release", lambda: None)()
    y_train, y_test = _labels(task.y_train), _labels(task.y_test)
    # sequence tasks: one label per token, flat, with each sentence's offsets (the cell format's <part>_offsets)
    per_token = isinstance(y_train, Ragged)
    offsets = {"train": y_train.offsets if per_token else None, "test": y_test.offsets if per_token else None}
    given = task.target_params if task.config_params is None else task.config_params
    target = with_seed(make_target(task.target_name, task.target_params), task.target_seed, given)
    fit_kwargs = source.fit_kwargs()
    if task.validation is not None:
        fit_kwargs["validation"] = (source.rows(task.validation), _labels(task.y_validation))

    fit_started = time.perf_counter()
    if task.resampler == "none" or "resampler" in task.target_params:
        target.fit(X_train, y_train, **fit_kwargs)  # a target that takes `resampler` resamples inside its folds
        fitted = len(y_train)
    elif per_token:
        raise ValueError(f"resampler {task.resampler!r} balances one label per row; this task labels tokens")
    else:
        fit_rows = RESAMPLERS.get(task.resampler).resample(y_train, np.random.default_rng(task.resample_seed))
        target.fit(X_train[fit_rows], y_train[fit_rows], **fit_kwargs)
        fitted = len(fit_rows)
    fit_seconds = time.perf_counter() - fit_started

    classes = np.asarray([str(c) for c in target.classes_])
    predict_started = time.perf_counter()
    test_pred = _flat(target.predict(X_test), offsets["test"], "test predictions")
    test_scores = _flat_scores(target.scores(X_test), offsets["test"])  # always: a later metric reads them
    predict_seconds = time.perf_counter() - predict_started
    train_pred = _flat(target.predict(X_train), offsets["train"], "training predictions")
    train_scores = _flat_scores(target.scores(X_train), offsets["train"])
    y_test_flat, y_train_flat = _flat(y_test, None, "labels"), _flat(y_train, None, "labels")

    predictions: dict[str, np.ndarray] = {"classes": classes}
    y_test_codes = encode(y_test_flat, classes)
    unseen = np.unique(y_test_flat.astype(str)[y_test_codes < 0])
    if len(unseen):
        y_test_codes[y_test_codes < 0] = -1 - np.searchsorted(unseen, y_test_flat.astype(str)[y_test_codes < 0])
    predictions["unseen_labels"] = unseen.astype(str) if len(unseen) else np.zeros(0, dtype="<U1")
    scored = {"test": _score_matrix(test_scores, len(y_test_flat), len(classes), "test"),
              "train": _score_matrix(train_scores, len(y_train_flat), len(classes), "training")}
    for part, rows, codes, predicted in (("test", task.test, y_test_codes, test_pred),
                                         ("train", task.train, encode(y_train_flat, classes), train_pred)):
        predicted_codes = encode(predicted, classes)
        if (predicted_codes < 0).any():
            raise ValueError(f"the target predicted a label outside its classes_ on the {part} rows")
        predictions[f"{part}_rows"] = np.asarray(rows, dtype=np.int64)
        predictions[f"y_{part}"] = codes
        predictions[f"{part}_pred"] = predicted_codes
        if offsets[part] is not None:
            predictions[f"{part}_offsets"] = np.asarray(offsets[part], dtype=np.int64)
        if scored[part] is not None:
            predictions[f"{part}_scores"] = scored[part][1]
    if scored["test"] is not None and scored["train"] is not None:
        predictions["score_kind"] = np.asarray(scored["test"][0])
    else:
        predictions.pop("test_scores", None)
        predictions.pop("train_scores", None)
    seconds = time.perf_counter() - started
    n_fit = getattr(target, "n_fit_", None)
    info = {
        "key": task.key, "format": 1, "meta": dict(task.meta),
        "chosen_params": _plain(getattr(target, "chosen_params_", {})),
        "timings": {"seconds": seconds, "fit_seconds": fit_seconds, "predict_seconds": predict_seconds},
        "n_train": int(n_fit) if n_fit is not None else int(fitted), "n_test": len(y_test),
        "classes": classes.tolist(), "sample": task.sample, "test": task.test_id,
    }
    return info, predictions


def _plain(value):
    """JSON-able copy of ``value`` (numpy scalars and arrays become Python numbers and lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


__all__ = ["FEATURE_OPENER", "CellTask", "configure_threads", "encode", "run_cell"]
