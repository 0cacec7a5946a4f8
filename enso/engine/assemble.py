"""From a cell's stored predictions to its rows of the results table, one per metric.

Every metric value comes from the predictions (``predictions.npz``), never from the fit, so a
metric added to a config is computed from the stored cells and fits nothing. Besides the value
on the test rows (``value``) and on the training sample (``train_value``), each row has:

- ``test_ci_low`` / ``test_ci_high``: a 95% percentile bootstrap interval over the test rows
  (1,000 replicates seeded from the cell key; NaN for metrics without a fast form, e.g. ROC AUC);
- ``majority_share``: the share of test predictions in the most frequently predicted class
  (1.0 for a model that always says the same thing);
- ``baseline_value``: the metric for always predicting the training sample's most frequent
  class (ties: the first in sorted order) on the same test rows; scores for it are the training
  sample's class shares (what a majority/prior classifier gives).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from enso.metrics import METRICS, bootstrap_interval
from enso.seeds import derive_seed

#: Bump when a change here changes a value computed from the same predictions (reuse key).
ASSEMBLY_VERSION = 1
#: Result columns that depend on the metric (the rest come from the cell).
METRIC_COLUMNS = ("value", "train_value", "test_ci_low", "test_ci_high", "baseline_value")


def labels_of(predictions: dict[str, np.ndarray], part: str) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels (strings) of ``part`` ("test" or "train")."""
    classes, unseen = predictions["classes"], predictions["unseen_labels"]
    codes = predictions[f"y_{part}"].astype(np.int64)
    known = classes[np.maximum(codes, 0)]
    y_true = np.where(codes >= 0, known, unseen[np.maximum(-1 - codes, 0)] if len(unseen) else known)
    return y_true, classes[predictions[f"{part}_pred"]]


def scores_of(predictions: dict[str, np.ndarray], part: str):
    if f"{part}_scores" not in predictions:
        return None
    return str(predictions["score_kind"]), predictions[f"{part}_scores"].astype(np.float64)


def majority_share(predictions: dict[str, np.ndarray]) -> float:
    predicted = predictions["test_pred"]
    return float(np.bincount(predicted).max() / len(predicted)) if len(predicted) else float("nan")


def _baseline(predictions: dict[str, np.ndarray]) -> tuple[str, tuple[str, np.ndarray]]:
    classes = predictions["classes"]
    counts = np.bincount(predictions["y_train"], minlength=len(classes))
    top = classes[counts == counts.max()]
    majority = sorted(top.tolist())[0]
    shares = counts / counts.sum()
    return majority, ("proba", np.tile(shares, (len(predictions["test_rows"]), 1)))


def metric_rows(info: dict[str, Any], predictions: dict[str, np.ndarray], metrics: list[str],
                reuse: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The results rows of one cell: ``info`` is its cell.json, ``reuse`` metric -> values already known."""
    reuse = reuse or {}
    key = info["key"]
    classes = predictions["classes"]
    base = {**info["meta"], "chosen_params": info["chosen_params"], **info["timings"], "n_train": info["n_train"],
            "n_test": info["n_test"], "cell": key, "majority_share": majority_share(predictions)}
    computed: dict[str, Any] = {}

    def parts():
        if not computed:
            computed["test"] = labels_of(predictions, "test")
            computed["train"] = labels_of(predictions, "train")
            computed["test_scores"] = scores_of(predictions, "test")
            computed["train_scores"] = scores_of(predictions, "train")
            computed["baseline"] = _baseline(predictions)
        return computed

    rows = []
    for name in metrics:
        metric = METRICS.get(name)
        known = reuse.get(metric.name)
        if known is None:
            p = parts()
            (y_test, test_pred), (y_train, train_pred) = p["test"], p["train"]
            majority, prior = p["baseline"]
            low, high = bootstrap_interval(metric, y_test, test_pred, classes, p["test_scores"],
                                           seed=derive_seed("bootstrap", key, metric.name))
            known = {
                "value": metric(y_test, test_pred, classes, p["test_scores"]),
                "train_value": metric(y_train, train_pred, classes, p["train_scores"]),
                "test_ci_low": low, "test_ci_high": high,
                "baseline_value": metric(y_test, np.full(len(y_test), majority), classes, prior),
            }
        rows.append({**base, "metric": metric.name, **{column: known[column] for column in METRIC_COLUMNS}})
    return rows
