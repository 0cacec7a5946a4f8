"""What makes a sweep impossible, found when it is planned: before any feature is computed.

Every check reads declared facts, never data or features: the target's ``TargetTags``
(``input``, ``accepts_sparse``, ``input_ndim``, ``tasks``), the featurizer's ``FeaturizerTags``
(``sparse``, ``source_model``) and ``output_ndim()`` (``layers = "all"`` gives 3-d features), the
dataset's task type and each metric's ``tasks``. The engine runs them on the plan's distinct
(dataset, featurizer, target) combinations (``Plan.combinations``) right after planning, in a
dry run too, so README's ``{ name = "minilm", layers = "all" }`` with ``logreg`` is a one-line
``ConfigError`` and not a failure after the costly featurization.

A target with ``input = "texts"`` (fine-tuning) takes the model of the featurizer it names
(its ``source`` parameter): ``source_featurizer`` finds it, and ``featurizer_target_pairs``
(``enso.protocols.base``) pairs such a target with that featurizer only.
"""

from __future__ import annotations

from typing import Any

from enso.config import ExperimentConfig, Spec
from enso.errors import ConfigError, EnsoError
from enso.protocols.base import source_featurizer
from enso.sampling import SAMPLERS

TEXTS = "texts"


def check_jobs(jobs: int) -> None:
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")


def check_config(config: ExperimentConfig) -> None:
    """Checks of the config alone: each fine-tuning target names a featurizer of the experiment."""
    for target in config.targets:
        if target_facts(target)["input"] == TEXTS:
            source_featurizer(target, config.featurizers)  # ConfigError naming the featurizers if none matches


def check_plan(plan) -> None:
    """``ConfigError`` for the first combination of the plan that cannot run, or a metric that does not apply."""
    config = plan.config
    metrics = list(dict.fromkeys([*config.metrics, config.selection_metric]))
    for name, dataset in plan.datasets.items():
        task = task_name(dataset)
        if getattr(dataset.task, "label_unit", "row") == "token":
            balancing = [r for r in config.resamplers if r != "none"]
            if balancing:
                raise ConfigError(f"resampler {balancing[0]} balances one label per row, but dataset {name} is a "
                                  f"{task} task (one label per token); use resamplers = [\"none\"] for it")
            looking = [s for s in config.samplers if s in SAMPLERS and SAMPLERS.get(s).needs_features]
            if looking:
                raise ConfigError(f"sampler {looking[0]} picks sentences by one feature row each, but dataset {name} "
                                  f"is a {task} task (features per token); use samplers = [\"random\"] for it")
        for metric in metrics:
            tasks = metric_tasks(metric)
            if task not in tasks:
                raise ConfigError(f"metric {metric} applies to {_names(tasks)} tasks, but dataset {name} is a "
                                  f"{task} task; choose metrics for it (see `enso experiment --list`)")
            limit = metric_max_classes(metric)
            if limit is not None and len(dataset.classes) > limit:  # f1 of the positive class: binary only
                raise ConfigError(f"metric {metric} is defined for at most {limit} classes, but dataset {name} has "
                                  f"{len(dataset.classes)}; use macro_f1 for it, or list it in another experiment")
    for dataset_name, featurizer, target in plan.combinations.values():
        check_combination(plan.datasets[dataset_name], featurizer, target)


