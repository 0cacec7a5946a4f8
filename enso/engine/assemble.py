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

Label metrics (accuracy, macro-F1, MCC) are computed from confusion matrices of the stored
label codes through ``Metric.from_confusion`` (tested equal to the metric's own definition to
1e-12); other metrics from the labels and scores.

Sequence tasks store one label per token, flat, with ``<part>_offsets`` (sentence boundaries):
label metrics (token accuracy) read the flat arrays as they are; a metric with
``needs = "spans"`` is called with ``offsets=`` the part's offsets (the baseline: every token
the training sample's most frequent tag). A metric may also give values per type (span F1 per
entity type): a ``per_type`` attribute, called like the metric, returning ``{type: value}``;
each type becomes one more row, with metric ``"<name>:<type>"`` (``PER_TYPE_SEPARATOR``), beside
the metric's own row (no interval: NaN). The report keeps those rows out of curves, ranks and
tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from enso.metrics import METRICS, bootstrap_confusion, bootstrap_interval, confusion
from enso.seeds import derive_seed

#: Bump when a change here changes a value computed from the same predictions (reuse key).
ASSEMBLY_VERSION = 1
#: Result columns that depend on the metric (the rest come from the cell).
METRIC_COLUMNS = ("value", "train_value", "test_ci_low", "test_ci_high", "baseline_value")
#: Between a metric's name and a type in the rows of per-type values: ``span_f1:PER``.
PER_TYPE_SEPARATOR = ":"


def per_type_metric(name: str) -> bool:
    """Whether a results row's ``metric`` is one type of a per-type metric (``span_f1:PER``)."""
    return PER_TYPE_SEPARATOR in name


def label_codes(predictions: dict[str, np.ndarray], part: str) -> tuple[np.ndarray, np.ndarray, int]:
    """True and predicted labels of ``part`` as codes into ``classes`` + ``unseen_labels``, and their number."""
    k = len(predictions["classes"])
    codes = predictions[f"y_{part}"].astype(np.int64)
    return np.where(codes >= 0, codes, k - 1 - codes), predictions[f"{part}_pred"].astype(np.int64), \
        k + len(predictions["unseen_labels"])


def labels_of(predictions: dict[str, np.ndarray], part: str) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels (strings) of ``part`` ("test" or "train")."""
    true, pred, _ = label_codes(predictions, part)
    labels = np.concatenate([predictions["classes"], predictions["unseen_labels"]])
    return labels[true], labels[pred]


def scores_of(predictions: dict[str, np.ndarray], part: str):
    if f"{part}_scores" not in predictions:
        return None
    return str(predictions["score_kind"]), predictions[f"{part}_scores"].astype(np.float64)


def majority_share(predictions: dict[str, np.ndarray]) -> float:
    predicted = predictions["test_pred"]
    return float(np.bincount(predicted).max() / len(predicted)) if len(predicted) else float("nan")


def majority_class(predictions: dict[str, np.ndarray]) -> int:
    """Code of the training sample's most frequent class (ties: the first label in sorted order)."""
    classes = predictions["classes"]
    counts = np.bincount(predictions["y_train"], minlength=len(classes))
    top = np.flatnonzero(counts == counts.max())
    return int(top[np.argmin(classes[top])])


class _Views:
    """What the metrics of one cell read, each built once and only when a metric needs it."""

    def __init__(self, predictions: dict[str, np.ndarray]):
        self.p = predictions
        self._cache: dict[str, object] = {}

    def get(self, name: str, make):
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    def confusions(self):
        def make():
            test_true, test_pred, size = label_codes(self.p, "test")
            train_true, train_pred, _ = label_codes(self.p, "train")
            majority = np.full(len(test_true), majority_class(self.p))
            return (confusion(test_true, test_pred, size)[None], confusion(train_true, train_pred, size)[None],
                    confusion(test_true, majority, size)[None])
        return self.get("confusions", make)

    def labels(self):
        def make():
            classes = self.p["classes"]
            counts = np.bincount(self.p["y_train"], minlength=len(classes))
            prior = ("proba", np.tile(counts / counts.sum(), (len(self.p["y_test"]), 1)))  # one per row or token
            majority = classes[majority_class(self.p)]
            y_test, test_pred = labels_of(self.p, "test")
            return (y_test, test_pred, labels_of(self.p, "train"), scores_of(self.p, "test"),
                    scores_of(self.p, "train"), np.full(len(y_test), majority), prior)
        return self.get("labels", make)


