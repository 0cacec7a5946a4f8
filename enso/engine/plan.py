"""The sweep as a list of cells, each with an identity (its key) and its training sample.

A cell is one (dataset, featurizer, target, sampler, resampler, train size, resample). Its
key hashes everything its numbers depend on, so a stored cell is reused exactly when the
same cell is asked for again. Samples come from seeds derived from what they are, so a
rerun, a resumed run or a run on other workers draws the same examples.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enso.config import ExperimentConfig, Spec
from enso.engine.sampling import SAMPLERS, ImpossibleSample
from enso.hashing import stable_hash
from enso.seeds import derive_seed

log = logging.getLogger(__name__)

#: Bump when a change to the engine changes the numbers a cell produces.
ENGINE_VERSION = 1

COLUMNS = [
    "experiment", "protocol", "dataset", "featurizer", "featurizer_id", "target", "target_params",
    "chosen_params", "sampler", "resampler", "train_size", "resample", "metric", "value", "train_value",
    "seconds", "fit_seconds", "predict_seconds", "n_train", "n_test", "n_classes", "seed",
]

MTEB_DEFAULTS = {"samples_per_label": 8, "n_experiments": 10, "seed": 42, "max_iter": 100}
SENTEVAL_DEFAULTS = {"folds": 10, "inner_folds": 10, "Cs": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0], "seed": 1111,
                     "cv_datasets": "auto"}
#: Dataset card values saying the test split was made by enso rather than given by the dataset.
_DERIVED_SPLIT_MARKERS = ("derived", "generated", "stratified", "enso", "made", "random")


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

    def meta(self, experiment: str, protocol: str, featurizer_id: str) -> dict[str, Any]:
        return {
            "experiment": experiment, "protocol": protocol, "dataset": self.dataset,
            "featurizer": self.featurizer.label, "featurizer_id": featurizer_id, "target": self.target.label,
            "target_params": json.dumps(self.target.params, sort_keys=True), "sampler": self.sampler,
            "resampler": self.resampler, "train_size": self.train_size, "resample": self.resample,
            "n_classes": self.n_classes, "seed": self.seed,
        }


@dataclass
class Skip:
    dataset: str
    sampler: str
    train_size: int
    reason: str

    def describe(self) -> str:
        return f"{self.dataset}: {self.sampler} sample of size {self.train_size} skipped: {self.reason}"


@dataclass
class Plan:
    config: ExperimentConfig
    cells: list[Cell] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    datasets: dict[str, Any] = field(default_factory=dict)
    _n_classes: dict[str, int] = field(default_factory=dict, repr=False)

    def add_cell(self, *, dataset, featurizer: Spec, target: Spec, sampler: str, resampler: str,
                 train_size: int, resample: int, seed: int, draw: Draw, test_rows: np.ndarray,
                 options: dict[str, Any], fit_rows: np.ndarray | None = None,
                 validation_rows: np.ndarray | None = None) -> Cell:
        """Add one cell of ``dataset`` (a Dataset) to the plan: the only way a cell enters a plan.

        ``draw`` says how the training sample is drawn (or holds its rows); ``test_rows`` are
        the dataset rows the cell is scored on; ``options`` are the protocol's resolved options
        (part of the key). ``fit_rows``: the rows an in-domain featurizer is fit on (None: the
        train split); ``validation_rows``: a given validation set, passed to
        ``target.fit(..., validation=(X_val, y_val))``.
        """
        config = self.config
        test_rows = np.asarray(test_rows, dtype=np.int64)
        fit_rows = None if fit_rows is None else np.asarray(fit_rows, dtype=np.int64)
        validation_rows = None if validation_rows is None else np.asarray(validation_rows, dtype=np.int64)
        cell_seed_parts = (config.seed, dataset.name, sampler, train_size, resample)
        cell = Cell(
            key=_cell_key(config, dataset, featurizer, target, sampler, resampler, train_size, resample, options,
                          fit_rows, validation_rows),
            dataset=dataset.name, featurizer=featurizer, target=target, sampler=sampler, resampler=resampler,
            train_size=train_size, resample=resample, seed=seed,
            target_seed=derive_seed(*cell_seed_parts, featurizer.id, target.id),
            resample_seed=derive_seed(config.seed, dataset.name, sampler, resampler, train_size, resample),
            draw=draw, test=test_rows, test_id=_test_id(test_rows), n_classes=self._classes_of(dataset),
            options=dict(options), fit_rows=fit_rows, validation_rows=validation_rows,
        )
        self.cells.append(cell)
        return cell

    def _classes_of(self, dataset) -> int:
        """Classes in the train split (all of the dataset's when it has none)."""
        if dataset.name not in self._n_classes:
            train = dataset.split_index("train")
            self._n_classes[dataset.name] = (len(np.unique(dataset.labels[train])) if len(train)
                                             else len(dataset.classes))
        return self._n_classes[dataset.name]


def rows_digest(rows: np.ndarray | None) -> str | None:
    """Identifies a list of dataset rows, in order (None for None)."""
    if rows is None:
        return None
    import hashlib

    return hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16]


