"""Hyperparameters chosen by stratified cross-validation on the training sample only."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold


def inner_folds(y: np.ndarray, cv: int, *, shuffle: bool = False, random_state: int | None = None):
    """The folds of a stratified ``cv``-fold split of ``y``, or a reason why there are none.

    Returns ``(folds, None)`` or ``(None, reason)``: CV needs at least ``cv`` examples of
    every class, otherwise a fold would miss a class.
    """
    if cv < 2:
        return None, f"cv={cv} means no inner CV"
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        return None, "only one class in the training sample"
    fewest = int(counts.min())
    if fewest < cv:
        return None, f"defaults: the smallest class has {fewest} examples, fewer than cv={cv} folds"
    splitter = StratifiedKFold(cv, shuffle=shuffle, random_state=random_state if shuffle else None)
    return list(splitter.split(np.zeros(len(y)), y)), None


def grid_points(grid: dict[str, tuple]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def cv_search(
    make: Callable[..., Any],
    grid: dict[str, tuple],
    X,
    y: np.ndarray,
    folds: list,
) -> tuple[dict[str, Any], list[float]]:
    """The grid point with the best mean fold accuracy (ties: the first in grid order)."""
    points = grid_points(grid)
    scores = np.zeros(len(points))
    for train, test in folds:
        for i, point in enumerate(points):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = make(**point).fit(X[train], y[train])
            scores[i] += float(np.mean(model.predict(X[test]) == y[test]))
    scores /= len(folds)
    best = int(np.argmax(scores))
    return points[best], scores.tolist()


def describe_search(folds, reason: str | None, scores: list[float] | None = None) -> dict[str, Any]:
    if folds is None:
        return {"search": reason}
    info: dict[str, Any] = {"search": f"stratified {len(folds)}-fold inner CV"}
    if scores is not None:
        info["cv_accuracy"] = round(float(max(scores)), 6)
    return info


def fit_quietly(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def cloned(model):
    return clone(model)
