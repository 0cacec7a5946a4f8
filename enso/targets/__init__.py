"""Target models: the classifiers fitted on each training sample.

``TARGETS`` maps names to classes (entry-point group ``enso.targets`` for plug-ins);
``make_target(name, params)`` builds one, also from an import path such as
``sklearn.svm:LinearSVC`` for a scikit-learn classifier (from an allow-listed package:
see ``enso.targets.external``). Building is cheap and checks the parameters, so a config
is validated before any work starts.

Every registered target takes ``random_state``, ``resampler`` (applied inside the target:
see ``enso.targets.search``) and, when it chooses hyperparameters, ``scoring``; its ``fit``
takes ``validation=(X_val, y_val)``, a given validation set to choose on.
"""

from __future__ import annotations

from typing import Any

from enso.errors import ConfigError
from enso.registry import Registry, build
from enso.targets.base import Target
from enso.targets.baseline import Majority, Stratified
from enso.targets.classic import (
    KNN,
    RBFSVM,
    NaiveBayes,
    NearestCentroidTarget,
    RandomForest,
)
from enso.targets.external import OWN_PARAMS, SklearnTarget
from enso.targets.finetune import FineTune
from enso.targets.linear import LinearSVM, LogReg, SGDLogReg
from enso.targets.lora import LoRA
from enso.targets.neural import MLP, LayerMix
from enso.targets.sequence import CRF, BiLSTM, BiLSTMMix, TokenLogReg
from enso.targets.setfit import SetFit

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
TARGETS.register("majority", Majority, aliases=("most-frequent",))
TARGETS.register("stratified", Stratified, aliases=("random-guess",))
TARGETS.register("token-logreg", TokenLogReg, aliases=("per-token-logreg",))
TARGETS.register("crf", CRF, aliases=("linear-chain-crf",))
TARGETS.register("bilstm", BiLSTM)
TARGETS.register("bilstm-mix", BiLSTMMix)
TARGETS.register("finetune", FineTune, aliases=("fine-tune",))
TARGETS.register("setfit", SetFit)
TARGETS.register("lora", LoRA)


def make_target(name: str, params: dict[str, Any] | None = None) -> Target:
    """A target model by registered name or ``module.path:Class``; raises ``ConfigError`` on bad input."""
    params = dict(params or {})
    if ":" in name:
        own = {key: params.pop(key) for key in OWN_PARAMS if key in params}
        target: Target = SklearnTarget(name, params, **own)
        label = name
    else:
        target = build(TARGETS, name, params)
        label = TARGETS.canonical(name)
        if getattr(target, "name", Target.name) == Target.name:
            target.name = label
    try:
        target._validate_params()
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad parameters for target {label!r}: {exc}") from exc
    return target


def with_seed(target: Target, seed: int, given: dict[str, Any]) -> Target:
    """``target`` with ``random_state=seed`` unless the config set one (or the target has none)."""
    if "random_state" not in given and "random_state" in target.get_params(deep=False):
        target.set_params(random_state=seed)
    return target


__all__ = ["TARGETS", "Target", "make_target", "with_seed"]
