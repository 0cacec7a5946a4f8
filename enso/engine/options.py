"""Task options on featurizer specs: ``{ name = "minilm", pair_features = ["a", "b"] }``.

A featurizer table of a config may carry options of a dataset's task type beside the
featurizer's own parameters. Each key is routed by what declares it:

- the featurizer's parameters (its ``__init__`` / ``_parameter_constraints``) go to the
  featurizer: its identity, its feature artifact;
- a task type's options (``TaskType.option_defaults`` / ``_option_constraints``; pairs'
  ``pair_features``) go to the cells: ``TargetInput.options`` and the cell key, never the
  feature artifact, so two settings share one per-text feature file.

``route_task_options(config)`` turns each featurizer ``Spec`` into a :class:`FeaturizerSpec`
whose ``params`` are the featurizer's alone (so ``make_featurizer(spec.name, spec.params)``
builds it, in every stage) and whose ``options`` are the task options. Its ``label`` and ``id``
show and hash both (``minilm(pair_features=a,b)``), so a sweep over two settings is two
featurizer entries and the report compares them like two featurizers. A key neither declares is
the featurizer's usual one-line error; a bad option value is the task type's one-line error;
``check_task_options`` refuses a task option on a dataset of another task, before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from enso.config import ExperimentConfig, Spec
from enso.errors import ConfigError
from enso.hashing import stable_hash

__all__ = ["FeaturizerSpec", "check_task_options", "featurizer_part", "route_task_options", "split_params",
           "task_options_of"]


def _shown(value: Any) -> str:
    """A parameter value as labels show it: lists as ``a,b``."""
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class FeaturizerSpec(Spec):
    """A featurizer entry of a config: the featurizer's ``params`` and the task ``options`` beside them."""

    options: dict[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> dict[str, Any]:
        """Every key of the config's table but ``name``: parameters and task options."""
        return {**self.params, **self.options}

    @property
    def label(self) -> str:
        if self.given_label:  # the table's label = "...": no parameter, no part of the identity
            return self.given_label
        if not self.options:
            return Spec(self.name, self.params).label
        inner = ",".join(f"{k}={_shown(v)}" for k, v in sorted(self.table.items()))
        return f"{self.name}({inner})"

    @property
    def id(self) -> str:
        # as the plain Spec of the whole table: the same entry has the same id however it was parsed
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
        return f"{safe}-{stable_hash({'name': self.name, 'params': self.table}, 10)}"

    @property
    def featurizer(self) -> Spec:
        """The featurizer alone (what its features are keyed and computed by)."""
        return Spec(self.name, dict(self.params))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.table}

    def __hash__(self) -> int:
        return hash(self.id)


def featurizer_part(spec: Spec) -> Spec:
    """``spec`` without its task options: the featurizer whose features a cell uses."""
    return spec.featurizer if isinstance(spec, FeaturizerSpec) else spec


def task_options_of(spec: Spec) -> dict[str, Any]:
    """The task options a featurizer entry carries (none for a plain ``Spec``)."""
    return dict(spec.options) if isinstance(spec, FeaturizerSpec) else {}


def _declared_by_featurizer(name: str) -> set[str]:
    from enso.features import FEATURIZERS

    factory = FEATURIZERS.get(FEATURIZERS.canonical(name))
    declared = set(getattr(factory, "_parameter_constraints", None) or {})
    defaults = getattr(factory, "param_defaults", None)
    if callable(defaults):
        declared |= set(defaults())
    return declared


def _task_types() -> list:
    from enso.tasks import TASKS

    return [task for _, task in TASKS.items()]


def split_params(name: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(featurizer parameters, task options)`` of featurizer ``name``'s table ``params``.

    A key the featurizer declares is its own; else one a registered task type declares is a task
    option, its value checked by every task type that declares it (``ConfigError``, one line);
    anything else stays with the featurizer, whose validator refuses it with the closest name.
    """
    own = _declared_by_featurizer(name)
    featurizer, options = {}, {}
    tasks = _task_types()
    for key, value in params.items():
        declaring = [task for task in tasks if key in task.option_defaults] if key not in own else []
        if not declaring:
            featurizer[key] = value
            continue
        for task in declaring:
            try:
                task.resolve_options({key: value})
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"featurizer {name!r}: {key} is an option of {task.name} tasks: {exc}") from None
        options[key] = value
    return featurizer, options


def route_spec(spec: Spec) -> Spec:
    """``spec`` as a ``FeaturizerSpec`` when its table holds task options; else unchanged."""
    if isinstance(spec, FeaturizerSpec):
        return spec
    featurizer, options = split_params(spec.name, dict(spec.params))
    return FeaturizerSpec(spec.name, featurizer, options, given_label=spec.given_label) if options else spec


def route_task_options(config: ExperimentConfig) -> ExperimentConfig:
    """``config`` with each featurizer entry's task options split from its parameters (idempotent)."""
    routed = [route_spec(spec) for spec in config.featurizers]
    if all(a is b for a, b in zip(routed, config.featurizers)):
        return config
    return replace(config, featurizers=routed)


def check_task_options(dataset, spec: Spec) -> dict[str, Any]:
    """The options of ``dataset``'s task for cells of featurizer entry ``spec``, resolved.

    ``ConfigError`` (one line, before any work) when the entry sets an option that the dataset's
    task type does not take.
    """
    options = task_options_of(spec)
    task = dataset.task
    foreign = sorted(set(options) - set(task.option_defaults))
    if foreign:
        owners = [t.name for t in _task_types() if foreign[0] in t.option_defaults]
        raise ConfigError(f"featurizer {spec.label} sets {foreign[0]}, an option of {'/'.join(owners)} tasks, "
                          f"but dataset {dataset.name} is a {task.name} task; list that featurizer in an "
                          "experiment of such datasets, or drop the option")
    try:
        return task.resolve_options(options) if options else {}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"featurizer {spec.label} on {dataset.name}: {exc}") from None
