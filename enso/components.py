"""The default registries bundle: what a config's names mean in a workspace.

``enso.config`` checks a config against a :class:`~enso.config.Registries` bundle it is
handed and imports no registry itself; this module (above every registry in the layers)
builds the default one: the registered and the workspace's own datasets, the featurizers,
targets (also ``module.path:Class`` import paths), metrics, samplers, resamplers,
protocols and task types, each with the plug-ins of its entry-point group.

    from enso.components import load_config
    config = load_config("default", Workspace.resolve("~/bench"))   # or a path to a .toml file
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enso.config import ExperimentConfig, Registries, read_config
from enso.config import parse_config as _parse_config
from enso.workspace import Workspace

__all__ = ["load_config", "parse_config", "registries"]


class _Components:
    """A component registry whose ``validate`` builds the component the way the library does.

    Building is cheap (``__init__`` only stores) and runs the component's one validator (its
    declared ``_parameter_constraints`` and the checks across parameters), so a bad value is
    a one-line ``ConfigError`` before any work.
    """

    def __init__(self, registry, make):
        self.registry, self._make = registry, make
        self.kind = registry.kind

    def canonical(self, name: str) -> str:
        return name if ":" in name and self.kind == "target" else self.registry.canonical(name)

    def __getattr__(self, attribute: str) -> Any:  # get, names, items, aliases_of: the registry's
        return getattr(self.registry, attribute)

    def validate(self, name: str, params: dict[str, Any]) -> str:
        return self._make(name, dict(params)).name

    def __repr__(self) -> str:
        return f"<{self.kind}s {self.registry.names()}>"


class _Featurizers(_Components):
    """Featurizers, whose config tables may also carry task options (``enso.engine.options``)."""

    def validate(self, name: str, params: dict[str, Any]) -> str:
        from enso.engine.options import split_params

        own, _ = split_params(self.registry.canonical(name), dict(params))  # task options checked by their task types
        return self._make(name, own).name


def registries(workspace: Workspace) -> Registries:
    """The default bundle: every built-in and plug-in registry, with the datasets of ``workspace``."""
    from enso.data import DATASETS
    from enso.features import FEATURIZERS, make_featurizer
    from enso.metrics import METRICS
    from enso.protocols import PROTOCOLS
    from enso.sampling import RESAMPLERS, SAMPLERS
    from enso.targets import TARGETS, make_target
    from enso.tasks import TASKS

    return Registries(
        datasets=DATASETS.in_workspace(workspace),
        featurizers=_Featurizers(FEATURIZERS, make_featurizer),
        targets=_Components(TARGETS, make_target),
        metrics=METRICS, samplers=SAMPLERS, resamplers=RESAMPLERS, protocols=PROTOCOLS, tasks=TASKS,
    )


def load_config(path_or_name: str | Path, workspace: Workspace, *, validate_names: bool = True) -> ExperimentConfig:
    """The experiment config ``path_or_name`` (a name in ``experiments/`` or a path), checked in ``workspace``.

    Every name is resolved in the default bundle for ``workspace`` (``validate_names=False``:
    only the structure and the protocol's name, as ``download`` needs before datasets exist).
    """
    path = workspace.experiment_path(path_or_name)
    return _routed(read_config(path, registries(workspace), validate_names=validate_names), validate_names)


def parse_config(raw: dict[str, Any], workspace: Workspace, **options: Any) -> ExperimentConfig:
    """``enso.config.parse_config`` of an in-memory table with the default bundle for ``workspace``."""
    return _routed(_parse_config(raw, registries(workspace), **options), options.get("validate_names", True))


def _routed(config: ExperimentConfig, validated: bool) -> ExperimentConfig:
    """Featurizer entries with task options (``pair_features``) split into featurizer and options."""
    if not validated:
        return config
    from enso.engine.options import route_task_options

    return route_task_options(config)
