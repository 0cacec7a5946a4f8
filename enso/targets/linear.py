"""Linear targets: L-BFGS logistic regression on a warm-started C path, SGD, linear SVM.

Tie rule (see ``enso.targets.search``): the weaker regularisation wins a tie: the larger C
(logreg, linear-svm), the smaller alpha (logreg-sgd).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.svm import LinearSVC

from enso.params import Choice, Grid, Positive
from enso.targets.base import TargetTags
from enso.targets.search import Search, SearchTarget, fit_quietly

DEFAULT_CS = (0.01, 0.1, 1.0, 10.0, 100.0)


class _OneParameter(SearchTarget):
    """A search over one grid parameter: ``param`` fixed by the user, or chosen from ``grid_param``."""

    param = ""
    grid_param = ""
    default_value: float = 1.0

    def _fixed(self):
        value = getattr(self, self.param)
        return None if value is None else {self.param: float(value)}

    def _default(self, n_fit):
        return {self.param: self.default_value}

    def _candidates(self, X, search):
        return [{self.param: float(v)} for v in _as_tuple(getattr(self, self.grid_param))]


class _ByC(_OneParameter):
    param, grid_param = "C", "Cs"

    def _prefer(self, point, X):
        return point["C"]  # larger C: weaker regularisation


def _as_tuple(values) -> tuple:
    return tuple(values) if isinstance(values, (list, tuple)) else (values,)


def warm_path(estimator: Callable[..., Any], Cs, X, y) -> Iterator[tuple[int, Any]]:
    """``(i, model)`` for each ``Cs[i]`` from the smallest C up (stable order), ``model`` fitted on ``X, y`` starting
    from the previous C's solution (``estimator(C, warm_start=True)``, one model refitted in place: read it before
    the next step). Convergence warnings are silenced; ``logreg`` and ``token-logreg`` walk their C grids this way.
    """
    order = np.argsort(Cs, kind="stable")
    model = estimator(Cs[order[0]], warm_start=True)
    for i in order:
        model.set_params(C=Cs[i])
        fit_quietly(model, X, y)
        yield int(i), model


class LogReg(_ByC):
    """Multinomial logistic regression (L-BFGS, L2), C chosen by stratified inner CV.

    The inner CV fits each C on each fold from zero, as a grid search over ``Cs`` does (on the
    same folds, ties to the larger C), so it chooses what scikit-learn's ``GridSearchCV`` chooses.
    (A warm-started path from the strongest penalty up took 30% fewer iterations, but L-BFGS
    stops within ``tol`` at a point that depends on its start: on default.toml's cells it chose
    another C than GridSearchCV in 21 of 240.) Pass ``C`` to skip the search.

    On sparse features the fits use only the columns where the training sample has a
    non-zero: an L2-penalised coefficient of a column that is zero on every training row is
    zero, so it is the same model (up to the optimizer's rounding), found 10-80x faster on
    tf-idf at small sizes, where L-BFGS's cost is the width of the coefficient vector.
    """

    #: 2: the inner CV fits each C from zero (1 walked a warm-started path, which chose other Cs)
    version: ClassVar[int] = 2
    name = "logreg"
    _parameter_constraints: ClassVar[dict] = {
        **SearchTarget._parameter_constraints,
        "C": Positive(allow_none=True), "Cs": Grid(), "cv": Positive(integer=True),
        "max_iter": Positive(integer=True), "tol": Positive(), "class_weight": Choice(None, "balanced"),
        "ties": Choice("weaker", "senteval"),
    }

    def __init__(self, C=None, Cs=DEFAULT_CS, cv=3, max_iter=1000, tol=1e-4, class_weight=None, scoring="accuracy",
                 resampler="none", random_state=None, ties="weaker"):
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.scoring = scoring
        self.resampler = resampler
        self.random_state = random_state
        self.ties = ties

    def _setup(self, X):
        self.columns_ = None
        if sp.issparse(X):
            used = np.unique(sp.csr_matrix(X).indices)
            self.columns_ = used if len(used) else np.zeros(1, dtype=used.dtype)

    def _prepare(self, X):
        return X if self.columns_ is None else sp.csr_matrix(X)[:, self.columns_]

    def _estimator(self, C, warm_start=False):
        return LogisticRegression(C=C, max_iter=self.max_iter, tol=self.tol, class_weight=self.class_weight,
                                  warm_start=warm_start)

    def _fit_info(self):
        return {"converged": bool(np.max(self.model_.n_iter_) < self.max_iter)}

    def decision_function(self, X):
        return self.model_.decision_function(self._prepare(X))

    def predict_proba(self, X):
        return self.model_.predict_proba(self._prepare(X))


class SGDLogReg(_OneParameter):
    """Logistic regression by stochastic gradient descent (a first-order optimizer), alpha by inner CV.

    Ties go to the smaller alpha (the weaker penalty).
    """

    name = "logreg-sgd"
    param, grid_param, default_value = "alpha", "alphas", 1e-4
    _parameter_constraints: ClassVar[dict] = {
        **SearchTarget._parameter_constraints,
        "alpha": Positive(allow_none=True), "alphas": Grid(), "cv": Positive(integer=True),
        "max_iter": Positive(integer=True), "tol": Positive(),
    }

    def __init__(self, alpha=None, alphas=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1), cv=3, max_iter=1000, tol=1e-3,
                 scoring="accuracy", resampler="none", random_state=None):
        self.alpha = alpha
        self.alphas = alphas
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.scoring = scoring
        self.resampler = resampler
        self.random_state = random_state

    def _estimator(self, alpha):
        return SGDClassifier(loss="log_loss", alpha=alpha, max_iter=self.max_iter, tol=self.tol,
                             random_state=self.random_state)

    def _prefer(self, point, X):
        return -point["alpha"]

    def decision_function(self, X):
        return self.model_.decision_function(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


class LinearSVM(_ByC):
    """Linear support vector machine (liblinear), C by inner CV (ties to the larger C); ranked by decision scores."""

    name = "linear-svm"
    tags = TargetTags(proba=False)
    _parameter_constraints: ClassVar[dict] = {
        **SearchTarget._parameter_constraints,
        "C": Positive(allow_none=True), "Cs": Grid(), "cv": Positive(integer=True),
        "max_iter": Positive(integer=True), "class_weight": Choice(None, "balanced"),
    }

    def __init__(self, C=None, Cs=DEFAULT_CS, cv=3, max_iter=5000, class_weight=None, scoring="accuracy",
                 resampler="none", random_state=None):
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.scoring = scoring
        self.resampler = resampler
        self.random_state = random_state

    def _estimator(self, C):
        return LinearSVC(C=C, max_iter=self.max_iter, class_weight=self.class_weight, random_state=self.random_state)

    def decision_function(self, X):
        return self.model_.decision_function(X)
