"""How targets choose hyperparameters: one set of rules for every searching target.

- **Splits.** Inner folds are ``StratifiedKFold(cv, shuffle=True, random_state=random_state)``
  over the training sample as given (file-order blocks of a class never make a fold). With a
  given validation set (``fit(..., validation=(X_val, y_val))``) there are no folds: the
  candidates are fitted on the training sample and scored on the validation set.
- **Resampling.** The target's resampler is applied to each split's fitting part and to the
  final fit's set, never to a validation part, so no validation row has a copy in what the
  candidate was fitted on.
- **Scoring.** A ``METRICS`` name; label metrics read ``predict``, the others the model's
  probabilities (``predict_proba``) or, failing those, its decision scores; fold scores are
  averaged, and ``Metric.greater_is_better`` says which way is better (log loss: lower).
- **Ties.** Candidates whose mean score is within ``TIE_TOLERANCE`` of the best are tied; the
  target's ``_prefer`` key picks among them (the weaker regularisation), then grid order.
  ``ties="senteval"`` is SentEval's rule instead: scores rounded to two decimals of a percent,
  the first best in grid order (``regs[np.argmax(scores)]`` over an ascending C grid).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold

from enso.targets.base import COMMON_CONSTRAINTS, SCORING_CONSTRAINT, Target, jsonable

#: Mean scores this close to the best count as equal.
TIE_TOLERANCE = 1e-12
#: Random streams of one ``random_state``: the final fit's resampling uses stream 0, fold i's stream i + 1.
FINAL_STREAM = 0


def inner_folds(y: np.ndarray, cv: int, random_state: int | None = None):
    """The folds of a shuffled, stratified ``cv``-fold split of ``y``, or a reason why there are none.

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
    splitter = StratifiedKFold(cv, shuffle=True, random_state=random_state)
    return list(splitter.split(np.zeros(len(y)), y)), None


def resample_rows(resampler: str, y: np.ndarray, random_state: int | None, stream: int) -> np.ndarray | None:
    """Positions of ``y`` to fit on after ``resampler`` (``None``: all of them, as given)."""
    from enso.sampling import RESAMPLERS

    chosen = RESAMPLERS.get(resampler)
    if chosen.name == "none":
        return None
    rng = np.random.default_rng(None if random_state is None else [int(random_state), stream])
    return np.asarray(chosen.resample(np.asarray(y), rng), dtype=np.int64)


def take(X, rows: np.ndarray | None):
    """``X[rows]``, or ``X`` itself for ``None`` (no copy)."""
    return X if rows is None else X[rows]


def model_scores(model, X) -> tuple[str, np.ndarray] | None:
    """``("proba", P)`` if ``model`` gives probabilities, else ``("decision", D)``, else ``None``."""
    if hasattr(model, "predict_proba"):
        try:
            return "proba", np.asarray(model.predict_proba(X))
        except AttributeError:  # e.g. SVC(probability=False) exposes the method but refuses
            pass
    if hasattr(model, "decision_function"):
        return "decision", np.asarray(model.decision_function(X))
    return None


@dataclass(frozen=True)
class Split:
    """One comparison of candidates: fit on rows ``fit`` of X (resampled), score on rows ``val``."""

    fit: np.ndarray | None  # None: all of X as given
    val: np.ndarray | None  # None: the given validation set


class Search:
    """The splits a target's candidates are compared on, and how they are scored and picked.

    ``splits`` is ``None`` when no search is possible (``reason`` says why); ``final_rows`` are
    the rows of the final fit after resampling (``None``: all rows as given).
    """

    def __init__(self, y, *, cv: int, scoring: str = "accuracy", resampler: str = "none",
                 random_state: int | None = None, validation=None):
        from enso.metrics import METRICS

        self.y = np.asarray(y)
        self.metric = METRICS.get(scoring)
        self.random_state = random_state
        self.final_rows = resample_rows(resampler, self.y, random_state, FINAL_STREAM)
        self.validation = None
        if validation is not None:
            X_val, y_val = validation
            self.validation = (X_val, np.asarray(y_val))
            self.splits: list[Split] | None = [Split(self.final_rows, None)]
            self.reason, self.description = None, "given validation split"
            return
        folds, self.reason = inner_folds(self.y, cv, random_state)
        self.splits = None
        self.description = None
        if folds is not None:
            self.splits = []
            for i, (train, val) in enumerate(folds):
                picked = resample_rows(resampler, self.y[train], random_state, FINAL_STREAM + 1 + i)
                self.splits.append(Split(train if picked is None else train[picked], val))
            self.description = f"stratified {len(folds)}-fold inner CV, shuffled"

    @property
    def possible(self) -> bool:
        return self.splits is not None

    def fit_sizes(self) -> list[int]:
        return [len(self.y) if s.fit is None else len(s.fit) for s in self.splits or []]

    def data(self, split: Split, X):
        """``(X_fit, y_fit, X_val, y_val)`` of ``split``."""
        X_fit, y_fit = take(X, split.fit), take(self.y, split.fit)
        if split.val is None:
            return X_fit, y_fit, *self.validation
        return X_fit, y_fit, X[split.val], self.y[split.val]

    def score(self, model, X_val, y_val) -> float:
        """``model``'s score on a validation part by the search's metric (NaN when it cannot be computed)."""
        if self.metric.needs == "labels":
            return self.metric(y_val, model.predict(X_val))
        return self.metric(y_val, None, np.asarray(model.classes_), model_scores(model, X_val))

    def grid_scores(self, make: Callable[..., Any], points: list[dict[str, Any]], X) -> np.ndarray:
        """Mean score of ``make(**point)`` over the splits, for every point."""
        totals = np.zeros(len(points))
        for split in self.splits:
            X_fit, y_fit, X_val, y_val = self.data(split, X)
            for i, point in enumerate(points):
                totals[i] += self.score(fit_quietly(make(**point), X_fit, y_fit), X_val, y_val)
        return totals / len(self.splits)

    def pick(self, points: list[dict[str, Any]], scores, prefer: Callable[[dict[str, Any]], Any],
             ties: str = "weaker") -> int:
        """Index of the best point by :func:`pick_best` (ties to the largest ``prefer(point)``)."""
        return pick_best(scores, self.metric.greater_is_better, lambda i: prefer(points[i]), ties)

    def describe(self, score: float | None = None) -> dict[str, Any]:
        if self.splits is None:
            return {"search": self.reason}
        info: dict[str, Any] = {"search": self.description}
        if score is not None:
            where = "validation" if self.validation is not None else "cv"
            info[f"{where}_{self.metric.name}"] = round(float(score), 6)
        return info


