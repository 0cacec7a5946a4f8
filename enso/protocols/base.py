"""What every evaluation protocol is: a name, its options with their defaults, and a cell builder.

A protocol turns one dataset of an experiment into cells, each added through
``plan.add_cell(...)``: which rows a target is fitted on, which it is scored on, and (where the
protocol says so) which rows an in-domain featurizer learns from (``fit_rows``) and which given
validation rows choose the target's hyperparameters (``validation_rows``). The planning types a
protocol produces live here too: ``Draw`` (a training sample, drawn later or given as rows) and
``Skip`` (a sample the dataset cannot give, with the reason). A protocol imports nothing from
the engine: the plan it fills is handed to ``build``.

Options are declared once: ``defaults`` names every option and its default,
``_parameter_constraints`` maps an option to an ``enso.params.Constraint``, checked by
``enso.params.validate_params``, the validator of component parameters and config keys, with
the same one-line messages. A config's ``protocol_options`` is checked before any work starts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from enso.errors import ConfigError
from enso.params import Constraint, Integer, check_int, validate_params

if TYPE_CHECKING:
    from enso.config import Spec

OptionCheck = Callable[[str, Any], None]


@dataclass
class Draw:
    """A training sample: how to draw it, and (once drawn) the dataset rows it holds."""

    dataset: str
    sampler: str
    size: int
    resample: int
    seed: int
    featurizer: Spec | None = None  # set for samplers that look at features
    rows: np.ndarray | None = None


@dataclass
class Skip:
    """A sample the protocol could not make for a dataset, and why (reported, never silent)."""

    dataset: str
    sampler: str
    train_size: int
    reason: str

    def describe(self) -> str:
        return f"{self.dataset}: {self.sampler} sample of size {self.train_size} skipped: {self.reason}"


class PositiveList(Constraint):
    """A non-empty list of positive numbers (a hyperparameter grid)."""

    def check(self, name: str, value: Any) -> None:
        check_positive_list(name, value)

    def describe(self) -> str:
        return "a non-empty list of positive numbers"


class _Function(Constraint):
    """A plain ``check(name, value)`` function declared in a protocol's legacy ``checks``."""

    def __init__(self, check: OptionCheck):
        self.function = check

    def check(self, name: str, value: Any) -> None:
        self.function(name, value)


def check_min_int(minimum: int) -> OptionCheck:
    """An option that must be an integer >= ``minimum`` (prefer ``enso.params.Integer(minimum)``)."""

    def check(name: str, value: Any) -> None:
        check_int(name, value, minimum)

    return check


def check_positive_list(name: str, value: Any) -> None:
    """A non-empty list of positive numbers (a hyperparameter grid)."""
    if not isinstance(value, list) or not value or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value):
        raise ValueError(f"{name} must be a non-empty list of positive numbers, got {value!r}")


#: A seed option: an integer numpy and scikit-learn both take.
SEED = Integer(0, maximum=2**32 - 1)


def takes_texts(target: Spec) -> bool:
    """Whether ``target`` is fitted on texts and a featurizer's model (``TargetTags.input == "texts"``)."""
    from enso.targets import make_target

    return make_target(target.name, target.params).tags.input == "texts"


def source_featurizer(target: Spec, featurizers: list[Spec]) -> Spec:
    """The featurizer whose model the texts target ``target`` takes: the one its ``source`` parameter names.

    ``source`` is a featurizer's label as the results show it (``minilm``, ``hf-encoder(path=...)``)
    or its name when the experiment lists that featurizer once. ``ConfigError`` otherwise.
    """
    source = target.params.get("source")
    listed = ", ".join(f.label for f in featurizers)
    if not isinstance(source, str) or not source:
        raise ConfigError(f"target {target.label} fine-tunes a featurizer's model: give it source = \"NAME\", "
                          f"one of the experiment's featurizers ({listed})")
    by_label = [f for f in featurizers if f.label == source]
    if len(by_label) == 1:
        return by_label[0]
    name = source
    from enso.features import FEATURIZERS

    if source in FEATURIZERS:
        name = FEATURIZERS.canonical(source)
    by_name = [f for f in featurizers if f.name == name]
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        raise ConfigError(f"target {target.label}: source = {source!r} matches {len(by_name)} featurizers "
                          f"({', '.join(f.label for f in by_name)}); give the label of one of them")
    raise ConfigError(f"target {target.label}: source = {source!r} is not a featurizer of this experiment "
                      f"({listed}); add it to featurizers or name one of them")


