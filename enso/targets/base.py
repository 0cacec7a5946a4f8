"""What every target model is: a scikit-learn classifier that records the hyperparameters it chose."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from enso.params import Constraint, Registered, Seed, validate_params

#: The task types a target that classifies feature rows fits: one label per row, whether the row
#: is a text's features or a pair's combined features.
ROW_CLASSIFICATION = ("classification", "pair-classification")


@dataclass(frozen=True)
class TargetTags:
    """What a target takes and gives, readable from its class without building it (``TARGETS.get(name).tags``).

    - ``input``: ``"features"``: a feature matrix from a featurizer (every target today);
      ``"texts"``: the texts themselves plus the source model of the featurizer the target
      names (``Featurizer.source_model_folder()``, a ``SourceModel``): the fine-tuning targets.
    - ``accepts_sparse``: whether ``fit``/``predict`` take scipy sparse matrices.
    - ``input_ndim``: 2 for ``(n, d)`` features, 3 for ``(n, layers, d)`` (``layers = "all"``).
    - ``tasks``: the task types (``enso.tasks`` names) it fits.
    - ``proba``: whether ``scores`` gives probabilities (log loss, and searching by it, need them).
    """

    input: str = "features"
    accepts_sparse: bool = True
    input_ndim: int = 2
    tasks: tuple[str, ...] = ROW_CLASSIFICATION
    proba: bool = True

    def __post_init__(self):
        if self.input not in ("features", "texts"):
            raise ValueError(f"TargetTags.input must be 'features' or 'texts', got {self.input!r}")
        if self.input_ndim not in (2, 3):
            raise ValueError(f"TargetTags.input_ndim must be 2 or 3, got {self.input_ndim!r}")


#: Class attributes that were tags before ``TargetTags`` (old name -> field); a subclass that still
#: sets one (a plug-in written against the old interface) has it folded into its ``tags``, with a
#: DeprecationWarning.
_LEGACY_TAGS = {"accepts_sparse": "accepts_sparse", "input_ndim": "input_ndim", "has_proba": "proba"}

#: Parameters every registered target takes (the engine sets them per cell).
COMMON_CONSTRAINTS: dict[str, Constraint] = {
    "random_state": Seed(),
    "resampler": Registered("enso.sampling:RESAMPLERS"),
}
#: The parameter of every target that chooses hyperparameters: the METRICS name it optimises.
SCORING_CONSTRAINT: dict[str, Constraint] = {"scoring": Registered("enso.metrics:METRICS")}


class SourceFeaturizer(Constraint):
    """The featurizer whose model an ``input="texts"`` target fine-tunes (its ``source`` parameter):
    a registered featurizer name whose ``tags.source_model`` is set."""

    def check(self, name, value):
        Registered("enso.features:FEATURIZERS").check(name, value)
        from enso.features import FEATURIZERS
        from enso.features.base import source_model_featurizers

        if not FEATURIZERS.get(value).tags.source_model:
            raise ValueError(f"{name}: featurizer {value!r} has no model folder a fine-tuning target can take; "
                             f"name one of {', '.join(source_model_featurizers())}")

    def describe(self):
        return "a featurizer with a model folder"


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

    ``tags`` (a ``TargetTags``) says what it takes. ``input="features"`` targets get ``X`` from
    the features of the featurizer they are crossed with (the task type lays them out per
    cell). ``input="texts"`` targets (fine-tuning) get ``X`` as the list of texts and the source
    model as ``fit(X, y, *, validation=None, source=SourceModel)``, from the featurizer their
    ``source`` parameter names (``SourceFeaturizer`` checks it); ``predict``/``scores`` take texts.
    """

    name = "target"
    tags: ClassVar[TargetTags] = TargetTags()
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        legacy = {old: cls.__dict__[old] for old in _LEGACY_TAGS if isinstance(cls.__dict__.get(old), (bool, int))}
        if legacy:
            import warnings

            cls.tags = dataclasses.replace(cls.tags, **{_LEGACY_TAGS[old]: value for old, value in legacy.items()})
            for old in legacy:
                delattr(cls, old)
            fields = ", ".join(f"{_LEGACY_TAGS[old]}={value!r}" for old, value in legacy.items())
            warnings.warn(f"{cls.__name__} sets {', '.join(legacy)}; declare tags = TargetTags({fields}) instead",
                          DeprecationWarning, stacklevel=2)

    def _validate_params(self) -> None:
        """Raise ValueError naming the first parameter that breaks its declared constraint."""
        validate_params(self._parameter_constraints, self.get_params(deep=False))
        self._check_together()

    def _check_together(self) -> None:
        """Checks that involve more than one parameter (or the class); none by default."""
        if "scoring" in self._parameter_constraints and not self.tags.proba:
            from enso.metrics import METRICS

            metric = METRICS.get(self.get_params(deep=False)["scoring"])
            if metric.needs == "proba":
                raise ValueError(f"scoring={metric.name!r} needs probabilities, which {self.name} does not give; "
                                 "choose another scoring for this target (e.g. accuracy or roc_auc)")

    def scores(self, X) -> tuple[str, np.ndarray] | None:
        """Class scores for ranking metrics: ``("proba", P)`` or ``("decision", D)``, columns in ``classes_`` order."""
        if hasattr(self, "predict_proba") and self.tags.proba:
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