def pick_best(scores, greater_is_better: bool, prefer: Callable[[int], Any], ties: str = "weaker") -> int:
    """Index of the best of ``scores`` (NaN: worst); ties (within ``TIE_TOLERANCE``) go to the largest
    ``prefer(index)``, then the first in grid order; with ``ties="senteval"``, the first best in grid order of
    the scores rounded as SentEval rounds them. Every searching target picks this way (``Search.pick``,
    ``token-logreg``)."""
    scores = np.asarray(scores, dtype=float)
    signed = scores if greater_is_better else -scores
    signed = np.where(np.isnan(signed), -np.inf, signed)
    if ties == "senteval":
        return int(np.argmax(np.round(100 * signed, 2)))
    best = signed.max()
    tied = [i for i in range(len(signed)) if signed[i] >= best - TIE_TOLERANCE]
    return max(tied, key=lambda i: (prefer(i), -i))


def fit_quietly(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


class SearchTarget(Target):
    """A target that chooses its hyperparameters from a grid by this module's rules.

    Subclasses implement ``_estimator(**point)`` (an unfitted scikit-learn classifier),
    ``_fixed()`` (the point the user fixed, or None), ``_default(n_fit)`` (the point used
    when no search is possible), ``_candidates(X, search)`` (the grid) and ``_prefer(point, X)``
    (the tie key: larger wins, i.e. the weaker regularisation). They may override
    ``_setup(X)``, ``_prepare(X)`` (an input transform used for fit, validation and predict),
    ``_search_scores`` (LogReg walks a warm-started path) and ``_fit_info()``.
    """

    _parameter_constraints: ClassVar[dict] = {**COMMON_CONSTRAINTS, **SCORING_CONSTRAINT}

    def _setup(self, X) -> None:
        pass

    def _prepare(self, X):
        return X

    def _final(self, point: dict[str, Any], n_fit: int) -> dict[str, Any]:
        """The point as the final fit on ``n_fit`` rows uses it (k-NN caps k)."""
        return point

    def _search_scores(self, points, X, search: Search) -> np.ndarray:
        return search.grid_scores(self._estimator, points, X)

    def _fit_info(self) -> dict[str, Any]:
        return {}

    def fit(self, X, y, *, validation=None):
        self._validate_params()
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self._setup(X)
        X = self._prepare(X)
        if validation is not None:
            validation = (self._prepare(validation[0]), np.asarray(validation[1]))
        search = Search(y, cv=self.cv, scoring=self.scoring, resampler=self.resampler,
                        random_state=self.random_state, validation=validation)
        n_fit = len(y) if search.final_rows is None else len(search.final_rows)
        point = self._fixed()
        if point is not None:
            info = {"search": "fixed"}
        elif not search.possible:
            point, info = self._default(n_fit), search.describe()
        else:
            points = self._candidates(X, search)
            scores = self._search_scores(points, X, search)
            best = search.pick(points, scores, lambda p: self._prefer(p, X), getattr(self, "ties", "weaker"))
            point, info = points[best], search.describe(scores[best])
        point = self._final(point, n_fit)
        self.model_ = fit_quietly(self._estimator(**point), take(X, search.final_rows), take(y, search.final_rows))
        self.n_fit_ = n_fit
        self.chosen_params_ = {**jsonable(point), **info, **self._fit_info()}
        return self

    def predict(self, X):
        return self.model_.predict(self._prepare(X))
