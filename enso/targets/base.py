"""What every target model is: a scikit-learn classifier that records the hyperparameters it chose."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Target(ClassifierMixin, BaseEstimator):
    """A classifier fitted on one training sample.

    Subclasses take their parameters in ``__init__`` (stored as given, checked, no work),
    fit in ``fit``, and after fitting expose ``classes_`` and ``chosen_params_``: the
    hyperparameters actually used and how they were chosen (inner CV, fixed, or defaults
    because the sample was too small for CV).
    """

    name = "target"
    #: whether ``fit``/``predict`` take scipy sparse matrices
    accepts_sparse = True
    #: 2 for ``(n, d)`` features, 3 for ``(n, layers, d)`` features
    input_ndim = 2

    def scores(self, X) -> tuple[str, np.ndarray] | None:
        """Class scores for ranking metrics: ``("proba", P)`` or ``("decision", D)``, columns in ``classes_`` order."""
        if hasattr(self, "predict_proba") and getattr(self, "has_proba", True):
            return "proba", np.asarray(self.predict_proba(X))
        if hasattr(self, "decision_function"):
            return "decision", np.asarray(self.decision_function(X))
        return None


def check_grid(name: str, values: Any, *, positive: bool = True, kind=(int, float)) -> tuple:
    """A non-empty tuple of numbers; raises ValueError naming the parameter."""
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"{name} must be a non-empty list of numbers, got {values!r}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ValueError(f"{name} must hold numbers, got {value!r}")  # noqa: TRY004 - build() maps it to ConfigError
        if positive and value <= 0:
            raise ValueError(f"{name} must hold positive numbers, got {value!r}")
    return tuple(values)


def check_positive(name: str, value: Any, *, integer: bool = False, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        what = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {what}, got {value!r}")


def check_choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