def _test_id(rows: np.ndarray) -> str:
    return stable_hash(np.asarray(rows, dtype=np.int64).tobytes().hex(), 16)


def _cell_key(config: ExperimentConfig, dataset, featurizer: Spec, target: Spec, sampler: str, resampler: str,
              size: int, resample: int, options: dict[str, Any], fit_rows=None, validation_rows=None) -> str:
    parts = {
        "engine": ENGINE_VERSION, "protocol": config.protocol, "options": options, "dataset": dataset.name,
        "content": dataset.content_hash, "featurizer": featurizer.to_dict(), "target": target.to_dict(),
        "sampler": sampler, "resampler": resampler, "size": size, "resample": resample, "seed": config.seed,
        "metrics": config.metrics,
    }
    if fit_rows is not None:
        parts["fit_rows"] = rows_digest(fit_rows)
    if validation_rows is not None:
        parts["validation_rows"] = rows_digest(validation_rows)
    return stable_hash(parts)


def build_plan(config: ExperimentConfig, datasets: dict[str, Any]) -> Plan:
    """Every cell of ``config`` over the loaded ``datasets`` (name -> Dataset), in sweep order."""
    plan = Plan(config, datasets=datasets)
    builder = {"enso": _enso_cells, "mteb": _mteb_cells, "senteval": _senteval_cells}[config.protocol]
    for name in config.datasets:
        builder(config, datasets[name], plan)
    return plan


def _labels(dataset, rows: np.ndarray) -> np.ndarray:
    return dataset.labels[rows]


def _add(plan, config, dataset, featurizer, target, sampler, resampler, size, resample, seed, draw, test,
         n_classes, options):
    cell = plan.add_cell(dataset=dataset, featurizer=featurizer, target=target, sampler=sampler, resampler=resampler,
                         train_size=size, resample=resample, seed=seed, draw=draw, test_rows=test, options=options)
    cell.n_classes = n_classes  # as today's builders count them (until the protocols package replaces them)


def _enso_cells(config: ExperimentConfig, dataset, plan: Plan) -> None:
    pool = dataset.split_index("train")
    test = dataset.split_index("test")
    if len(test) == 0:
        plan.skipped.append(Skip(dataset.name, "*", 0, "the dataset has no test split"))
        return
    labels = _labels(dataset, pool)
    n_classes = len(np.unique(labels))
    for sampler_name in config.samplers:
        sampler = SAMPLERS.get(sampler_name)
        for size in config.train_sizes:
            try:
                sampler.check(labels, size)
            except ImpossibleSample as exc:
                plan.skipped.append(Skip(dataset.name, sampler_name, size, str(exc)))
                continue
            for resample in range(config.resamples):
                seed = derive_seed(config.seed, dataset.name, sampler_name, size, resample)
                shared = None if sampler.needs_features else Draw(dataset.name, sampler_name, size, resample, seed)
                for featurizer in config.featurizers:
                    draw = shared or Draw(dataset.name, sampler_name, size, resample, seed, featurizer)
                    for target in config.targets:
                        for resampler in config.resamplers:
                            _add(plan, config, dataset, featurizer, target, sampler_name, resampler, size, resample,
                                 seed, draw, test, n_classes, {})


