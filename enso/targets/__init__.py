"""Target models: the classifiers fitted on each training sample.

``TARGETS`` maps names to classes (entry-point group ``enso.targets`` for plug-ins);
``make_target(name, params)`` builds one, also from an import path such as
``sklearn.svm:LinearSVC`` for any scikit-learn classifier. Building is cheap and checks
the parameters, so a config is validated before any work starts.
"""

from __future__ import annotations

from typing import Any

from enso.registry import Registry, build
from enso.targets.base import Target
from enso.targets.classic import (
    KNN,
    RBFSVM,
    NaiveBayes,
    NearestCentroidTarget,
    RandomForest,
)
from enso.targets.external import SklearnTarget
from enso.targets.linear import LinearSVM, LogReg, SGDLogReg
from enso.targets.neural import MLP, LayerMix

TARGETS: Registry[type[Target]] = Registry("target", "enso.targets")
TARGETS.register("logreg", LogReg, aliases=("logistic-regression", "lr"))
TARGETS.register("logreg-sgd", SGDLogReg, aliases=("sgd",))
TARGETS.register("linear-svm", LinearSVM, aliases=("svm",))
TARGETS.register("rbf-svm", RBFSVM)
TARGETS.register("knn", KNN, aliases=("k-nn",))
TARGETS.register("naive-bayes", NaiveBayes, aliases=("nb",))
TARGETS.register("random-forest", RandomForest, aliases=("rf",))
TARGETS.register("nearest-centroid", NearestCentroidTarget, aliases=("centroid",))
TARGETS.register("mlp", MLP)
TARGETS.register("layer-mix", LayerMix)


def make_target(name: str, params: dict[str, Any] | None = None) -> Target:
    """A target model by registered name or ``module.path:Class``; raises ``ConfigError`` on bad input."""
    if ":" in name:
        return SklearnTarget(name, dict(params or {}))
    target = build(TARGETS, name, params)
    if not hasattr(target, "name"):
        target.name = TARGETS.canonical(name)
    return target


def with_seed(target: Target, seed: int, given: dict[str, Any]) -> Target:
    """``target`` with ``random_state=seed`` unless the config set one (or the target has none)."""
    if "random_state" in given:
        return target
    if isinstance(target, SklearnTarget):
        if target.accepts_param("random_state"):
            target.set_params(random_state=seed)
        return target
    if "random_state" in target.get_params(deep=False):
        target.set_params(random_state=seed)
    return target


__all__ = ["TARGETS", "Target", "make_target", "with_seed"]
