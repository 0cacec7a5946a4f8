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

Sequence-labelling metrics score one tag per token, flat, with ``offsets`` the sentence
boundaries (``offsets[i]:offsets[i + 1]`` is sentence ``i``; ``None``: one sentence).
``token_accuracy`` is the share of correct tags. ``span_f1``, ``span_precision`` and
``span_recall`` (``needs = "spans"``) are entity-level scores micro-averaged over entities exactly as
``conlleval`` computes them: a chunk begins and ends by conlleval's rules (``I-X`` after ``O`` or
after another type begins a chunk, a type change ends one; IOB2 as enso stores it, and IOBES), a
predicted entity counts when its first token, last token and type equal a true one's, precision is
correct / predicted entities, recall correct / true entities, F1 their harmonic mean, and each is 0
when its denominator is (conlleval prints 0: an all-``O`` prediction scores 0, not NaN). Each has
``per_type``: the same score per entity type (over the types that occur as true or predicted),
which the engine adds as ``"<name>:<type>"`` rows. Tested equal to ``seqeval``'s default mode.

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
    #: ``per_type(y_true, y_pred, classes=None, scores=None, offsets=None) -> {type: value}`` or None
    per_type: Callable[..., dict[str, float]] | None = None

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


# -- sequence labelling: entities as conlleval finds them -----------------------------------------------

#: Tag prefixes (``B-PER``: ``B``); conlleval's chunk rules read them.
_O, _B, _I, _E, _S = range(5)
_PREFIXES = {"B": _B, "I": _I, "E": _E, "S": _S}


