"""Linear targets: L-BFGS logistic regression on a warm-started C path, SGD, linear SVM."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.svm import LinearSVC

from enso.params import check_choice, check_grid, check_positive
from enso.targets.base import Target
from enso.targets.search import cv_search, describe_search, fit_quietly, inner_folds

DEFAULT_CS = (0.01, 0.1, 1.0, 10.0, 100.0)


class _Delegate(Target):
    """Prediction through the fitted scikit-learn model in ``model_``."""

    def predict(self, X):
        return self.model_.predict(X)

    def decision_function(self, X):
        return self.model_.decision_function(X)


class LogReg(_Delegate):
    """Multinomial logistic regression (L-BFGS, L2), C chosen by stratified inner CV.

    The inner CV walks each fold's regularisation path from the strongest penalty up, each
    fit starting from the previous solution: the same choice as a grid search over ``Cs``
    in fewer optimizer iterations. The final fit on the whole sample starts from zero, as a
    grid search's refit does, so the same C gives the same model. Pass ``C`` to skip the search.
    """

    name = "logreg"

    def __init__(self, C=None, Cs=DEFAULT_CS, cv=3, max_iter=1000, tol=1e-4, class_weight=None):
        check_positive("C", C, allow_none=True)
        check_grid("Cs", Cs)
        check_positive("cv", cv, integer=True)
        check_positive("max_iter", max_iter, integer=True)
        check_positive("tol", tol)
        check_choice("class_weight", class_weight, (None, "balanced"))
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight

    def _model(self, C, warm_start=False):
        return LogisticRegression(C=C, max_iter=self.max_iter, tol=self.tol, class_weight=self.class_weight,
                                  warm_start=warm_start)

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if self.C is not None:
            self.model_ = fit_quietly(self._model(self.C), X, y)
            self.chosen_params_ = {"C": float(self.C), "search": "fixed"}
        else:
            folds, reason = inner_folds(y, self.cv)
            if folds is None:
                self.model_ = fit_quietly(self._model(1.0), X, y)
                self.chosen_params_ = {"C": 1.0, **describe_search(None, reason)}
            else:
                C, scores = self._path_search(X, y, folds)
                self.model_ = fit_quietly(self._model(C), X, y)
                self.chosen_params_ = {"C": float(C), **describe_search(folds, None, scores)}
        self.chosen_params_["converged"] = bool(np.max(self.model_.n_iter_) < self.max_iter)
        return self

    def _path_search(self, X, y, folds):
        Cs = [float(c) for c in self.Cs]
        order = np.argsort(Cs, kind="stable")
        scores = np.zeros(len(Cs))
        for train, test in folds:
            model = self._model(Cs[order[0]], warm_start=True)
            X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
            for i in order:
                model.set_params(C=Cs[i])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X_train, y_train)
                scores[i] += float(np.mean(model.predict(X_test) == y_test))
        scores /= len(folds)
        return Cs[int(np.argmax(scores))], scores.tolist()

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


class SGDLogReg(_Delegate):
    """Logistic regression by stochastic gradient descent (a first-order optimizer), alpha by inner CV."""

    name = "logreg-sgd"

    def __init__(self, alpha=None, alphas=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1), cv=3, max_iter=1000, tol=1e-3,
                 random_state=None):
        check_positive("alpha", alpha, allow_none=True)
        check_grid("alphas", alphas)
        check_positive("cv", cv, integer=True)
        check_positive("max_iter", max_iter, integer=True)
        check_positive("tol", tol)
        self.alpha = alpha
        self.alphas = alphas
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _model(self, alpha):
        return SGDClassifier(loss="log_loss", alpha=alpha, max_iter=self.max_iter, tol=self.tol,
                             random_state=self.random_state)

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.model_, self.chosen_params_ = search_and_fit(self._model, "alpha", self.alpha, self.alphas, 1e-4,
                                                          self.cv, X, y)
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


class LinearSVM(_Delegate):
    """Linear support vector machine (liblinear), C by inner CV; ranked by decision scores."""

    name = "linear-svm"

    def __init__(self, C=None, Cs=DEFAULT_CS, cv=3, max_iter=5000, class_weight=None):
        check_positive("C", C, allow_none=True)
        check_grid("Cs", Cs)
        check_positive("cv", cv, integer=True)
        check_positive("max_iter", max_iter, integer=True)
        check_choice("class_weight", class_weight, (None, "balanced"))
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.max_iter = max_iter
        self.class_weight = class_weight

    def _model(self, C):
        return LinearSVC(C=C, max_iter=self.max_iter, class_weight=self.class_weight)

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.model_, self.chosen_params_ = search_and_fit(self._model, "C", self.C, self.Cs, 1.0, self.cv, X, y)
        return self


def search_and_fit(make, key: str, fixed, grid: tuple, default, cv: int, X, y, extra_grid: dict | None = None):
    """Fit ``make(**{key: value})`` with ``fixed`` if given, else the inner-CV choice from ``grid``."""
    if fixed is not None:
        return fit_quietly(make(**{key: fixed}), X, y), {key: fixed, "search": "fixed"}
    folds, reason = inner_folds(y, cv)
    if folds is None:
        return fit_quietly(make(**{key: default}), X, y), {key: default, **describe_search(None, reason)}
    best, scores = cv_search(make, {key: tuple(grid), **(extra_grid or {})}, X, y, folds)
    return fit_quietly(make(**best), X, y), {**best, **describe_search(folds, None, scores)}
