"""Non-linear and instance-based targets: RBF SVM, k-NN, naive Bayes, random forest, nearest centroid."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import RandomForestClassifier
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.preprocessing import normalize
from sklearn.svm import SVC

from enso.params import AnyOf, Choice, Grid, ListOf, Number, Positive
from enso.targets.base import COMMON_CONSTRAINTS, Target, TargetTags
from enso.targets.linear import DEFAULT_CS, _ByC
from enso.targets.search import FINAL_STREAM, SearchTarget, resample_rows, take


class RBFSVM(_ByC):
    """Support vector machine with an RBF kernel (gamma='scale'), C by inner CV (ties to the larger C)."""

    name = "rbf-svm"
    tags = TargetTags(proba=False)
    _parameter_constraints: ClassVar[dict] = {
        **SearchTarget._parameter_constraints,
        "C": Positive(allow_none=True), "Cs": Grid(), "gamma": AnyOf(Choice("scale", "auto"), Positive()),
        "cv": Positive(integer=True), "class_weight": Choice(None, "balanced"),
    }

    def __init__(self, C=None, Cs=DEFAULT_CS, gamma="scale", cv=3, class_weight=None, scoring="accuracy",
                 resampler="none", random_state=None):
        self.C = C
        self.Cs = Cs
        self.gamma = gamma
        self.cv = cv
        self.class_weight = class_weight
        self.scoring = scoring
        self.resampler = resampler
        self.random_state = random_state

    def _estimator(self, C):
        return SVC(C=C, kernel="rbf", gamma=self.gamma, class_weight=self.class_weight, random_state=self.random_state)

    def decision_function(self, X):
        return self.model_.decision_function(X)


class KNN(SearchTarget):
    """k nearest neighbours by cosine or euclidean distance, k by inner CV (capped by the sample size).

    Ties go to the smaller k: the less smoothed vote, which stays closest to the training
    sample (a larger k drifts toward the majority class, the collapse the tie rule exists
    to avoid); this is also the first k of the default grid, as a plain grid search picks.
    """

    name = "knn"
    _parameter_constraints: ClassVar[dict] = {
        **SearchTarget._parameter_constraints,
        "n_neighbors": Positive(integer=True, allow_none=True), "neighbors": Grid(kind=(int,)),
        "metric": Choice("cosine", "euclidean"), "weights": Choice("uniform", "distance"),
        "cv": Positive(integer=True),
    }

    def __init__(self, n_neighbors=None, neighbors=(1, 3, 5, 9, 15), metric="cosine", weights="distance", cv=3,
                 scoring="accuracy", resampler="none", random_state=None):
        self.n_neighbors = n_neighbors
        self.neighbors = neighbors
        self.metric = metric
        self.weights = weights
        self.cv = cv
        self.scoring = scoring
        self.resampler = resampler
        self.random_state = random_state

    def _prepare(self, X):
        # cosine distance ranks like euclidean distance between unit vectors, which the fast paths support
        return normalize(X) if self.metric == "cosine" else X

    def _estimator(self, n_neighbors):
        return KNeighborsClassifier(n_neighbors=n_neighbors, weights=self.weights, algorithm="brute")

    def _fixed(self):
        return None if self.n_neighbors is None else {"n_neighbors": int(self.n_neighbors)}

    def _default(self, n_fit):
        return {"n_neighbors": 5}

    def _final(self, point, n_fit):
        return {"n_neighbors": min(point["n_neighbors"], n_fit)}

    def _candidates(self, X, search):
        smallest = min(search.fit_sizes())
        grid = self.neighbors if isinstance(self.neighbors, (list, tuple)) else (self.neighbors,)
        return [{"n_neighbors": k} for k in sorted({min(int(k), smallest) for k in grid})]

    def _prefer(self, point, X):
        return -point["n_neighbors"]

    def predict_proba(self, X):
        return self.model_.predict_proba(self._prepare(X))


class NaiveBayes(SearchTarget):
    """Naive Bayes: Gaussian on dense features, multinomial on non-negative sparse counts or TF-IDF.

    The smoothing (multinomial ``alpha``, Gaussian ``var_smoothing``) is chosen by inner CV;
    ties go to the smaller value, the weaker smoothing.
    """

    name = "naive-bayes"
    _parameter_constraints: ClassVar[dict] = {
        **SearchTarget._parameter_constraints,
        "kind": Choice("auto", "gaussian", "multinomial"), "var_smoothings": Grid(), "alphas": Grid(),
        "cv": Positive(integer=True),
    }

    def __init__(self, kind="auto", var_smoothings=(1e-9, 1e-6, 1e-3, 1e-1), alphas=(0.01, 0.1, 1.0), cv=3,
                 scoring="accuracy", resampler="none", random_state=None):
        self.kind = kind
        self.var_smoothings = var_smoothings
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.resampler = resampler
        self.random_state = random_state

    def _setup(self, X):
        kind = self.kind
        if kind == "auto":
            kind = "multinomial" if sp.issparse(X) and (X.data >= 0).all() else "gaussian"
        self.kind_ = kind
        self._dense = kind == "gaussian"

    def _prepare(self, X):
        return X.toarray() if self._dense and sp.issparse(X) else X

    @property
    def _key(self) -> str:
        return "var_smoothing" if self.kind_ == "gaussian" else "alpha"

    def _estimator(self, **point):
        return GaussianNB(**point) if self.kind_ == "gaussian" else MultinomialNB(**point)

    def _fixed(self):
        return None

    def _default(self, n_fit):
        return {self._key: 1e-9 if self.kind_ == "gaussian" else 1.0}

    def _candidates(self, X, search):
        grid = self.var_smoothings if self.kind_ == "gaussian" else self.alphas
        grid = grid if isinstance(grid, (list, tuple)) else (grid,)
        return [{self._key: float(v)} for v in grid]

    def _prefer(self, point, X):
        return -point[self._key]

    def _fit_info(self):
        return {"kind": self.kind_}

    def predict_proba(self, X):
        return self.model_.predict_proba(self._prepare(X))


#: scikit-learn's max_features values that TOML can write (1.0: every feature)
_MAX_FEATURES = AnyOf(Choice("sqrt", "log2"), Positive(integer=True), Number(0, 1, low_open=True))


def features_per_split(max_features, n_features: int) -> int:
    """How many features a tree tries per split under scikit-learn's ``max_features``."""
    if max_features is None:
        return n_features
    if max_features == "sqrt":
        return max(1, int(np.sqrt(n_features)))
    if max_features == "log2":
        return max(1, int(np.log2(n_features)))
    if isinstance(max_features, float):
        return max(1, int(max_features * n_features))
    return min(int(max_features), n_features)