def check_combination(dataset, featurizer: Spec, target: Spec) -> None:
    """``ConfigError`` when ``target`` cannot be fitted on what ``featurizer`` gives for ``dataset``."""
    tags = target_facts(target)
    task = task_name(dataset)
    if task not in tags["tasks"]:
        raise ConfigError(f"target {target.label} fits {_names(tags['tasks'])} tasks, but dataset {dataset.name} "
                          f"is a {task} task; choose a target for {task}")
    made = featurizer_facts(featurizer)
    if made["cross"] and dataset.task.row_texts < 2:
        raise ConfigError(f"featurizer {featurizer.label} sets pair_encoding = 'cross', but dataset {dataset.name} is "
                          f"a {task} task with one text per row, nothing to encode together; list that entry in "
                          "an experiment of pair datasets, or drop pair_encoding")
    unit = getattr(dataset.task, "unit", "text")
    if tags["input"] != TEXTS and unit not in made["units"]:  # sequence labelling needs a vector per token
        raise ConfigError(f"featurizer {featurizer.label} gives {'/'.join(made['units'])} features, but dataset "
                          f"{dataset.name} ({task}) needs a vector per {unit}; choose a featurizer with {unit!r} "
                          "units" + (" (e.g. minilm, glove-6b-50d or word-shape)" if unit == "token" else ""))
    if tags["input"] == TEXTS:
        if not made["source_model"]:
            raise ConfigError(f"target {target.label} fine-tunes the model of featurizer {featurizer.label}, which "
                              "has no model folder; name a featurizer with one (e.g. minilm or hf-encoder)")
        return
    ndim, wanted = made["ndim"], tags["input_ndim"]
    if ndim != wanted:
        shape = "(n, layers, d)" if ndim == 3 else "(n, d)"
        fix = ("use layer-mix for per-layer features, or featurize without layers = \"all\"" if ndim == 3
               else "featurize with layers = \"all\"")
        raise ConfigError(f"target {target.label} needs {wanted}-d features, but featurizer "
                          f"{featurizer.label} gives {shape} on {dataset.name}; {fix}")
    if made["sparse"] and not tags["accepts_sparse"]:
        raise ConfigError(f"target {target.label} needs dense features, but featurizer "
                          f"{featurizer.label} gives sparse ones; pick a dense featurizer for it")


def check_features(featurizer: Spec, dataset, X) -> None:
    """The features as computed have the dimensionality the featurizer declared (a plug-in that says otherwise)."""
    import scipy.sparse as sp

    ndim = 2 if sp.issparse(X) else len(getattr(X, "shape", ()))
    declared = featurizer_facts(featurizer)["ndim"]
    if ndim != declared:
        raise EnsoError(f"featurizer {featurizer.label} declares {declared}-d features (output_ndim) but gave "
                        f"{ndim}-d ones on {dataset.name}; its output_ndim() is wrong")


def check_runnable(plan) -> None:
    """An ``EnsoError`` naming why when the plan has no cell at all (every dataset and size impossible)."""
    if plan.count:
        return
    reasons = "; ".join(skip.describe() for skip in plan.skipped[:3]) or "the protocol made no cells"
    more = f" (and {len(plan.skipped) - 3} more)" if len(plan.skipped) > 3 else ""
    raise EnsoError(f"experiment {plan.config.name!r} has nothing to run: {reasons}{more}; "
                    "pick train_sizes that the datasets' train splits can give")


# -- declared facts, read without loading anything --------------------------------------------

def target_facts(target: Spec) -> dict[str, Any]:
    """The target's tags (``input``, ``accepts_sparse``, ``input_ndim``, ``tasks``, ``proba``), as a dict."""
    from enso.targets import make_target

    tags = make_target(target.name, target.params).tags  # cheap: builds and checks, loads nothing
    return {"input": tags.input, "accepts_sparse": tags.accepts_sparse, "input_ndim": tags.input_ndim,
            "tasks": tuple(tags.tasks), "proba": tags.proba}


def featurizer_facts(featurizer: Spec) -> dict[str, Any]:
    """The featurizer's tags and ``output_ndim()`` (``ndim``), as a dict."""
    from enso.features import make_featurizer

    made = make_featurizer(featurizer.name, featurizer.params)  # cheap: builds and checks, loads nothing
    tags = made.tags
    return {"sparse": tags.sparse, "in_domain": tags.in_domain, "source_model": tags.source_model,
            "units": tuple(tags.units), "ndim": int(made.output_ndim()),
            "cross": bool(getattr(made, "cross_encoding", False))}


def task_name(dataset) -> str:
    return dataset.task.name


def metric_tasks(name: str) -> tuple[str, ...]:
    from enso.metrics import METRICS

    return tuple(METRICS.get(name).tasks)


def metric_max_classes(name: str) -> int | None:
    from enso.metrics import METRICS

    return getattr(METRICS.get(name), "max_classes", None)


def _names(values) -> str:
    return "/".join(values) or "no"


__all__ = ["check_combination", "check_config", "check_features", "check_jobs", "check_plan", "check_runnable",
           "featurizer_facts", "target_facts", "task_name"]