def _parse_tags(tags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique tags, and per unique tag its prefix code and type (``""`` for ``O``), from ``B-PER`` etc."""
    unique, inverse = np.unique(np.asarray(tags, dtype=object).astype(str), return_inverse=True)
    prefixes = np.zeros(len(unique), dtype=np.int8)
    types = np.empty(len(unique), dtype=object)
    for k, tag in enumerate(unique):
        if tag == "O":
            prefixes[k], types[k] = _O, ""
            continue
        head, dash, kind = tag.partition("-")
        if not dash or head not in _PREFIXES:
            raise ValueError(f"tag {tag!r} is neither O nor B-/I-/E-/S-<type> (IOB2 or IOBES)")
        prefixes[k], types[k] = _PREFIXES[head], kind
    return prefixes[inverse.ravel()], types, inverse.ravel()


def _unique_prefixes(prefixes: np.ndarray, inverse: np.ndarray, count: int) -> np.ndarray:
    """The prefix code of each unique tag, from the per-token codes."""
    out = np.zeros(count, dtype=np.int8)
    out[inverse] = prefixes
    return out


def _chunks(prefix: np.ndarray, kind: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``(n, 3)`` int64 ``[start, end, type]`` (end exclusive) of the chunks conlleval finds.

    conlleval's rules, with ``prev`` the previous token of the sentence (``O`` at its start):
    a chunk ends before a token if ``prev`` is ``E``/``S``, if ``prev`` is ``B``/``I`` and the token is
    ``B``/``S``/``O``, or if ``prev`` is not ``O`` and its type differs; a chunk starts at a token
    that is ``B``/``S``, an ``I``/``E`` after ``O``/``E``/``S``, or a non-``O`` of another type than
    ``prev``. A sentence ends every chunk. Every start follows the end of the chunk before it, so
    a chunk runs from its start to the first end after it.
    """
    n = len(prefix)
    if not n:
        return np.zeros((0, 3), dtype=np.int64)
    first = np.zeros(n, dtype=bool)
    starts_of_sentences = offsets[:-1][offsets[:-1] < offsets[1:]]  # empty sentences hold no token
    first[starts_of_sentences] = True
    prev = np.concatenate([[_O], prefix[:-1]])
    prev_kind = np.concatenate([[-1], kind[:-1]])
    prev[first], prev_kind[first] = _O, -1
    is_o, prev_o = prefix == _O, prev == _O
    other_type = prev_kind != kind
    ends = ((prev == _E) | (prev == _S)
            | (((prev == _B) | (prev == _I)) & ((prefix == _B) | (prefix == _S) | is_o))
            | (~prev_o & other_type))
    starts = ((prefix == _B) | (prefix == _S)
              | (((prefix == _I) | (prefix == _E)) & ((prev == _O) | (prev == _E) | (prev == _S)))
              | (~is_o & other_type))
    start = np.flatnonzero(starts)
    boundaries = np.union1d(np.flatnonzero(ends), offsets[1:])
    end = boundaries[np.searchsorted(boundaries, start, side="right")]
    return np.column_stack([start, end, kind[start]]).astype(np.int64)


def span_counts(y_true, y_pred, offsets=None) -> tuple[list[str], np.ndarray]:
    """Entity types (sorted) and per type ``[true, predicted, correct]`` counts, as conlleval counts them.

    ``y_true``, ``y_pred``: one tag per token, flat; ``offsets``: sentence boundaries (None: one sentence).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true tags but {len(y_pred)} predicted ones")
    offsets = np.array([0, len(y_true)], dtype=np.int64) if offsets is None else np.asarray(offsets, dtype=np.int64)
    if offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != len(y_true) or np.any(np.diff(offsets) < 0):
        raise ValueError(f"offsets must run from 0 to the {len(y_true)} tags, non-decreasing")
    n = len(y_true)
    prefixes, types, inverse = _parse_tags(np.concatenate([y_true.astype(object), y_pred.astype(object)]))
    names = sorted({str(t) for t, p in zip(types, _unique_prefixes(prefixes, inverse, len(types))) if p != _O})
    code = {name: i for i, name in enumerate(names)}
    # O's type is "" (conlleval's): the same as a bare "B-" tag's, so no chunk boundary between them
    type_codes = np.array([code.get(t, -1) for t in types], dtype=np.int64)[inverse] if len(types) else \
        np.zeros(0, dtype=np.int64)
    true = _chunks(prefixes[:n], type_codes[:n], offsets)
    pred = _chunks(prefixes[n:], type_codes[n:], offsets)
    width = len(names) + 1
    keys = lambda c: (c[:, 0] * (n + 1) + c[:, 1]) * width + c[:, 2]  # noqa: E731 (one key per chunk)
    correct = np.intersect1d(keys(true), keys(pred)) % width
    counts = np.stack([np.bincount(true[:, 2], minlength=len(names)), np.bincount(pred[:, 2], minlength=len(names)),
                       np.bincount(correct, minlength=len(names))], axis=1) if names else np.zeros((0, 3), np.int64)
    return names, counts


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0  # conlleval: 0 when nothing to divide by


def _prf(counts: np.ndarray) -> dict[str, float]:
    true, predicted, correct = (float(v) for v in counts)
    precision, recall = _ratio(correct, predicted), _ratio(correct, true)
    return {"precision": precision, "recall": recall,
            "f1": _ratio(2 * precision * recall, precision + recall)}


def _span_score(which: str):
    def compute(y_true, y_pred, offsets=None):
        _, counts = span_counts(y_true, y_pred, offsets)
        return _prf(counts.sum(axis=0) if len(counts) else np.zeros(3))[which]

    def per_type(y_true, y_pred, classes=None, scores=None, offsets=None):
        names, counts = span_counts(y_true, y_pred, offsets)
        return {name: _prf(row)[which] for name, row in zip(names, counts, strict=True)}

    return compute, per_type


_SPAN_F1, _SPAN_F1_TYPES = _span_score("f1")
_SPAN_PRECISION, _SPAN_PRECISION_TYPES = _span_score("precision")
_SPAN_RECALL, _SPAN_RECALL_TYPES = _span_score("recall")
SEQUENCE_TASKS = ("sequence-labelling",)

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
    (Metric("token_accuracy", "labels", True, "share of tokens tagged correctly", _accuracy, _accuracy_cm,
            tasks=SEQUENCE_TASKS), ("tag_accuracy",)),
    (Metric("span_f1", "spans", True, "entity-level F1, micro over entities, as conlleval computes it", _SPAN_F1,
            tasks=SEQUENCE_TASKS, per_type=_SPAN_F1_TYPES), ("entity_f1", "conll_f1")),
    (Metric("span_precision", "spans", True, "entity-level precision (correct / predicted entities, conlleval)",
            _SPAN_PRECISION, tasks=SEQUENCE_TASKS, per_type=_SPAN_PRECISION_TYPES), ("entity_precision",)),
    (Metric("span_recall", "spans", True, "entity-level recall (correct / true entities, conlleval)",
            _SPAN_RECALL, tasks=SEQUENCE_TASKS, per_type=_SPAN_RECALL_TYPES), ("entity_recall",)),
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


__all__ = ["LEVEL", "METRICS", "REPLICATES", "ROW_TASKS", "SEQUENCE_TASKS", "Metric", "span_counts", "bootstrap_confusion", "bootstrap_interval", "confusion",
           "needs_scores"]
