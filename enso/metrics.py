"""Metrics of a fitted target on a labelled sample: ``METRICS`` by name.

A metric reads true labels, predicted labels and, for ranking metrics, class scores
(probabilities or decision values, columns in the order of the target's classes); it is called
``metric(y_true, y_pred, classes=None, scores=None, offsets=None)``, where ``offsets`` are the
sentence boundaries of a sequence task's per-token labels (unused by the metrics here, which
score one label per row). ``Metric.tasks`` names the task types a metric applies to. When a
metric cannot be computed for a target (log loss without probabilities, AUC with one class
in the sample) it is NaN, never a made-up number.

``f1`` is the F1 of the positive class of a binary task (MRPC reports accuracy and F1 as
published). The positive class is the second of the sorted classes: the target's ``classes`` when
the caller passes them (sorted, as scikit-learn sorts ``classes_``), else the sorted labels that
occur in ``y_true`` and ``y_pred``; in a confusion matrix of codes into sorted classes, code 1.
So a binary dataset names its labels so that the positive one sorts second (MRPC: ``"0"``/``"1"``,
``"1"`` = paraphrase; ``negative``/``positive``). With more than two classes it is NaN: the
positive class is not defined there (``Metric.max_classes`` says so for a check that reads a
dataset's classes; use ``macro_f1``). With no positive label in ``y_true`` nor ``y_pred`` it is NaN
(0/0), never a made-up 0.

For the test-set sampling interval (a bootstrap over test rows), a metric may also say how to
compute itself fast on many resamples at once: ``from_confusion`` maps a stack of confusion
matrices (``(B, L, L)``, true labels on rows) to ``B`` values (label metrics), and
``per_row`` gives each row's contribution to a mean (log loss). ``bootstrap_interval`` uses
them; a metric with neither gets no interval (NaN).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from enso.registry import Registry

#: The task types whose predictions are one label per row (a text, or a pair of texts).
ROW_TASKS = ("classification", "pair-classification")


@dataclass(frozen=True)
class Metric:
    name: str
    needs: str  # "labels", "scores" (probabilities or decisions), "proba", or "spans" (labels and offsets)
    greater_is_better: bool
    description: str
    compute: Callable[..., float]
    from_confusion: Callable[[np.ndarray], np.ndarray] | None = None
    per_row: Callable[..., np.ndarray] | None = None
    #: the task types (``enso.tasks`` names) it applies to
    tasks: tuple[str, ...] = ROW_TASKS
    #: a label metric that reads the target's ``classes`` (``compute(y_true, y_pred, classes)``)
    uses_classes: bool = False
    #: the most classes a task may have for the metric to be defined (``f1``: 2); None: any
    max_classes: int | None = None

    def __call__(self, y_true, y_pred, classes=None, scores=None, offsets=None) -> float:
        """``scores`` is ``None`` or ``(kind, array)`` with kind ``"proba"`` or ``"decision"``.

        ``offsets`` (sentence boundaries of per-token labels, for sequence tasks) is not read by
        row metrics; a span metric computes from it.
        """
        y_true = np.asarray(y_true)
        if self.needs == "labels":
            if self.uses_classes:
                return float(self.compute(y_true, np.asarray(y_pred), None if classes is None else np.asarray(classes)))
            return float(self.compute(y_true, np.asarray(y_pred)))
        if self.needs == "spans":  # per-token labels scored by the spans they make within each sentence
            return float(self.compute(y_true, np.asarray(y_pred), None if offsets is None else np.asarray(offsets)))
        if scores is None or (self.needs == "proba" and scores[0] != "proba"):
            return float("nan")
        return float(self.compute(y_true, np.asarray(classes), scores[1], scores[0]))


def _accuracy(y_true, y_pred):
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def _macro_f1(y_true, y_pred):
    from sklearn.metrics import f1_score

    labels = np.union1d(y_true, y_pred)
    return f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)


def _positive_f1(y_true, y_pred, classes=None):
    """F1 of the positive class (the second of the sorted classes); NaN with more than two, or 0/0."""
    known = np.union1d(y_true, y_pred)
    labels = np.union1d(classes, known) if classes is not None else known
    if len(labels) > 2 or len(labels) == 0:
        return float("nan")
    if len(labels) == 1:  # one label seen: positive only if it is the second of the target's two classes
        if classes is None or len(classes) != 2:
            return float("nan")
        labels = np.asarray(classes)
    positive = np.sort(labels)[1]
    tp = float(np.sum((y_true == positive) & (y_pred == positive)))
    wrong = float(np.sum(y_true != y_pred))  # binary: every error is a false positive or a false negative
    return 2 * tp / (2 * tp + wrong) if tp + wrong else float("nan")


def _positive_f1_cm(cm: np.ndarray) -> np.ndarray:
    """``_positive_f1`` from ``(B, 2, 2)`` confusion matrices of codes into the sorted classes (positive: 1)."""
    if cm.shape[1] != 2:
        return np.full(cm.shape[0], np.nan)
    tp = cm[:, 1, 1].astype(np.float64)
    wrong = (cm[:, 0, 1] + cm[:, 1, 0]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), np.nan)


def _mcc(y_true, y_pred):
    from sklearn.metrics import matthews_corrcoef

    return matthews_corrcoef(y_true, y_pred)


def _accuracy_cm(cm: np.ndarray) -> np.ndarray:
    n = cm.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.trace(cm, axis1=1, axis2=2) / n


def _macro_f1_cm(cm: np.ndarray) -> np.ndarray:
    """Mean F1 over the labels that occur as true or predicted in each matrix (as ``_macro_f1``)."""
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(np.float64)
    support = cm.sum(axis=2) + cm.sum(axis=1)  # (tp + fn) + (tp + fp)
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2 * tp / np.maximum(support, 1), 0.0)
        return f1.sum(axis=1) / present.sum(axis=1)


def _mcc_cm(cm: np.ndarray) -> np.ndarray:
    """Multiclass Matthews correlation from confusion matrices, as scikit-learn computes it."""
    cm = cm.astype(np.float64)
    t, p = cm.sum(axis=2), cm.sum(axis=1)
    n = t.sum(axis=1)
    correct = np.trace(cm, axis1=1, axis2=2)
    cov_tp = correct * n - (t * p).sum(axis=1)
    cov_pp = n**2 - (p * p).sum(axis=1)
    cov_tt = n**2 - (t * t).sum(axis=1)
    denominator = cov_tt * cov_pp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, cov_tp / np.sqrt(np.where(denominator > 0, denominator, 1)), 0.0)


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


def _log_loss_rows(y_true, classes, values, kind):
    """Each row's cross-entropy; a test label the target never saw counts as p=eps."""
    values = _as_matrix(values, len(classes))
    eps = np.finfo(np.float64).eps
    probabilities = np.clip(values, eps, 1.0)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    index = {c: i for i, c in enumerate(classes)}
    columns = np.array([index.get(label, -1) for label in y_true], dtype=np.int64)
    picked = np.where(columns >= 0, probabilities[np.arange(len(y_true)), np.maximum(columns, 0)], eps)
    return -np.log(picked)


