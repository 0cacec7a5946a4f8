"""Non-linear and instance-based targets: RBF SVM, k-NN, naive Bayes, random forest, nearest centroid."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import RandomForestClassifier
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.preprocessing import normalize
from sklearn.svm import SVC

from enso.params import check_choice, check_grid, check_positive
from enso.targets.base import Target
from enso.targets.linear import DEFAULT_CS, _Delegate, search_and_fit
from enso.targets.search import cv_search, describe_search, inner_folds


class RBFSVM(_Delegate):
    """Support vector machine with an RBF kernel (gamma='scale'), C by inner CV."""

    name = "rbf-svm"

    def __init__(self, C=None, Cs=DEFAULT_CS, gamma="scale", cv=3, class_weight=None):
        check_positive("C", C, allow_none=True)
        check_grid("Cs", Cs)
        if gamma not in ("scale", "auto"):
            check_positive("gamma", gamma)
        check_positive("cv", cv, integer=True)
        check_choice("class_weight", class_weight, (None, "balanced"))
        self.C = C
        self.Cs = Cs
        self.gamma = gamma
        self.cv = cv
        self.class_weight = class_weight

    def _model(self, C):
        return SVC(C=C, kernel="rbf", gamma=self.gamma, class_weight=self.class_weight)

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.model_, self.chosen_params_ = search_and_fit(self._model, "C", self.C, self.Cs, 1.0, self.cv, X, y)
        return self


class KNN(Target):
    """k nearest neighbours by cosine or euclidean distance, k by inner CV (capped by the sample size)."""

    name = "knn"

    def __init__(self, n_neighbors=None, neighbors=(1, 3, 5, 9, 15), metric="cosine", weights="distance", cv=3):
        check_positive("n_neighbors", n_neighbors, integer=True, allow_none=True)
        check_grid("neighbors", neighbors, kind=(int,))
        check_choice("metric", metric, ("cosine", "euclidean"))
        check_choice("weights", weights, ("uniform", "distance"))
        check_positive("cv", cv, integer=True)
        self.n_neighbors = n_neighbors
        self.neighbors = neighbors
        self.metric = metric
        self.weights = weights
        self.cv = cv

    def _prepare(self, X):
        # cosine distance ranks like euclidean distance between unit vectors, which the fast paths support
        return normalize(X) if self.metric == "cosine" else X

    def _model(self, n_neighbors):
        return KNeighborsClassifier(n_neighbors=n_neighbors, weights=self.weights, algorithm="brute")

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        X = self._prepare(X)
        n = X.shape[0]
        if self.n_neighbors is not None:
            k = min(self.n_neighbors, n)
            self.model_ = self._model(k).fit(X, y)
            self.chosen_params_ = {"n_neighbors": k, "search": "fixed"}
            return self
        folds, reason = inner_folds(y, self.cv)
        if folds is None:
            k = min(5, n)
            self.model_ = self._model(k).fit(X, y)
            self.chosen_params_ = {"n_neighbors": k, **describe_search(None, reason)}
            return self
        smallest_train = min(len(train) for train, _ in folds)
        grid = tuple(sorted({min(k, smallest_train) for k in self.neighbors}))
        best, scores = cv_search(self._model, {"n_neighbors": grid}, X, y, folds)
        self.model_ = self._model(min(best["n_neighbors"], n)).fit(X, y)
        self.chosen_params_ = {**best, **describe_search(folds, None, scores)}
        return self

    def predict(self, X):
        return self.model_.predict(self._prepare(X))

    def predict_proba(self, X):
        return self.model_.predict_proba(self._prepare(X))


class NaiveBayes(Target):
    """Naive Bayes: Gaussian on dense features, multinomial on non-negative sparse counts or TF-IDF."""

    name = "naive-bayes"

    def __init__(self, kind="auto", var_smoothings=(1e-9, 1e-6, 1e-3, 1e-1), alphas=(0.01, 0.1, 1.0), cv=3):
        check_choice("kind", kind, ("auto", "gaussian", "multinomial"))
        check_grid("var_smoothings", var_smoothings)
        check_grid("alphas", alphas)
        check_positive("cv", cv, integer=True)
        self.kind = kind
        self.var_smoothings = var_smoothings
        self.alphas = alphas
        self.cv = cv

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        kind = self.kind
        if kind == "auto":
            kind = "multinomial" if sp.issparse(X) and (X.data >= 0).all() else "gaussian"
        if kind == "gaussian":
            self._dense = True
            X = X.toarray() if sp.issparse(X) else X
            self.model_, chosen = search_and_fit(lambda var_smoothing: GaussianNB(var_smoothing=var_smoothing),
                                                 "var_smoothing", None, self.var_smoothings, 1e-9, self.cv, X, y)
        else:
            self._dense = False
            self.model_, chosen = search_and_fit(lambda alpha: MultinomialNB(alpha=alpha), "alpha", None,
                                                 self.alphas, 1.0, self.cv, X, y)
        self.chosen_params_ = {"kind": kind, **chosen}
        return self

    def _input(self, X):
        return X.toarray() if self._dense and sp.issparse(X) else X

    def predict(self, X):
        return self.model_.predict(self._input(X))

    def predict_proba(self, X):
        return self.model_.predict_proba(self._input(X))


class RandomForest(_Delegate):
    """Random forest, the share of features tried per split chosen by inner CV."""

    name = "random-forest"

    def __init__(self, n_estimators=200, max_features=None, max_features_grid=("sqrt", 0.1), cv=3,
                 random_state=None, n_jobs=1):
        check_positive("n_estimators", n_estimators, integer=True)
        if not isinstance(max_features_grid, (list, tuple)) or not max_features_grid:
            raise ValueError(f"max_features_grid must be a non-empty list, got {max_features_grid!r}")
        check_positive("cv", cv, integer=True)
        check_positive("n_jobs", n_jobs, integer=True)
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.max_features_grid = max_features_grid
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _model(self, max_features):
        return RandomForestClassifier(n_estimators=self.n_estimators, max_features=max_features,
                                      random_state=self.random_state, n_jobs=self.n_jobs)

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.model_, self.chosen_params_ = search_and_fit(self._model, "max_features", self.max_features,
                                                          tuple(self.max_features_grid), "sqrt", self.cv, X, y)
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


class NearestCentroidTarget(Target):
    """Nearest class mean, by cosine (centroids of unit vectors) or euclidean distance; no hyperparameters."""

    name = "nearest-centroid"

    def __init__(self, metric="cosine"):
        check_choice("metric", metric, ("cosine", "euclidean"))
        self.metric = metric

    def _prepare(self, X):
        return normalize(X) if self.metric == "cosine" else X

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # per-feature std warnings: irrelevant without shrinkage
            self.model_ = NearestCentroid().fit(self._prepare(X), y)
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


__all__ = ["KNN", "RBFSVM", "NaiveBayes", "NearestCentroidTarget", "RandomForest", "cv_search", "inner_folds"]
