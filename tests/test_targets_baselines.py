"""The reference targets every report can draw: ``majority`` and ``stratified``, on real TREC labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from enso.metrics import METRICS
from enso.sampling import SAMPLERS
from enso.targets import TARGETS, make_target
from tests.engine_helpers import dense_matrices


@pytest.fixture(scope="module")
def trec(shared_datasets):
    return dense_matrices(shared_datasets, dims=8)


def test_majority_predicts_the_training_samples_most_frequent_class(trec):
    X_train, y_train, X_test, y_test = trec
    assert "majority" in TARGETS and "stratified" in TARGETS
    for seed, size in ((0, 60), (1, 300)):
        rows = SAMPLERS.get("random").sample(y_train, size, np.random.default_rng(seed))
        target = make_target("majority", {}).fit(X_train[rows], y_train[rows])
        reference = DummyClassifier(strategy="most_frequent").fit(X_train[rows], y_train[rows])
        np.testing.assert_array_equal(target.predict(X_test), reference.predict(X_test))
        kind, proba = target.scores(X_test)
        labels, counts = np.unique(y_train[rows], return_counts=True)
        assert kind == "proba" and list(target.classes_) == list(labels)
        np.testing.assert_allclose(proba, np.tile(counts / counts.sum(), (len(X_test), 1)))  # the class shares
        assert target.chosen_params_["predicts"] == labels[counts.argmax()]
        accuracy = METRICS.get("accuracy")(y_test, target.predict(X_test))
        assert accuracy == pytest.approx(np.mean(y_test == labels[counts.argmax()]))


def test_majority_ties_go_to_the_first_class_in_sorted_order_and_follow_the_resampler():
    X = np.zeros((7, 3))
    y = np.array(["pos", "neg", "pos", "neg", "mid", "pos", "neg"])  # neg and pos tie with 3 each
    assert set(make_target("majority", {}).fit(X, y).predict(X)) == {"neg"}
    # oversampled, every class ties: the first in sorted order
    balanced = make_target("majority", {"resampler": "oversample", "random_state": 0}).fit(X, y)
    assert set(balanced.predict(X)) == {"mid"} and balanced.n_fit_ == 9
    np.testing.assert_allclose(balanced.predict_proba(X[:1]), [[1 / 3, 1 / 3, 1 / 3]])


def test_stratified_guesses_in_the_training_shares_reproducibly_for_a_seed(trec):
    X_train, y_train, X_test, y_test = trec
    rows = SAMPLERS.get("random").sample(y_train, 400, np.random.default_rng(2))
    X, y = X_train[rows], y_train[rows]
    first = make_target("stratified", {"random_state": 5}).fit(X, y)
    again = make_target("stratified", {"random_state": 5}).fit(X, y)
    other = make_target("stratified", {"random_state": 6}).fit(X, y)
    predicted = first.predict(X_test)
    np.testing.assert_array_equal(predicted, again.predict(X_test))
    assert np.mean(predicted != other.predict(X_test)) > 0.3
    np.testing.assert_array_equal(predicted, first.predict(X_test))  # a second call: the same guesses
    kind, proba = first.scores(X_test)
    assert kind == "proba"
    np.testing.assert_array_equal(first.classes_[proba.argmax(axis=1)], predicted)  # scores are its guesses
    labels, counts = np.unique(y, return_counts=True)
    shares = np.array([np.mean(predicted == label) for label in labels])
    assert np.abs(shares - counts / counts.sum()).max() < 0.06
    # unseeded, one fit still gives one set of guesses: predict and scores agree
    unseeded = make_target("stratified", {}).fit(X, y)
    np.testing.assert_array_equal(unseeded.predict(X_test), unseeded.classes_[unseeded.scores(X_test)[1].argmax(1)])
    accuracy = np.mean(predicted == y_test)
    assert accuracy == pytest.approx(np.sum((counts / counts.sum()) * [np.mean(y_test == c) for c in labels]), abs=0.06)


def test_baselines_read_features_of_any_shape():
    y = np.array(["a", "b", "b"])
    for X in (np.zeros((3, 4, 2)), np.zeros((3, 5))):
        for name in ("majority", "stratified"):
            target = make_target(name, {"random_state": 0}).fit(X, y)
            assert target.predict(X).shape == (3,) and target.predict_proba(X).shape == (3, 2)