def _log_loss(y_true, classes, values, kind):
    """Cross-entropy of the predicted probabilities; a test label the target never saw counts as p=eps."""
    return float(np.mean(_log_loss_rows(y_true, classes, values, kind)))


METRICS: Registry[Metric] = Registry("metric", "enso.metrics")
for _metric, _aliases in (
    (Metric("accuracy", "labels", True, "share of correct predictions", _accuracy, _accuracy_cm), ("acc",)),
    (Metric("macro_f1", "labels", True, "F1 averaged over classes, each class weighted equally", _macro_f1,
            _macro_f1_cm), ("macro-f1",)),
    (Metric("f1", "labels", True, "F1 of the positive class (the second of the sorted classes; binary tasks only)",
            _positive_f1, _positive_f1_cm, uses_classes=True, max_classes=2), ("binary_f1", "positive_f1")),
    (Metric("roc_auc", "scores", True, "macro one-vs-rest ROC AUC from probabilities or decision scores",
            _roc_auc), ("auc", "macro_roc_auc", "roc-auc")),
    (Metric("log_loss", "proba", False, "cross-entropy of predicted probabilities (NaN without them)",
            _log_loss, per_row=_log_loss_rows), ("logloss", "cross_entropy")),
    (Metric("mcc", "labels", True, "Matthews correlation coefficient (multiclass)", _mcc, _mcc_cm),
     ("matthews",)),
):
    METRICS.register(_metric.name, _metric, aliases=_aliases)


