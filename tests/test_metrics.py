"""Metrics against scikit-learn's reference implementations, and their honest NaNs."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import f1_score, log_loss, matthews_corrcoef, roc_auc_score

from enso.errors import UnknownNameError
from enso.metrics import METRICS, Metric


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(3)
    classes = np.array(["ABBR", "DESC", "HUM", "NUM"])
    y_true = rng.choice(classes, size=200)
    proba = rng.dirichlet(np.ones(4), size=200)
    proba[np.arange(200), np.searchsorted(classes, y_true)] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    y_pred = classes[proba.argmax(axis=1)]
    return classes, y_true, y_pred, proba


def test_label_metrics_match_sklearn(multiclass):
    _, y_true, y_pred, _ = multiclass
    assert METRICS.get("accuracy")(y_true, y_pred) == pytest.approx(np.mean(y_true == y_pred))
    assert METRICS.get("macro_f1")(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert METRICS.get("mcc")(y_true, y_pred) == pytest.approx(matthews_corrcoef(y_true, y_pred))


def test_ranking_metrics_match_sklearn(multiclass):
    classes, y_true, y_pred, proba = multiclass
    auc = METRICS.get("roc_auc")(y_true, y_pred, classes, ("proba", proba))
    assert auc == pytest.approx(roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes))
    loss = METRICS.get("log_loss")(y_true, y_pred, classes, ("proba", proba))
    assert loss == pytest.approx(log_loss(y_true, proba, labels=classes))


def test_binary_auc_from_decision_scores():
    y = np.array(["neg", "pos", "pos", "neg", "pos"])
    decision = np.array([-2.0, 1.0, 0.5, 0.7, -0.1])
    auc = METRICS.get("auc")(y, None, np.array(["neg", "pos"]), ("decision", decision))
    assert auc == pytest.approx(roc_auc_score(y == "pos", decision))


def test_log_loss_needs_probabilities_and_auc_two_classes():
    y = np.array(["a", "b", "a"])
    assert math.isnan(METRICS.get("log_loss")(y, y, np.array(["a", "b"]), ("decision", np.zeros(3))))
    assert math.isnan(METRICS.get("log_loss")(y, y, np.array(["a", "b"]), None))
    only_a = np.array(["a", "a"])
    assert math.isnan(METRICS.get("roc_auc")(only_a, only_a, np.array(["a", "b"]), ("proba", np.ones((2, 2)) / 2)))


def test_a_test_label_the_target_never_saw_costs_log_loss_instead_of_crashing():
    y = np.array(["a", "b", "c"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    loss = METRICS.get("log_loss")(y, None, np.array(["a", "b"]), ("proba", proba))
    assert loss > -np.log(0.9) / 3 + 10  # the unseen class counts as probability ~ machine epsilon


def test_unknown_metric_names_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean 'accuracy'"):
        METRICS.get("acuracy")


# -- the test-set sampling interval (bootstrap over test rows) --

from enso.metrics import bootstrap_interval


def confusion_stack(y_true, y_pred):
    labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    n, size = len(y_true), len(labels)
    return np.bincount(codes[:n] * size + codes[n:], minlength=size * size).reshape(1, size, size)


@pytest.mark.parametrize("name", ["accuracy", "macro_f1", "mcc"])
def test_confusion_forms_equal_the_metrics_on_many_label_vectors(name):
    metric = METRICS.get(name)
    rng = np.random.default_rng(11)
    for trial in range(200):
        k = int(rng.integers(1, 6))
        n = int(rng.integers(1, 40))
        y_true = rng.choice([f"c{i}" for i in range(k)], size=n)
        y_pred = rng.choice([f"c{i}" for i in range(k + int(rng.integers(0, 2)))], size=n)  # some never true
        fast = metric.from_confusion(confusion_stack(y_true, y_pred))[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn on a single label
            reference = metric(y_true, y_pred)
        assert fast == pytest.approx(reference, abs=1e-12), (trial, y_true, y_pred)


@pytest.mark.parametrize("name", ["accuracy", "macro_f1", "mcc", "log_loss"])
def test_bootstrap_interval_matches_a_plain_row_bootstrap(multiclass, name):
    """Resampling confusion-matrix counts is resampling rows: the two intervals agree."""
    classes, y_true, y_pred, proba = multiclass
    metric = METRICS.get(name)
    scores = ("proba", proba)
    low, high = bootstrap_interval(metric, y_true, y_pred, classes, scores, seed=5)
    value = metric(y_true, y_pred, classes, scores)
    assert low < value < high
    rng = np.random.default_rng(0)
    plain = []
    for _ in range(2000):
        rows = rng.integers(0, len(y_true), size=len(y_true))
        if metric.from_confusion is not None:  # equal to the metric (test above), and fast
            plain.append(metric.from_confusion(confusion_stack(y_true[rows], y_pred[rows]))[0])
        else:
            plain.append(metric(y_true[rows], y_pred[rows], classes, ("proba", proba[rows])))
    plain_low, plain_high = np.percentile(plain, [2.5, 97.5])
    width = plain_high - plain_low
    assert abs(low - plain_low) < 0.15 * width and abs(high - plain_high) < 0.15 * width
    assert bootstrap_interval(metric, y_true, y_pred, classes, scores, seed=5) == (low, high), "seeded"


def test_bootstrap_interval_is_nan_where_it_is_not_computed(multiclass):
    classes, y_true, y_pred, proba = multiclass
    auc = bootstrap_interval(METRICS.get("roc_auc"), y_true, y_pred, classes, ("proba", proba), seed=1)
    assert all(math.isnan(v) for v in auc)
    no_proba = bootstrap_interval(METRICS.get("log_loss"), y_true, y_pred, classes, None, seed=1)
    assert all(math.isnan(v) for v in no_proba)
    assert all(math.isnan(v) for v in bootstrap_interval(METRICS.get("accuracy"), [], [], seed=1))


def test_bootstrap_interval_of_a_large_multiclass_test_set_is_fast():
    """Banking77-sized: 77 classes, 3,080 test rows, 1,000 replicates."""
    import time

    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 77, size=3080).astype(str)
    y_pred = np.where(rng.random(3080) < 0.8, y_true, rng.integers(0, 77, size=3080).astype(str))
    started = time.perf_counter()
    for name in ("accuracy", "macro_f1", "mcc"):
        low, high = bootstrap_interval(METRICS.get(name), y_true, y_pred, seed=3)
        assert low < METRICS.get(name)(y_true, y_pred) < high
    assert time.perf_counter() - started < 5


# -- task types and the call signature every metric shares --


def test_every_metric_says_its_tasks_and_row_metrics_ignore_offsets(multiclass):
    classes, y_true, y_pred, proba = multiclass
    for name, metric in METRICS.items():
        if metric.tasks == ("sequence-labelling",):  # token and span metrics: tests/test_metrics_spans.py
            continue
        assert metric.tasks == ("classification", "pair-classification"), name
        plain = metric(y_true, y_pred, classes, ("proba", proba))
        given = metric(y_true, y_pred, classes, ("proba", proba), offsets=np.array([0, 50, 200]))
        assert np.float64(plain).tobytes() == np.float64(given).tobytes(), name  # the same bits


def test_a_span_metric_gets_the_sentence_offsets():
    """A sequence task's metric plugs in as a new Metric (needs="spans"), with no edit to the call."""
    def sentences_all_right(y_true, y_pred, offsets):
        return np.mean([np.array_equal(y_true[a:b], y_pred[a:b]) for a, b in itertools.pairwise(offsets)])

    metric = Metric("sentence_accuracy", "spans", True, "share of sentences tagged without a mistake",
                    sentences_all_right, tasks=("sequence-labelling",))
    y_true = np.array(["B-PER", "O", "O", "B-LOC", "I-LOC"])
    y_pred = np.array(["B-PER", "O", "O", "B-LOC", "O"])
    assert metric(y_true, y_pred, offsets=[0, 2, 5]) == 0.5
    assert metric.tasks == ("sequence-labelling",)
