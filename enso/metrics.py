"""Metrics of a fitted target on a labelled sample: ``METRICS`` by name.

A metric reads true labels, predicted labels and, for ranking metrics, class scores
(probabilities or decision values, columns in the order of the target's classes). When a
metric cannot be computed for a target (log loss without probabilities, AUC with one class
in the sample) it is NaN, never a made-up number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from enso.registry import Registry


@dataclass(frozen=True)
class Metric:
    name: str
    needs: str  # "labels", "scores" (probabilities or decisions) or "proba"
    greater_is_better: bool
    description: str
    compute: Callable[..., float]

    def __call__(self, y_true, y_pred, classes=None, scores=None) -> float:
        """``scores`` is ``None`` or ``(kind, array)`` with kind ``"proba"`` or ``"decision"``."""
        y_true = np.asarray(y_true)
        if self.needs == "labels":
            return float(self.compute(y_true, np.asarray(y_pred)))
        if scores is None or (self.needs == "proba" and scores[0] != "proba"):
            return float("nan")
        return float(self.compute(y_true, np.asarray(classes), scores[1], scores[0]))


def _accuracy(y_true, y_pred):
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def _macro_f1(y_true, y_pred):
    from sklearn.metrics import f1_score

    labels = np.union1d(y_true, y_pred)
    return f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)


def _mcc(y_true, y_pred):
    from sklearn.metrics import matthews_corrcoef

    return matthews_corrcoef(y_true, y_pred)


def _as_matrix(values: np.ndarray, n_classes: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:  # binary decision function: the score of the second class
        values = np.column_stack([-values, values])
    if values.shape[1] != n_classes:
        raise ValueError(f"scores have {values.shape[1]} columns for {n_classes} classes")
    return values


def _roc_auc(y_true, classes, values, kind):
    """Macro one-vs-rest ROC AUC over the classes present in ``y_true`` (and known to the target)."""
    from sklearn.metrics import roc_auc_score

    values = _as_matrix(values, len(classes))
    present = [i for i, c in enumerate(classes) if np.any(y_true == c)]
    if len(present) < 2:
        return float("nan")
    if len(classes) == 2:
        return roc_auc_score(y_true == classes[1], values[:, 1] - values[:, 0] if kind == "decision" else values[:, 1])
    aucs = []
    for i in present:
        positive = y_true == classes[i]
        if positive.all():
            continue
        aucs.append(roc_auc_score(positive, values[:, i]))
    return float(np.mean(aucs)) if aucs else float("nan")


def _log_loss(y_true, classes, values, kind):
    """Cross-entropy of the predicted probabilities; a test label the target never saw counts as p=eps."""
    values = _as_matrix(values, len(classes))
    eps = np.finfo(np.float64).eps
    probabilities = np.clip(values, eps, 1.0)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    index = {c: i for i, c in enumerate(classes)}
    columns = np.array([index.get(label, -1) for label in y_true])
    picked = np.where(columns >= 0, probabilities[np.arange(len(y_true)), np.maximum(columns, 0)], eps)
    return float(-np.mean(np.log(picked)))


METRICS: Registry[Metric] = Registry("metric", "enso.metrics")
for _metric, _aliases in (
    (Metric("accuracy", "labels", True, "share of correct predictions", _accuracy), ("acc",)),
    (Metric("macro_f1", "labels", True, "F1 averaged over classes, each class weighted equally", _macro_f1),
     ("f1", "macro-f1")),
    (Metric("roc_auc", "scores", True, "macro one-vs-rest ROC AUC from probabilities or decision scores",
            _roc_auc), ("auc", "macro_roc_auc", "roc-auc")),
    (Metric("log_loss", "proba", False, "cross-entropy of predicted probabilities (NaN without them)",
            _log_loss), ("logloss", "cross_entropy")),
    (Metric("mcc", "labels", True, "Matthews correlation coefficient (multiclass)", _mcc),
     ("matthews",)),
):
    METRICS.register(_metric.name, _metric, aliases=_aliases)


def needs_scores(names: list[str]) -> bool:
    return any(METRICS.get(name).needs != "labels" for name in names)


__all__ = ["METRICS", "Metric", "needs_scores"]
