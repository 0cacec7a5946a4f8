"""Any scikit-learn classifier named by import path: ``sklearn.svm:LinearSVC`` plus its parameters.

Configs get shared, so reading one must never run code. An import path is checked in
this order, and anything that fails is a ``ConfigError`` before the next step:

1. it has the form ``package.module:Class`` (identifiers only);
2. its top-level package is allowed: ``sklearn``, or a package that registers targets
   through the ``enso.targets`` entry point (checked *before* anything is imported);
3. the module imports and has that attribute, and it is a class (resolved, never called);
4. the class is a subclass of scikit-learn's ``BaseEstimator`` and ``ClassifierMixin``;
5. only then is it instantiated with the config's parameters (scikit-learn's ``__init__``
   only stores them), which it validates.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from enso.errors import ConfigError
from enso.params import validate_params
from enso.registry import check_params
from enso.targets.base import COMMON_CONSTRAINTS, Target
from enso.targets.search import (
    FINAL_STREAM,
    fit_quietly,
    model_scores,
    resample_rows,
    take,
)

#: Parameters of the wrapper itself; every other parameter goes to the estimator.
OWN_PARAMS = ("resampler", "random_state")


def allowed_packages() -> list[str]:
    """Top-level packages an import-path target may come from: scikit-learn and every target plug-in's."""
    allowed = {"sklearn"}
    for entry in metadata.entry_points(group="enso.targets"):
        allowed.add(entry.value.split(":", 1)[0].split(".", 1)[0].strip())
    return sorted(allowed)


def resolve_class(path: str) -> type:
    """The classifier class named by ``path``, imported only from an allowed package and never called."""
    module_name, _, attribute = path.partition(":")
    if (not module_name or not attribute or not attribute.isidentifier()
            or not all(part.isidentifier() for part in module_name.split("."))):
        raise ConfigError(f"target {path!r}: write an import path as 'package.module:Class', e.g. 'sklearn.svm:LinearSVC'")
    package = module_name.split(".", 1)[0]
    allowed = allowed_packages()
    if package not in allowed:
        raise ConfigError(f"target {path!r}: import-path targets must come from {', '.join(allowed)} (or a package "
                          f"that registers enso targets); {package!r} is not one, so it was not imported")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"target {path!r}: cannot import module {module_name!r} ({exc}); install it or fix the path") from exc
    obj = getattr(module, attribute, None)
    if obj is None:
        raise ConfigError(f"target {path!r}: module {module_name!r} has no {attribute!r}")
    if not isinstance(obj, type):
        raise ConfigError(f"target {path!r} is not a class; name a scikit-learn classifier class")
    if not (issubclass(obj, BaseEstimator) and issubclass(obj, ClassifierMixin)):
        raise ConfigError(f"target {path!r} is not a scikit-learn classifier (a subclass of BaseEstimator and "
                          "ClassifierMixin); name one such as 'sklearn.svm:LinearSVC'")
    return obj


class SklearnTarget(Target):
    """A scikit-learn classifier used as given: fixed parameters, no inner search.

    ``random_state`` seeds the resampling and, when the estimator takes one and ``params``
    does not set it, the estimator. A given validation set is not used (nothing to choose).
    """

    _parameter_constraints = COMMON_CONSTRAINTS

    def __init__(self, estimator_path: str, params: dict[str, Any] | None = None, resampler="none",
                 random_state=None):
        self.estimator_path = estimator_path
        self.params = params
        self.resampler = resampler
        self.random_state = random_state

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.estimator_path

    def set_params(self, **params):
        """Set the wrapper's own parameters; any other key is an estimator parameter, merged into ``params``."""
        merged = dict(self.params or {})
        for key, value in params.items():
            if key in ("estimator_path", "params", *OWN_PARAMS):
                setattr(self, key, value)
                if key == "params":
                    merged = dict(value or {})
            else:
                merged[key] = value
        self.params = merged
        return self

    def _estimator(self):
        """A new, unfitted estimator: the class checked as the module docstring says, then built."""
        cls = resolve_class(self.estimator_path)
        params = dict(self.params or {})
        check_params("target", self.estimator_path, cls, params)
        try:
            estimator = cls(**params)
            validate = getattr(estimator, "_validate_params", None)
            if callable(validate):
                validate()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad parameters for target {self.estimator_path!r}: {exc}") from exc
        if (self.random_state is not None and "random_state" not in params
                and "random_state" in estimator.get_params(deep=False)):
            estimator.set_params(random_state=self.random_state)
        return estimator

    def _validate_params(self) -> None:
        validate_params(self._parameter_constraints, {k: getattr(self, k) for k in OWN_PARAMS})
        self._estimator()

    def fit(self, X, y, *, validation=None):
        self._validate_params()
        y = np.asarray(y)
        rows = resample_rows(self.resampler, y, self.random_state, FINAL_STREAM)
        self.model_ = fit_quietly(self._estimator(), take(X, rows), take(y, rows))
        self.classes_ = np.asarray(self.model_.classes_)
        self.n_fit_ = len(y) if rows is None else len(rows)
        self.chosen_params_ = {"search": "fixed"}
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def scores(self, X):
        return model_scores(self.model_, X)
