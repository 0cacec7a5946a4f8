"""From planned cells to worker tasks: inputs described, features loaded once, samples drawn.

For each cell to run, the target's input is described from the dataset's task type and the
target's tags (``enso.engine.inputs.TargetInput``):

- ``input = "features"``: the features of (dataset, featurizer, fit rows) are loaded, or
  computed when absent, once per run, and checked against the identity the plan was keyed
  by; the task carries the feature file and the layout of those features (the dataset's, or for
  a cross-encoding featurizer, ``pair_encoding = "cross"``, its pairs': ``TaskType.cross_units``).
- ``input = "texts"``: no features are computed for the target; the task carries the dataset
  reference (its texts are read where the cell runs) and the model folder of the featurizer
  the target names (``Featurizer.source_model_folder()``).

Training samples are drawn here (``draw_rows``); a sampler that looks at features is given
them (loaded for it alone when the cell's target takes texts). Tasks are ordered so that the
largest fits start first, and each sets the BLAS/torch threads its cell may use.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from enso.engine.checks import check_features, target_facts
from enso.engine.inputs import (
    FEATURE_OPENER,
    FEATURES,
    TEXTS,
    DatasetRef,
    TargetInput,
    prime_dataset,
    prime_features,
)
from enso.engine.options import featurizer_part
from enso.engine.plan import Cell, Plan, draw_rows, rows_digest
from enso.engine.worker import CellTask
from enso.errors import EnsoError
from enso.store import Reuse
from enso.workspace import Workspace


def text_threads(jobs: int) -> int:
    """Threads per worker for a cell that fine-tunes a model: the cores shared by the ``jobs`` workers."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


class RowFeatures:
    """Stored features read by dataset row: ``view[rows]`` is ``task.target_input(X, layout, rows, options)``."""

    def __init__(self, task, X, layout, options: dict[str, Any]):
        self.task, self.X, self.layout, self.options = task, X, layout, options

    def __len__(self) -> int:
        return int(self.layout.n_rows)

    def __getitem__(self, rows):
        return self.task.target_input(self.X, self.layout, np.asarray(rows, dtype=np.int64), self.options)


