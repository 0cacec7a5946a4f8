"""Reference targets that ignore the features: what any real model has to beat.

``majority`` always predicts the training sample's most frequent class (ties: the first in
sorted order), as scikit-learn's ``DummyClassifier(strategy="most_frequent")`` does; its
probabilities are the training sample's class shares (``strategy="prior"``, the same
predictions), so log loss and ROC AUC get the honest no-information reference rather than
a one-hot certainty. ``stratified`` predicts random labels in the training sample's class
shares, seeded by ``random_state`` (``DummyClassifier(strategy="stratified")``); its
probabilities are its one-hot guesses. Both work on features of any shape.
"""

from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyClassifier

from enso.targets.base import COMMON_CONSTRAINTS, Target
from enso.targets.search import FINAL_STREAM, resample_rows, take


def _rows(X) -> np.ndarray:
    """A stand-in input with ``X``'s number of rows (the dummies read nothing else)."""
    return np.zeros((X.shape[0], 1), dtype=np.float32)


class _Dummy(Target):
    strategy = ""
    _parameter_constraints = COMMON_CONSTRAINTS

    def __init__(self, resampler="none", random_state=None):
        self.resampler = resampler
        self.random_state = random_state

    def fit(self, X, y, *, validation=None):
        """Learn the class shares of ``y`` (after resampling); ``validation`` is not needed."""
        self._validate_params()
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        rows = resample_rows(self.resampler, y, self.random_state, FINAL_STREAM)
        y_fit = take(y, rows)
        # a seed fixed at fit, so predict and predict_proba (and every later call) agree
        seed = self.random_state if self.random_state is not None else int(np.random.SeedSequence().generate_state(1)[0])
        self.model_ = DummyClassifier(strategy=self.strategy, random_state=seed).fit(_rows(y_fit), y_fit)
        self.n_fit_ = len(y_fit)
        self.chosen_params_ = {"search": "none (a reference that ignores the features)", **self._describe()}
        return self

    def _describe(self) -> dict:
        return {}

    def predict(self, X):
        return self.model_.predict(_rows(X))

    def predict_proba(self, X):
        return self.model_.predict_proba(_rows(X))


class Majority(_Dummy):
    """Always the training sample's most frequent class (ties: first in sorted order); probabilities: class shares."""

    name = "majority"
    strategy = "prior"

    def _describe(self) -> dict:
        majority = self.model_.classes_[int(np.argmax(self.model_.class_prior_))]
        return {"predicts": majority.item() if isinstance(majority, np.generic) else majority}


class Stratified(_Dummy):
    """Random labels in the training sample's class shares, seeded by ``random_state``."""

    name = "stratified"
    strategy = "stratified"