def metric_values(metric, views: _Views, key: str) -> dict[str, float]:
    """One metric's values for a cell: on the test rows (with its interval), the training sample, the baseline."""
    seed = derive_seed("bootstrap", key, metric.name)
    if metric.from_confusion is not None:  # label metrics: from confusion matrices (equal to the metric, faster)
        test, train, baseline = views.confusions()
        low, high = bootstrap_confusion(metric, test[0], seed=seed)
        return {"value": float(metric.from_confusion(test)[0]), "train_value": float(metric.from_confusion(train)[0]),
                "test_ci_low": low, "test_ci_high": high, "baseline_value": float(metric.from_confusion(baseline)[0])}
    y_test, test_pred, (y_train, train_pred), test_scores, train_scores, majority, prior = views.labels()
    classes = views.p["classes"]
    test_offsets, train_offsets = views.p.get("test_offsets"), views.p.get("train_offsets")
    if metric.needs == "spans":  # scored per sentence: no bootstrap over tokens
        low, high = float("nan"), float("nan")
    else:
        low, high = bootstrap_interval(metric, y_test, test_pred, classes, test_scores, seed=seed)
    return {"value": metric(y_test, test_pred, classes, test_scores, offsets=test_offsets),
            "train_value": metric(y_train, train_pred, classes, train_scores, offsets=train_offsets),
            "test_ci_low": low, "test_ci_high": high,
            "baseline_value": metric(y_test, majority, classes, prior, offsets=test_offsets)}


def per_type_values(metric, views: _Views) -> dict[str, dict[str, float]]:
    """``{type: values}`` of a metric with ``per_type`` (test, training sample, baseline; no interval)."""
    per_type = getattr(metric, "per_type", None)
    if not callable(per_type):
        return {}
    y_test, test_pred, (y_train, train_pred), test_scores, train_scores, majority, prior = views.labels()
    classes = views.p["classes"]
    test_offsets, train_offsets = views.p.get("test_offsets"), views.p.get("train_offsets")
    test = dict(per_type(y_test, test_pred, classes, test_scores, offsets=test_offsets))
    train = dict(per_type(y_train, train_pred, classes, train_scores, offsets=train_offsets))
    baseline = dict(per_type(y_test, majority, classes, prior, offsets=test_offsets))
    nan = float("nan")
    return {str(kind): {"value": float(test.get(kind, nan)), "train_value": float(train.get(kind, nan)),
                        "test_ci_low": nan, "test_ci_high": nan, "baseline_value": float(baseline.get(kind, nan))}
            for kind in sorted(set(test) | set(train), key=str)}


def metric_rows(info: dict[str, Any], predictions: dict[str, np.ndarray], metrics: list[str],
                reuse: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The results rows of one cell: ``info`` is its cell.json, ``reuse`` metric -> values already known."""
    reuse = reuse or {}
    base = {**info["meta"], "chosen_params": info["chosen_params"], **info["timings"], "n_train": info["n_train"],
            "n_test": info["n_test"], "cell": info["key"], "majority_share": majority_share(predictions)}
    views = _Views(predictions)
    rows = []
    for name in metrics:
        metric = METRICS.get(name)
        known = reuse.get(metric.name) or metric_values(metric, views, info["key"])
        rows.append({**base, "metric": metric.name, **{column: known[column] for column in METRIC_COLUMNS}})
        for kind, values in per_type_values(metric, views).items():
            rows.append({**base, "metric": f"{metric.name}{PER_TYPE_SEPARATOR}{kind}", **values})
    return rows