class TaskMaker:
    """Makes the ``CellTask`` of each cell, keeping what cells share (features, model folders, facts)."""

    def __init__(self, plan: Plan, workspace: Workspace, *, threads: int, jobs: int, device: str,
                 reuse: Reuse = Reuse.REUSE):
        self.plan = plan
        self.workspace = workspace
        self.threads = threads
        self.jobs = jobs
        self.device = device
        self.reuse = reuse
        self._features: dict[tuple, Any] = {}
        self._facts: dict[str, dict[str, Any]] = {}
        self._in_domain: dict[str, bool] = {}
        self._models: dict[str, Any] = {}
        self._refs: dict[str, DatasetRef] = {}
        self._layouts: dict[tuple[str, str], Any] = {}

    # -- shared pieces --

    def features(self, cell: Cell):
        """The cell's feature set (loaded or computed once per dataset, featurizer and fit rows).

        Featurizer entries that differ only by task options (``pair_features``) share it.
        """
        spec = featurizer_part(cell.featurizer)
        if spec.id not in self._in_domain:
            from enso.engine.checks import featurizer_facts

            self._in_domain[spec.id] = featurizer_facts(spec)["in_domain"]
        fit_rows = cell.fit_rows if self._in_domain[spec.id] else None
        key = (cell.dataset, spec.id, rows_digest(fit_rows))
        if key not in self._features:
            from enso.features import load_features

            dataset = self.plan.datasets[cell.dataset]
            reuse = Reuse.ONLY_CACHED if self.reuse is Reuse.ONLY_CACHED else Reuse.REUSE
            kwargs = {} if fit_rows is None else {"fit_rows": fit_rows}
            features = load_features(spec, dataset, self.workspace, device=self.device, reuse=reuse,
                                     command=f"enso featurize {self.plan.config.name}", **kwargs)
            if cell.featurizer_id is not None and features.featurizer_id != cell.featurizer_id:
                raise EnsoError(f"featurizer {cell.featurizer.label} resolved to {cell.featurizer_id} when the "
                                f"sweep was planned but its features on {cell.dataset} are {features.featurizer_id}"
                                "; its model files changed during the run: rerun")
            check_features(cell.featurizer, dataset, features.X)
            prime_features(str(features.path), features.X)
            self._features[key] = features
        return self._features[key]

    def facts(self, cell: Cell) -> dict[str, Any]:
        if cell.target.id not in self._facts:
            self._facts[cell.target.id] = target_facts(cell.target)
        return self._facts[cell.target.id]

    def model(self, cell: Cell):
        """The source model of the featurizer a texts target takes (``SourceModel``)."""
        if cell.featurizer.id not in self._models:
            from enso.features import make_featurizer

            featurizer = make_featurizer(cell.featurizer.name, cell.featurizer.params)
            featurizer.configure(device=self.device)
            self._models[cell.featurizer.id] = featurizer.source_model_folder()
        return self._models[cell.featurizer.id]

    def layout(self, cell: Cell, features) -> Any:
        """How the dataset's rows map onto ``features``: per text (the dataset's layout) or per pair (cross)."""
        dataset = self.plan.datasets[cell.dataset]
        if getattr(features, "units", "text") != "pair":
            return dataset.layout
        key = (cell.dataset, "pair")
        if key not in self._layouts:
            self._layouts[key] = dataset.task.cross_units(dataset.frame).layout
        return self._layouts[key]

    def row_features(self, cell: Cell, features):
        """What a sampler that looks at features sees: one row per dataset row.

        Where rows map onto feature rows through an index (pairs: two texts per row, or one
        cross-encoded pair per distinct pair), a ``RowFeatures`` view: ``view[rows]`` is the
        rows' target input (as the cell's target sees them); else the feature matrix itself.
        """
        layout = self.layout(cell, features)
        if layout.index is None:
            return features.X
        task = self.plan.datasets[cell.dataset].task
        return RowFeatures(task, features.X, layout, dict(cell.task_options))

    def dataset_ref(self, cell: Cell) -> DatasetRef:
        if cell.dataset not in self._refs:
            dataset = self.plan.datasets[cell.dataset]
            self._refs[cell.dataset] = DatasetRef(cell.dataset, str(self.workspace.root),
                                                  self.plan.config.cap_for(cell.dataset), dataset.content_hash)
            prime_dataset(dataset)
        return self._refs[cell.dataset]

    # -- one task --

    def task(self, cell: Cell) -> CellTask:
        plan, config = self.plan, self.plan.config
        dataset = plan.datasets[cell.dataset]
        kind = self.facts(cell)["input"]
        common = {"kind": kind, "task": dataset.task.name, "dataset": self.dataset_ref(cell), "layout": dataset.layout,
                  "options": dict(cell.task_options)}
        if kind == FEATURES:
            features = self.features(cell)
            common["layout"] = self.layout(cell, features)
            description = TargetInput(**common, features=str(features.path), opener=FEATURE_OPENER)
            rows = draw_rows(cell.draw, dataset, self.row_features(cell, features))
            featurizer_id = features.featurizer_id
            threads = self.threads
            torch_threads = None
        elif kind == TEXTS:
            model = self.model(cell)
            description = TargetInput(**common, model_folder=model.root, source_model=model.to_dict())
            rows = draw_rows(cell.draw, dataset, lambda: self.row_features(cell, self.features(cell)))
            featurizer_id = cell.featurizer_id
            threads = text_threads(self.jobs)
            torch_threads = threads
        else:  # TargetTags refuses other values; a plug-in's own tags class might not
            raise EnsoError(f"target {cell.target.label} takes input {kind!r}, which the engine cannot give")
        labels = dataset.labels
        validation = cell.validation_rows
        return CellTask(
            key=cell.key, input=description, train=rows, test=cell.test, test_id=cell.test_id,
            y_train=labels[rows], y_test=labels[cell.test], target_name=cell.target.name,
            target_params=dict(cell.target_params), target_seed=cell.target_seed, resampler=cell.resampler,
            resample_seed=cell.resample_seed, metrics=list(config.metrics),
            meta=cell.meta(config.name, config.protocol, featurizer_id), threads=threads,
            config_params=dict(cell.target.params), validation=validation,
            y_validation=None if validation is None else labels[validation], sample=rows_digest(rows),
            torch_threads=torch_threads,
        )


def make_tasks(plan: Plan, todo: list[Cell], workspace: Workspace, *, threads: int, jobs: int, device: str,
               reuse: Reuse = Reuse.REUSE) -> list[CellTask]:
    """Worker tasks for ``todo``, the largest fits of each (dataset, featurizer) first."""
    check_feature_units(plan, todo)
    maker = TaskMaker(plan, workspace, threads=threads, jobs=jobs, device=device, reuse=reuse)
    tasks = [maker.task(cell) for cell in todo]
    # the largest fits first, so that no worker is left with a long one at the end
    order = {pair: i for i, pair in enumerate(dict.fromkeys((t.meta["dataset"], t.meta["featurizer"]) for t in tasks))}
    tasks.sort(key=lambda t: (order[(t.meta["dataset"], t.meta["featurizer"])], -len(t.train)))
    return tasks


def check_feature_units(plan: Plan, cells: list[Cell]) -> None:
    """``ConfigError`` for the first (dataset, featurizer entry) of ``cells`` whose features cannot be made,
    before any is computed: a cross-encoding entry on a dataset without pairs, or with ``pair_features``."""
    from enso.features import make_featurizer
    from enso.features.cache import check_units

    seen: set[tuple[str, str]] = set()
    for cell in cells:
        if (cell.dataset, cell.featurizer.id) in seen:
            continue
        seen.add((cell.dataset, cell.featurizer.id))
        own = featurizer_part(cell.featurizer)
        check_units(cell.featurizer, make_featurizer(own.name, own.params), plan.datasets[cell.dataset])


def sample_digest(rows: np.ndarray) -> str:
    """Identifies a training sample by its dataset rows, in order."""
    return rows_digest(rows)


__all__ = ["RowFeatures", "TaskMaker", "check_feature_units", "make_tasks", "sample_digest", "text_threads"]