def needs_scores(names: list[str]) -> bool:
    return any(METRICS.get(name).needs in ("scores", "proba") for name in names)


#: Bootstrap replicates for the test-set interval, and the interval's coverage.
REPLICATES = 1000
LEVEL = 0.95
_CHUNK = 1 << 22  # elements per block of replicates, to keep memory flat on large test sets


def confusion(true_codes: np.ndarray, pred_codes: np.ndarray, size: int) -> np.ndarray:
    """The ``(size, size)`` confusion matrix of integer label codes (true labels on rows)."""
    true_codes, pred_codes = np.asarray(true_codes, np.int64), np.asarray(pred_codes, np.int64)
    return np.bincount(true_codes * size + pred_codes, minlength=size * size).reshape(size, size)


def bootstrap_confusion(metric: Metric, observed: np.ndarray, *, seed: int, replicates: int = REPLICATES,
                        level: float = LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of a label metric from the confusion matrix of the test rows.

    Resampling the rows with replacement gives a confusion matrix whose counts are multinomial
    over the cells of the observed one, so the resampled matrices are drawn directly, a block
    of replicates at a time, and no resampled label vector is ever built.
    """
    size = observed.shape[0]
    counts = observed.ravel()
    n = int(counts.sum())
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    nonzero = np.flatnonzero(counts)
    values = []
    block = max(1, _CHUNK // (size * size))
    for start in range(0, replicates, block):
        count = min(block, replicates - start)
        matrices = np.zeros((count, size * size), dtype=np.int64)
        matrices[:, nonzero] = rng.multinomial(n, counts[nonzero] / n, size=count)
        values.append(metric.from_confusion(matrices.reshape(count, size, size)))
    return _percentiles(np.concatenate(values), level)


def bootstrap_interval(metric: Metric, y_true, y_pred, classes=None, scores=None, *, seed: int,
                       replicates: int = REPLICATES, level: float = LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over the test rows (resampled with replacement).

    Label metrics go through ``bootstrap_confusion``; per-row metrics (log loss) average
    resampled rows; others (ROC AUC) give ``(nan, nan)``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(y_true)
    nan = (float("nan"), float("nan"))
    if n == 0:
        return nan
    if metric.from_confusion is not None:
        labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
        return bootstrap_confusion(metric, confusion(codes[:n], codes[n:], len(labels)), seed=seed,
                                   replicates=replicates, level=level)
    if metric.per_row is None or scores is None or (metric.needs == "proba" and scores[0] != "proba"):
        return nan
    rng = np.random.default_rng(seed)
    contributions = metric.per_row(y_true, np.asarray(classes), scores[1], scores[0])
    values = []
    block = max(1, _CHUNK // n)
    for start in range(0, replicates, block):
        count = min(block, replicates - start)
        values.append(contributions[rng.integers(0, n, size=(count, n))].mean(axis=1))
    return _percentiles(np.concatenate(values), level)


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


__all__ = ["LEVEL", "METRICS", "REPLICATES", "ROW_TASKS", "Metric", "bootstrap_confusion", "bootstrap_interval", "confusion",
           "needs_scores"]
