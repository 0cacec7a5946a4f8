"""``f1``: the F1 of the positive class (the second of the sorted classes) of a binary task."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import f1_score

from enso.engine.assemble import metric_rows
from enso.metrics import METRICS, bootstrap_interval


def stack(y_true, y_pred, classes):
    index = {c: i for i, c in enumerate(classes)}
    t = np.array([index[v] for v in y_true])
    p = np.array([index[v] for v in y_pred])
    size = len(classes)
    return np.bincount(t * size + p, minlength=size * size).reshape(1, size, size)


def test_f1_is_the_positive_class_f1_of_scikit_learn_and_not_macro_f1():
    metric = METRICS.get("f1")
    assert metric.name == "f1" and METRICS.get("macro-f1").name == "macro_f1"
    assert metric.tasks == ("classification", "pair-classification") and metric.max_classes == 2
    y_true = np.array(["0", "1", "1", "0", "1", "1", "0", "1"])
    y_pred = np.array(["0", "1", "0", "1", "1", "1", "0", "0"])
    # tp = 3, fp = 1, fn = 2: F1 = 6 / 9; macro would average in the negative class's 4/7
    assert metric(y_true, y_pred) == pytest.approx(6 / 9)
    assert metric(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, pos_label="1"))
    assert metric(y_true, y_pred) != pytest.approx(METRICS.get("macro_f1")(y_true, y_pred))
    # the positive class is the second of the sorted classes, whatever the order they come in
    words = np.where(y_true == "1", "positive", "negative"), np.where(y_pred == "1", "positive", "negative")
    assert metric(*words) == pytest.approx(6 / 9)
    flipped = np.where(y_true == "1", "a", "b"), np.where(y_pred == "1", "a", "b")  # now "b" (old "0") is positive
    assert metric(*flipped) == pytest.approx(f1_score(y_true, y_pred, pos_label="0"))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_f1_equals_scikit_learn_and_its_confusion_form_on_many_binary_samples():
    metric = METRICS.get("f1")
    rng = np.random.default_rng(7)
    classes = np.array(["neg", "pos"])
    for trial in range(300):
        n = int(rng.integers(1, 30))
        y_true = rng.choice(classes, size=n, p=[share := float(rng.random()), 1 - share])
        y_pred = np.where(rng.random(n) < rng.random(), y_true, rng.choice(classes, size=n))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = f1_score(y_true, y_pred, pos_label="pos", labels=classes, average="binary",
                                 zero_division=np.nan)
        value = metric(y_true, y_pred, classes)
        fast = metric.from_confusion(stack(y_true, y_pred, classes))[0]
        if math.isnan(reference):
            assert math.isnan(value) and math.isnan(fast), trial
        else:
            assert value == pytest.approx(reference, abs=1e-12), trial
            assert fast == pytest.approx(reference, abs=1e-12), trial


def test_f1_with_one_label_seen_reads_the_targets_classes():
    metric = METRICS.get("f1")
    only_pos = np.array(["pos", "pos"])
    assert metric(only_pos, only_pos, np.array(["neg", "pos"])) == 1.0
    only_neg = np.array(["neg", "neg"])
    assert math.isnan(metric(only_neg, only_neg, np.array(["neg", "pos"])))  # 0/0: no positive anywhere
    assert math.isnan(metric(only_pos, only_pos))  # without the classes the positive one is unknown


def test_f1_is_nan_with_more_than_two_classes():
    metric = METRICS.get("f1")
    y = np.array(["a", "b", "c", "a"])
    assert math.isnan(metric(y, y))
    assert math.isnan(metric(y[:2], y[:2], np.array(["a", "b", "c"])))
    assert np.isnan(metric.from_confusion(np.eye(3, dtype=np.int64)[None])).all()


def test_f1_interval_and_assembled_rows():
    metric = METRICS.get("f1")
    rng = np.random.default_rng(1)
    y_true = rng.choice(["0", "1"], size=400, p=[0.33, 0.67])
    y_pred = np.where(rng.random(400) < 0.8, y_true, rng.choice(["0", "1"], size=400))
    low, high = bootstrap_interval(metric, y_true, y_pred, seed=3)
    assert low < metric(y_true, y_pred) < high and high - low < 0.15
    classes = np.array(["0", "1"])
    code = {"0": 0, "1": 1}
    predictions = {"classes": classes, "unseen_labels": np.array([], dtype=str),
                   "y_test": np.array([code[v] for v in y_true], dtype=np.int32),
                   "test_pred": np.array([code[v] for v in y_pred], dtype=np.int32),
                   "y_train": np.array([0, 1, 1], dtype=np.int32), "train_pred": np.array([0, 1, 0], dtype=np.int32)}
    info = {"meta": {}, "chosen_params": "{}", "timings": {}, "n_train": 3, "n_test": 400, "key": "a" * 64}
    (row,) = metric_rows(info, predictions, ["f1"])
    assert row["value"] == pytest.approx(f1_score(y_true, y_pred, pos_label="1"))
    assert row["train_value"] == pytest.approx(2 / 3)  # tp 1, fn 1
    assert row["baseline_value"] == pytest.approx(f1_score(y_true, np.full(400, "1"), pos_label="1"))
    assert row["test_ci_low"] < row["value"] < row["test_ci_high"]
