"""What every target model is: a scikit-learn classifier that records the hyperparameters it chose."""

from __future__ import annotations

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
