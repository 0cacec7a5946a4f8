"""Metrics against scikit-learn's reference implementations, and their honest NaNs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, log_loss, matthews_corrcoef, roc_auc_score

from enso.errors import UnknownNameError
from enso.metrics import METRICS


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