class RandomForest(SearchTarget):
    """Random forest, the share of features tried per split chosen by inner CV (``max_features=None``).

    Ties go to the setting that tries more features per split (the less randomised trees;
    equal counts: grid order).
    """

    name = "random-forest"
    _parameter_constraints: ClassVar[dict] = {
        **SearchTarget._parameter_constraints,
        "n_estimators": Positive(integer=True), "max_features": AnyOf(Choice(None, "sqrt", "log2"), *_MAX_FEATURES.constraints[1:]),
        "max_features_grid": ListOf(_MAX_FEATURES), "cv": Positive(integer=True), "n_jobs": Positive(integer=True),
    }

    def __init__(self, n_estimators=200, max_features=None, max_features_grid=("sqrt", 0.1), cv=3,
                 scoring="accuracy", resampler="none", random_state=None, n_jobs=1):
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.max_features_grid = max_features_grid
        self.cv = cv
        self.scoring = scoring
        self.resampler = resampler
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _estimator(self, max_features):
        return RandomForestClassifier(n_estimators=self.n_estimators, max_features=max_features,
                                      random_state=self.random_state, n_jobs=self.n_jobs)

    def _fixed(self):
        return None if self.max_features is None else {"max_features": self.max_features}

    def _default(self, n_fit):
        return {"max_features": "sqrt"}

    def _candidates(self, X, search):
        return [{"max_features": value} for value in self.max_features_grid]

    def _prefer(self, point, X):
        return features_per_split(point["max_features"], X.shape[1])

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


class NearestCentroidTarget(Target):
    """Nearest class mean, by cosine (centroids of unit vectors) or euclidean distance; no hyperparameters."""

    name = "nearest-centroid"
    tags = TargetTags(proba=False)
    _parameter_constraints: ClassVar[dict] = {**COMMON_CONSTRAINTS, "metric": Choice("cosine", "euclidean")}

    def __init__(self, metric="cosine", resampler="none", random_state=None):
        self.metric = metric
        self.resampler = resampler
        self.random_state = random_state

    def _prepare(self, X):
        return normalize(X) if self.metric == "cosine" else X

    def fit(self, X, y, *, validation=None):
        """Fit the class means; a given ``validation`` set is not needed (nothing to choose)."""
        self._validate_params()
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        rows = resample_rows(self.resampler, y, self.random_state, FINAL_STREAM)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # per-feature std warnings: irrelevant without shrinkage
            self.model_ = NearestCentroid().fit(self._prepare(take(X, rows)), take(y, rows))
        self.n_fit_ = len(y) if rows is None else len(rows)
        self.chosen_params_ = {"search": "none (no hyperparameters)"}
        return self

    def predict(self, X):
        return self.model_.predict(self._prepare(X))

    def decision_function(self, X):
        X = self._prepare(X)
        centroids = self.model_.centroids_
        product = X @ centroids.T
        product = np.asarray(product.todense()) if sp.issparse(product) else np.asarray(product)
        if self.metric == "cosine":
            return product
        squared = np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X) else (X * X).sum(axis=1)
        return -(squared[:, None] - 2 * product + (centroids * centroids).sum(axis=1)[None, :])


__all__ = ["KNN", "RBFSVM", "NaiveBayes", "NearestCentroidTarget", "RandomForest", "features_per_split"]
