"""What every target model is: a scikit-learn classifier that records the hyperparameters it chose."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from enso.params import Constraint, Registered, Seed, validate_params

#: Parameters every registered target takes (the engine sets them per cell).
COMMON_CONSTRAINTS: dict[str, Constraint] = {
    "random_state": Seed(),
    "resampler": Registered("enso.engine.sampling:RESAMPLERS"),
}
#: The parameter of every target that chooses hyperparameters: the METRICS name it optimises.
SCORING_CONSTRAINT: dict[str, Constraint] = {"scoring": Registered("enso.metrics:METRICS")}


class Target(ClassifierMixin, BaseEstimator):
    """A classifier fitted on one training sample.

    Subclasses declare their parameters once in ``_parameter_constraints`` (checked by
    ``_validate_params``, which ``make_target`` calls when a config loads and ``fit`` calls
    again); ``__init__`` only stores them, so ``set_params`` and ``clone`` behave as in
    scikit-learn. Every registered target takes ``random_state`` and ``resampler`` (applied
    inside the target to every set it fits on, never to a validation part), and
    ``fit(X, y, *, validation=None)``. After fitting it exposes ``classes_``,
    ``chosen_params_`` (the hyperparameters used and how they were chosen) and ``n_fit_``
    (rows of the final fit, after resampling).
    """

    name = "target"
    #: whether ``fit``/``predict`` take scipy sparse matrices
    accepts_sparse = True
    #: 2 for ``(n, d)`` features, 3 for ``(n, layers, d)`` features
    input_ndim = 2
    #: whether ``scores`` gives probabilities (searching by log loss needs them)
    has_proba = True
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {}

    def _validate_params(self) -> None:
        """Raise ValueError naming the first parameter that breaks its declared constraint."""
        validate_params(self._parameter_constraints, self.get_params(deep=False))
        self._check_together()

    def _check_together(self) -> None:
        """Checks that involve more than one parameter (or the class); none by default."""
        if "scoring" in self._parameter_constraints and not self.has_proba:
            from enso.metrics import METRICS

            metric = METRICS.get(self.get_params(deep=False)["scoring"])
            if metric.needs == "proba":
                raise ValueError(f"scoring={metric.name!r} needs probabilities, which {self.name} does not give; "
                                 "choose another scoring for this target (e.g. accuracy or roc_auc)")

    def scores(self, X) -> tuple[str, np.ndarray] | None:
        """Class scores for ranking metrics: ``("proba", P)`` or ``("decision", D)``, columns in ``classes_`` order."""
        if hasattr(self, "predict_proba") and self.has_proba:
            return "proba", np.asarray(self.predict_proba(X))
        if hasattr(self, "decision_function"):
            return "decision", np.asarray(self.decision_function(X))
        return None


def jsonable(point: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameter values as plain JSON numbers and strings."""
    out = {}
    for key, value in point.items():
        if isinstance(value, (bool, np.bool_)):
            out[key] = bool(value)
        elif isinstance(value, (int, np.integer)):
            out[key] = int(value)
        elif isinstance(value, (float, np.floating)):
            out[key] = float(value)
        else:
            out[key] = value
    return out