def draw_rows(draw: Draw, dataset, features=None) -> np.ndarray:
    """The dataset rows of ``draw`` (computed once, then kept on the draw)."""
    if draw.rows is None:
        pool = dataset.split_index("train")
        sampler = SAMPLERS.get(draw.sampler)
        pool_features = features[pool] if sampler.needs_features else None
        picked = sampler.sample(_labels(dataset, pool), draw.size, np.random.default_rng(draw.seed), pool_features)
        draw.rows = pool[picked]
    return draw.rows


def _mteb_cells(config: ExperimentConfig, dataset, plan: Plan) -> None:
    """MTEB's classification protocol: k per label, 10 draws from one carried-over, reshuffled index list."""
    options = {**MTEB_DEFAULTS, **config.protocol_options}
    if config.targets != [Spec("logreg")] and dataset.name == config.datasets[0]:
        log.warning("protocol mteb fits MTEB's LogisticRegression(max_iter=%d); the config's targets are not used",
                    options["max_iter"])
    pool = dataset.split_index("train")
    test = dataset.split_index("test")
    labels = _labels(dataset, pool).tolist()
    n_classes = len(set(labels))
    k = int(options["samples_per_label"])
    target = Spec("sklearn.linear_model:LogisticRegression",
                  {"max_iter": int(options["max_iter"]), "random_state": int(options["seed"])})
    idxs = list(range(len(pool)))
    for experiment in range(int(options["n_experiments"])):
        rng_state = np.random.RandomState(int(options["seed"]))
        rng_state.shuffle(idxs)
        counter: dict[str, int] = {}
        picked = []
        for i in idxs:
            if counter.get(labels[i], 0) < k:
                picked.append(i)
                counter[labels[i]] = counter.get(labels[i], 0) + 1
        rows = pool[np.asarray(picked, dtype=np.int64)]
        draw = Draw(dataset.name, "mteb", len(rows), experiment, int(options["seed"]), rows=rows)
        for featurizer in config.featurizers:
            _add(plan, config, dataset, featurizer, target, "mteb", "none", len(rows), experiment,
                 int(options["seed"]), draw, test, n_classes, options)


def senteval_uses_cv(dataset, options: dict[str, Any]) -> bool:
    chosen = options.get("cv_datasets", "auto")
    if isinstance(chosen, list):
        return dataset.name in chosen
    card = dataset.card or {}
    for key in ("test_split", "split"):
        value = card.get(key)
        if isinstance(value, str):
            value = value.lower()
            return not value.startswith("given") and any(marker in value for marker in _DERIVED_SPLIT_MARKERS)
    return False


def _senteval_cells(config: ExperimentConfig, dataset, plan: Plan) -> None:
    """SentEval: logistic regression, L2 from a fixed grid by inner CV; 10-fold CV where no test split is given."""
    options = {**SENTEVAL_DEFAULTS, **config.protocol_options}
    target = Spec("logreg", {"Cs": [float(c) for c in options["Cs"]], "cv": int(options["inner_folds"])})
    n_classes = len(dataset.classes)
    if senteval_uses_cv(dataset, options):
        from sklearn.model_selection import StratifiedKFold

        rows = np.arange(len(dataset))
        folds = StratifiedKFold(int(options["folds"]), shuffle=True, random_state=int(options["seed"]))
        for fold, (train, test) in enumerate(folds.split(rows, dataset.labels)):
            draw = Draw(dataset.name, "senteval-cv", len(train), fold, int(options["seed"]), rows=rows[train])
            for featurizer in config.featurizers:
                _add(plan, config, dataset, featurizer, target, "senteval-cv", "none", len(train), fold,
                     int(options["seed"]), draw, rows[test], n_classes, options)
    else:
        train, test = dataset.split_index("train"), dataset.split_index("test")
        draw = Draw(dataset.name, "senteval-split", len(train), 0, int(options["seed"]), rows=train)
        for featurizer in config.featurizers:
            _add(plan, config, dataset, featurizer, target, "senteval-split", "none", len(train), 0,
                 int(options["seed"]), draw, test, n_classes, options)
