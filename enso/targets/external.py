"""Any scikit-learn classifier named by import path: ``sklearn.svm:LinearSVC`` plus its parameters."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier

from enso.errors import ConfigError
from enso.registry import check_params
from enso.targets.base import Target
from enso.targets.search import fit_quietly


def resolve_class(path: str) -> type:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"target {path!r}: write an import path as 'package.module:Class', e.g. 'sklearn.svm:LinearSVC'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"target {path!r}: cannot import module {module_name!r} ({exc}); install it or fix the path") from exc
    obj = module
    for part in attribute.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ConfigError(f"target {path!r}: module {module_name!r} has no {attribute!r}")
    if not isinstance(obj, type):
        raise ConfigError(f"target {path!r} is not a class; name a scikit-learn classifier class")
    return obj


class SklearnTarget(Target):
    """A scikit-learn classifier used as given: fixed parameters, no inner search."""

    def __init__(self, estimator_path: str, params: dict[str, Any] | None = None):
        self.estimator_path = estimator_path
        self.params = params
        cls = resolve_class(estimator_path)
        check_params("target", estimator_path, cls, dict(params or {}))
        estimator = cls(**(params or {}))
        if not is_classifier(estimator):
            raise ConfigError(f"target {estimator_path!r} is not a scikit-learn classifier")
        validate = getattr(estimator, "_validate_params", None)
        if callable(validate):
            try:
                validate()
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"bad parameters for target {estimator_path!r}: {exc}") from exc
        self._template = estimator

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.estimator_path

    def get_params(self, deep=True):
        return {"estimator_path": self.estimator_path, "params": self.params}

    def set_params(self, **params):
        merged = dict(self.params or {})
        for key, value in params.items():
            if key in ("estimator_path", "params"):
                setattr(self, key, value)
            else:
                merged[key] = value
        self.__init__(self.estimator_path, merged)
        return self

    def accepts_param(self, key: str) -> bool:
        return key in self._template.get_params()

    def fit(self, X, y):
        y = np.asarray(y)
        self.model_ = fit_quietly(clone(self._template), X, y)
        self.classes_ = np.asarray(self.model_.classes_)
        self.chosen_params_ = {"search": "fixed"}
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def scores(self, X):
        if hasattr(self.model_, "predict_proba"):
            try:
                return "proba", np.asarray(self.model_.predict_proba(X))
            except AttributeError:  # e.g. SVC(probability=False) exposes the method but refuses
                pass
        if hasattr(self.model_, "decision_function"):
            return "decision", np.asarray(self.model_.decision_function(X))
        return None
