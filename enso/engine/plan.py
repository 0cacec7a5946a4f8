"""The sweep as a list of cells, each with an identity (its key) and its training sample.

A cell is one (dataset, featurizer, target, sampler, resampler, train size, resample). Its
key hashes everything its predictions depend on: the featurizer's resolved identity (model
file hashes, precision, version: ``featurizer_id``), the target as it will be fitted (with the
``scoring`` and ``resampler`` the engine gives it), the protocol and its options, the dataset's
content, the sample, the test rows, ``fit_rows`` / ``validation_rows`` and ``dedupe``. Metrics
are not part of it: they are computed from the cell's stored predictions. So a stored cell is
reused exactly when the same predictions are asked for again. Samples come from seeds derived
from what they are, so a rerun, a resumed run or a run on other workers draws the same
examples.

Protocols (``enso.protocols``) add cells with ``Plan.add_cell``, the only way into a plan, from
the ``Draw``s they make (``enso.protocols.base``, re-exported here). A plan made with ``sink=``
hands each cell to the sink instead of keeping it (dry runs count cells without holding them
all); either way it records each (dataset, featurizer, target) it holds once, in
``combinations``, which ``enso.engine.checks`` checks before any feature is computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from enso.config import ExperimentConfig, Spec
from enso.engine.options import check_task_options, featurizer_part
from enso.hashing import stable_hash
from enso.protocols.base import Draw, Skip
from enso.sampling import SAMPLERS
from enso.seeds import derive_seed
from enso.tasks import Ragged

log = logging.getLogger(__name__)

#: Bump when a change to the engine changes the predictions a cell produces.
ENGINE_VERSION = 3

COLUMNS = [
    "experiment", "protocol", "dataset", "featurizer", "featurizer_id", "target", "target_params",
    "chosen_params", "sampler", "resampler", "train_size", "resample", "metric", "value", "train_value",
    "seconds", "fit_seconds", "predict_seconds", "n_train", "n_test", "n_classes", "seed",
    "cell", "test_ci_low", "test_ci_high", "majority_share", "baseline_value",
]

#: Parameters the engine sets on registered targets that declare them (unless the config sets them).
ENGINE_SET_PARAMS = ("scoring", "resampler")


@dataclass
class Cell:
    key: str
    dataset: str
    featurizer: Spec
    target: Spec
    sampler: str
    resampler: str
    train_size: int
    resample: int
    seed: int
    target_seed: int
    resample_seed: int
    draw: Draw
    test: np.ndarray
    test_id: str
    n_classes: int
    options: dict[str, Any] = field(default_factory=dict)  # the protocol's resolved options
    fit_rows: np.ndarray | None = None  # rows an in-domain featurizer is fit on (None: the train split)
    validation_rows: np.ndarray | None = None  # a given validation set for the target (None: none)
    featurizer_id: str | None = None  # the featurizer's resolved identity (None: not resolved)
    target_params: dict[str, Any] = field(default_factory=dict)  # as fitted: the config's plus the engine's
    #: the task options the featurizer entry sets (pairs' ``pair_features``), resolved; {}: the task's defaults
    task_options: dict[str, Any] = field(default_factory=dict)

    def meta(self, experiment: str, protocol: str, featurizer_id: str | None = None) -> dict[str, Any]:
        return {
            "experiment": experiment, "protocol": protocol, "dataset": self.dataset,
            "featurizer": self.featurizer.label, "featurizer_id": featurizer_id or self.featurizer_id,
            "target": self.target.label, "target_params": json.dumps(self.target.params, sort_keys=True),
            "sampler": self.sampler, "resampler": self.resampler, "train_size": self.train_size,
            "resample": self.resample, "n_classes": self.n_classes, "seed": self.seed,
        }


@dataclass
class Plan:
    config: ExperimentConfig
    cells: list[Cell] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    datasets: dict[str, Any] = field(default_factory=dict)
    #: ``Spec.id`` -> resolved ``featurizer_id``; cells of a featurizer not in it key by its config entry
    featurizer_ids: dict[str, str] = field(default_factory=dict)
    #: when set, each added cell goes to the sink and is not kept in ``cells``
    sink: Callable[[Cell], None] | None = None
    count: int = 0
    #: (dataset, featurizer id, target id) -> (dataset name, featurizer, target) of every pair of the plan,
    #: so that their compatibility is checked once per pair, before any feature is computed
    combinations: dict[tuple[str, str, str], tuple[str, Spec, Spec]] = field(default_factory=dict)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def add_cell(self, *, dataset, featurizer: Spec, target: Spec, sampler: str, resampler: str,
                 train_size: int, resample: int, seed: int, draw: Draw, test_rows: np.ndarray,
                 options: dict[str, Any], fit_rows: np.ndarray | None = None,
                 validation_rows: np.ndarray | None = None) -> Cell:
        """Add one cell of ``dataset`` (a Dataset) to the plan: the only way a cell enters a plan.

        ``draw`` says how the training sample is drawn (or holds its rows); ``test_rows`` are
        the dataset rows the cell is scored on; ``options`` are the protocol's resolved options
        (part of the key). ``fit_rows``: the rows an in-domain featurizer is fit on (None: the
        train split); ``validation_rows``: a given validation set, passed to
        ``target.fit(..., validation=(X_val, y_val))``. With the config's ``dedupe``, test rows
        whose text also occurs in the pool the sample comes from are dropped (the pool:
        ``fit_rows`` when given, else the train split, or for a cross-validation fold, whose test
        rows come from the train split, the fold's training part ``draw.rows``).
        """
        config = self.config
        test_rows = np.asarray(test_rows, dtype=np.int64)
        fit_rows = None if fit_rows is None else np.asarray(fit_rows, dtype=np.int64)
        validation_rows = None if validation_rows is None else np.asarray(validation_rows, dtype=np.int64)
        dedupe = bool(getattr(config, "dedupe", False))
        if dedupe:
            test_rows = self._deduped(dataset, test_rows, self._pool(dataset, test_rows, draw, fit_rows))
        fid = self.featurizer_ids.get(featurizer.id)
        params = self._fitted_params(target, resampler)
        task_options = self._memo(("task options", dataset.name, featurizer.id),
                                  lambda: check_task_options(dataset, featurizer))
        parts = {
            "engine": ENGINE_VERSION, "protocol": config.protocol, "options": options, "dataset": dataset.name,
            "content": dataset.content_hash,
            "featurizer": fid if fid is not None else {"spec": featurizer.to_dict()},
            "target": {"name": target.name, **params}, "sampler": sampler, "resampler": resampler,
            "size": train_size, "resample": resample, "seed": config.seed, "sample_seed": seed,
            "sample": rows_digest(draw.rows) if draw.rows is not None else None,
            "test": rows_digest(test_rows), "fit_rows": rows_digest(fit_rows),
            "validation_rows": rows_digest(validation_rows),
            "dedupe": dedupe,
        }
        if task_options:  # only where the featurizer entry sets some: every other cell keeps its key
            parts["task_options"] = task_options
        if sampler in SAMPLERS and SAMPLERS.get(sampler).needs_features and dataset.task.name != "classification":
            # such a sampler now sees each row's target input (a pair's combined or cross-encoded
            # vector), not feature rows of other texts: cells drawn the old way must not be reused
            parts["sampler_input"] = "row target input"
        tuned = self._memo(("fine-tuning", target.id, resampler), lambda: fine_tuning_identity(target, params))
        if tuned is not None:  # a texts target: every hyperparameter, defaults included, and its version
            parts["fine_tuning"] = tuned
        else:
            version = self._memo(("version", target.name), lambda: feature_target_version(target.name))
            if version is not None:  # bumped when its fit changed: cells of the older fit are not reused
                parts["target_version"] = version
        cell_seed_parts = (config.seed, dataset.name, sampler, train_size, resample)
        cell = Cell(
            key=stable_hash(parts), dataset=dataset.name, featurizer=featurizer, target=target, sampler=sampler,
            resampler=resampler, train_size=train_size, resample=resample, seed=seed,
            # not the featurizer: configurations that differ only by featurizer get the same inner
            # folds and resampled copies, so their paired comparison differs only by the features
            target_seed=derive_seed(*cell_seed_parts, resampler, target.id),
            resample_seed=derive_seed(config.seed, dataset.name, sampler, resampler, train_size, resample),
            draw=draw, test=test_rows, test_id=parts["test"], n_classes=self._classes_of(dataset),
            options=options, fit_rows=fit_rows, validation_rows=validation_rows, featurizer_id=fid,
            target_params=params, task_options=task_options,
        )
        self.count += 1
        self.combinations.setdefault((dataset.name, featurizer.id, target.id), (dataset.name, featurizer, target))
        if self.sink is not None:
            self.sink(cell)
        else:
            self.cells.append(cell)
        return cell

    # -- cached by content: a sweep of thousands of cells shares a few row lists --

    def _memo(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _classes_of(self, dataset) -> int:
        """Classes in the train split (all of the dataset's when it has none)."""
        def count():
            train = dataset.split_index("train")
            if not len(train):
                return len(dataset.classes)
            labels = dataset.labels[train]
            values = labels.values if isinstance(labels, Ragged) else labels  # sequence tasks: tags of train tokens
            return len(pd.unique(np.asarray(values, dtype=object)))

        return self._memo(("classes", dataset.name), count)

    def _pool(self, dataset, test_rows: np.ndarray, draw: Draw, fit_rows: np.ndarray | None) -> np.ndarray:
        if fit_rows is not None:
            return fit_rows
        train = self._memo(("train", dataset.name), lambda: np.asarray(dataset.split_index("train"), np.int64))
        overlaps = self._memo(("overlap", dataset.name, rows_digest(test_rows)),
                              lambda: bool(np.isin(test_rows, train).any()))
        if overlaps and draw.rows is not None:  # a CV fold over the whole dataset: its training part
            return np.asarray(draw.rows, dtype=np.int64)
        return train

    def _deduped(self, dataset, test_rows: np.ndarray, pool: np.ndarray) -> np.ndarray:
        key = ("dedupe", dataset.name, rows_digest(test_rows), rows_digest(pool))
        return self._memo(key, lambda: test_rows[~texts_also_in(dataset, test_rows, pool)])

    def _fitted_params(self, target: Spec, resampler: str) -> dict[str, Any]:
        """The target's parameters as the engine fits it: the config's, plus ``scoring``/``resampler``.

        Each is set only where the target declares it (so a scikit-learn class named by import
        path, whose own ``scoring`` means scikit-learn scorers, is given neither inside its
        ``params``); a target without ``resampler`` is resampled by the worker before ``fit``.
        """
        declared = self._memo(("declared", target.id), lambda: declared_params(target))
        params = dict(target.params)
        wanted = {"scoring": getattr(self.config, "selection_metric", None) or self.config.metrics[0],
                  "resampler": resampler}
        for name in ENGINE_SET_PARAMS:
            if name in declared and name not in params:
                params[name] = wanted[name]
        return params


def declared_params(target: Spec) -> frozenset[str]:
    """The target's own parameters (for an import-path target, its wrapper's, not the class's)."""
    from enso.targets import make_target

    return frozenset(make_target(target.name, target.params).get_params(deep=False))


def feature_target_version(name: str) -> int | None:
    """A registered target's ``version`` where it is 2 or more (1, the default, leaves every older key as it was)."""
    from enso.targets import TARGETS

    if ":" in name or name not in TARGETS:
        return None
    version = getattr(TARGETS.get(name), "version", 1)
    return int(version) if isinstance(version, int) and version >= 2 else None


def fine_tuning_identity(target: Spec, params: dict[str, Any]) -> dict[str, Any] | None:
    """What a fine-tuning cell's key adds: the target's every hyperparameter and its ``version``; None otherwise.

    A texts target (``TargetTags.input == "texts"``) trains a model whose predictions depend on
    each of its hyperparameters, so they are keyed with their defaults resolved (a changed
    default recomputes its cells), as is the class's ``version`` (bumped when the training loop
    changes). Its source model's identity (file hashes, pooling, normalisation, length,
    precision) is the cell's ``featurizer_id``. ``random_state`` is left out: the engine derives
    it from what the cell is, which the key already holds.
    """
    from enso.targets import make_target
    from enso.targets.base import jsonable

    built = make_target(target.name, params)
    if built.tags.input != "texts":
        return None
    values = {k: v for k, v in built.get_params(deep=False).items() if k != "random_state" or k in target.params}
    return {"params": jsonable(values), "version": getattr(type(built), "version", None)}


def texts_also_in(dataset, rows: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """A mask over ``rows``: True where the row's example (exactly as stored) also occurs in ``pool``.

    The example is what the task type's ``row_keys`` says: the text (classification), both
    texts in order (pairs), the token list (sequences).
    """
    keys = dataset.task.row_keys(dataset.frame)
    rows = np.asarray(rows, dtype=np.int64)
    others = np.setdiff1d(pool, rows) if len(pool) else np.zeros(0, dtype=np.int64)
    if keys.dtype != object:
        return np.isin(keys[rows], keys[others])
    seen = set(keys[others].tolist())
    return np.fromiter((key in seen for key in keys[rows].tolist()), dtype=bool, count=len(rows))


def rows_digest(rows: np.ndarray | None) -> str | None:
    """Identifies a list of dataset rows, in order (None for None)."""
    if rows is None:
        return None
    return hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16]


def resolve_featurizer_ids(config: ExperimentConfig, device: str = "auto") -> dict[str, str]:
    """``Spec.id`` -> ``featurizer_id`` of every featurizer of ``config``, as the featurize stage resolves it."""
    from enso.features import featurizer_id, make_featurizer

    ids = {}
    for spec in config.featurizers:
        own = featurizer_part(spec)  # without task options: entries that differ only by them share features
        ids[spec.id] = featurizer_id(make_featurizer(own.name, own.params).configure(device=device))
    return ids


def build_plan(config: ExperimentConfig, datasets: dict[str, Any], *, featurizer_ids: dict[str, str] | None = None,
               sink: Callable[[Cell], None] | None = None) -> Plan:
    """Every cell of ``config`` over the loaded ``datasets`` (name -> Dataset), in sweep order.

    ``featurizer_ids`` (from ``resolve_featurizer_ids``) key the cells by the features they are
    computed on; ``sink`` receives cells instead of the plan keeping them.
    """
    from enso.protocols import PROTOCOLS

    plan = Plan(config, datasets=datasets, featurizer_ids=dict(featurizer_ids or {}), sink=sink)
    protocol = PROTOCOLS.get(config.protocol)
    for name in config.datasets:
        protocol.build(config, datasets[name], plan)
    return plan


def draw_rows(draw: Draw, dataset, features=None) -> np.ndarray:
    """The dataset rows of ``draw`` (computed once, then kept on the draw).

    ``features`` (the train pool's rows of them are used) is needed only by samplers that look
    at features; it may be a callable that returns them, called only then.
    """
    if draw.rows is None:
        pool = dataset.split_index("train")
        sampler = SAMPLERS.get(draw.sampler)
        if sampler.needs_features and callable(features):
            features = features()
        pool_features = features[pool] if sampler.needs_features else None
        # strata, not labels: the label for classification and pairs, the task's choice for sequences
        picked = sampler.sample(dataset.strata[pool], draw.size, np.random.default_rng(draw.seed), pool_features)
        draw.rows = pool[picked]
    return draw.rows