def featurizer_target_pairs(config) -> list[tuple[Spec, Spec]]:
    """The (featurizer, target) pairs of the config's cross product, featurizer by featurizer.

    A target fitted on features pairs with every featurizer; a texts target (fine-tuning) only
    with the featurizer its ``source`` names, so that a sweep holds frozen and fine-tuned
    targets side by side.
    """
    texts = {target.id: source_featurizer(target, config.featurizers) for target in config.targets
             if takes_texts(target)}
    return [(featurizer, target) for featurizer in config.featurizers for target in config.targets
            if target.id not in texts or texts[target.id] == featurizer]


class Protocol:
    """An evaluation protocol; subclasses set ``name``, ``description``, ``defaults``,
    ``_parameter_constraints`` and ``build``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: what a featurizer's ``precision = "auto"`` means under this protocol: None (calibrated per
    #: machine) or a precision the protocol's reference numbers were computed in ("fp32")
    feature_precision: ClassVar[str | None] = None
    #: every option of the protocol and its default; an option not named here is refused
    defaults: ClassVar[dict[str, Any]] = {}
    #: option -> constraint (options without one are taken as given)
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {}
    #: legacy: option -> check function raising ValueError; validated as constraints, after them
    checks: ClassVar[dict[str, OptionCheck]] = {}
    #: config keys the protocol does not use -> what it does instead; a config setting one is refused
    #: (``enso.config.check_protocol_keys``) rather than silently ignored
    ignored_keys: ClassVar[dict[str, str]] = {}

    @classmethod
    def option_constraints(cls) -> dict[str, Constraint]:
        """Every option's constraint: the declared ones, and any legacy ``checks`` wrapped as constraints."""
        return {**{k: _Function(v) for k, v in cls.checks.items()}, **cls._parameter_constraints}

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` merged over the defaults; ``ConfigError`` on an unknown or bad option."""
        if not isinstance(options, dict):
            raise ConfigError("protocol_options must be a table")
        for key in options:
            if key not in self.defaults:
                valid = ", ".join(sorted(self.defaults)) or "none"
                raise ConfigError(f"protocol_options: {key!r} is not an option of protocol {self.name!r} "
                                  f"(valid: {valid})")
        try:
            validate_params(self.option_constraints(), options)
        except ValueError as exc:
            raise ConfigError(f"protocol_options: {exc}") from exc
        return {**copy.deepcopy(self.defaults), **options}

    def resolve_datasets(self, names: list[str]) -> list[str]:
        """The datasets this protocol runs for the config's ``names`` (default: the same)."""
        return list(names)

    def build(self, config, dataset, plan) -> None:
        """Add ``dataset``'s cells to ``plan`` with ``plan.add_cell(...)``."""
        raise NotImplementedError(f"protocol {self.name!r} does not build cells")

    def __repr__(self) -> str:
        return f"<protocol {self.name}>"


__all__ = ["SEED", "Draw", "feature_precision", "PositiveList", "Protocol", "Skip", "check_min_int", "check_positive_list",
           "featurizer_target_pairs", "source_featurizer", "takes_texts"]


def feature_precision(config) -> str | None:
    """The precision ``auto`` is pinned to under ``config``'s protocol (None: calibrated)."""
    from enso.protocols import PROTOCOLS

    try:
        return PROTOCOLS.get(config.protocol).feature_precision
    except Exception:  # an unknown protocol is the config check's error, not this one's
        return None
