"""``run_experiment``: plan the sweep, run the missing cells, assemble the results table.

Orchestration only; the pieces live beside it: ``plan`` (cells and keys), ``cellstore`` (cells
on disk), ``worker`` / ``executors`` (running cells), ``assemble`` (metrics from predictions),
``results`` (the table on disk), ``provenance`` (run.json) and ``estimate`` (dry runs).
"""

from __future__ import annotations

import datetime as _dt
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enso.config import ExperimentConfig
from enso.engine import provenance
from enso.engine.assemble import ASSEMBLY_VERSION, metric_rows
from enso.engine.cellstore import CellStore
from enso.engine.estimate import DryRun, describe_plan
from enso.engine.executors import default_threads, execute
from enso.engine.lock import experiment_lock
from enso.engine.plan import (
    Cell,
    Plan,
    build_plan,
    check_runnable,
    draw_rows,
    resolve_featurizer_ids,
    rows_digest,
)
from enso.engine.results import (
    MANIFEST,
    RESULTS,
    RESULTS_CSV,
    load_results,
    read_table,
    reusable_values,
    to_table,
    write_table,
)
from enso.engine.worker import CellTask
from enso.errors import ConfigError, EnsoError
from enso.hashing import stable_hash
from enso.store import clean_temporaries
from enso.workspace import Workspace

log = logging.getLogger(__name__)

RUN_INFO = provenance.RUN_INFO

__all__ = ["RESULTS", "RESULTS_CSV", "RUN_INFO", "describe_plan", "load_results", "run_experiment",
           "sample_digest"]


def _load_datasets(config: ExperimentConfig, workspace: Workspace) -> dict[str, Any]:
    from enso.data import load_dataset

    return {name: load_dataset(name, workspace, max_examples=config.cap_for(name)) for name in config.datasets}


def _load_features(spec, dataset, workspace: Workspace, device: str, fit_rows: np.ndarray | None = None):
    from enso.features import load_features

    if fit_rows is None:
        return load_features(spec, dataset, workspace, device=device)
    return load_features(spec, dataset, workspace, device=device, fit_rows=fit_rows)


def run_experiment(config: ExperimentConfig, workspace: Workspace, *, jobs: int = 1, scheduler: str | None = None,
                   dry_run: bool = False, force: bool = False, threads: int | None = None,
                   device: str = "auto") -> pd.DataFrame:
    """Run every missing cell of ``config`` and return the results table (one row per cell and metric).

    With ``dry_run`` nothing is computed or written: the returned table has one row per
    dataset x featurizer x target with its ``cells``, ``done``, ``to_run`` and
    ``estimate_seconds``; ``.attrs["plan"]`` summarises it (see ``describe_plan``). ``device``
    is where missing features are computed; it matters because a featurizer's default
    precision, part of its identity and so of every cell key, follows the device.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    results_dir = workspace.results_dir(config.name)
    store = CellStore(results_dir)
    datasets = _load_datasets(config, workspace)
    featurizer_ids = resolve_featurizer_ids(config, device)
    if dry_run:
        counter = DryRun(store, force=force)
        plan = build_plan(config, datasets, featurizer_ids=featurizer_ids, sink=counter)
        _warn_skips(plan)
        check_runnable(plan)
        return counter.table(plan, jobs)
    plan = build_plan(config, datasets, featurizer_ids=featurizer_ids)
    _warn_skips(plan)
    check_runnable(plan)
    cells = _unique(plan.cells)
    dataset_info = provenance.dataset_info(plan)

    threads = threads or default_threads(jobs if not scheduler else 1)
    run_info = {"jobs": jobs, "scheduler": scheduler, "threads": threads, "datasets": dataset_info}
    with experiment_lock(results_dir, config.name):
        clean_temporaries(results_dir)
        store.clean_temporaries()
        started = _dt.datetime.now(_dt.UTC)
        clock = time.perf_counter()
        previous = _previous_table(results_dir)
        finished = {} if force else _finished_cells(plan, cells, store, reusable_values(previous))
        todo = [cell for cell in cells if cell.key not in finished]
        log.info("%s: %d cells, %d already done, %d to run%s", config.name, len(cells), len(finished),
                 len(todo), f" ({len(plan.skipped)} sizes skipped)" if plan.skipped else "")
        if todo:
            provenance.write_run_info(results_dir, plan, started=started, status="running", **run_info,
                                      counts={"cells": len(cells), "done_before": len(finished)})
        tasks = _tasks(plan, todo, workspace, threads, device)
        failures = _run_tasks(tasks, store, finished, jobs=jobs, scheduler=scheduler)
        counts = {"cells": len(cells), "done_before": len(cells) - len(todo),
                  "computed": len(todo) - len(failures), "failed": len(failures)}
        if failures:
            provenance.write_run_info(results_dir, plan, started=started, status="incomplete", **run_info,
                                      counts=counts, seconds=time.perf_counter() - clock, failures=failures[:20])
            first = failures[0]
            raise EnsoError(f"{len(failures)} of {len(cells)} cells failed (first: {first['cell']}: "
                            f"{first['error']}); finished cells are kept, so after fixing it a rerun computes "
                            "only the missing ones")
        table = _assemble(cells, finished)
        key = stable_hash({"cells": [cell.key for cell in cells], "metrics": list(config.metrics),
                           "assembly": ASSEMBLY_VERSION})
        changed = write_table(results_dir, table, key=key, previous=previous)
        if changed or todo:
            provenance.write_run_info(results_dir, plan, started=started, status="complete", **run_info,
                                      counts=counts, seconds=time.perf_counter() - clock)
        else:
            log.info("%s: every cell was already done; results unchanged in %s", config.name, results_dir)
    return table


def _warn_skips(plan: Plan) -> None:
    for skip in plan.skipped:
        log.warning("%s", skip.describe())


def _unique(cells: list[Cell]) -> list[Cell]:
    """Cells in plan order, each key once."""
    seen: dict[str, Cell] = {}
    for cell in cells:
        seen.setdefault(cell.key, cell)
    return list(seen.values())


def _previous_table(results_dir: Path) -> pd.DataFrame | None:
    if not (results_dir / RESULTS).exists() and not (results_dir / MANIFEST).exists():
        return None  # a first run
    table = read_table(results_dir)
    if table is None:
        log.warning("the results table in %s does not verify; rebuilding it from the cells", results_dir)
    return table


def _finished_cells(plan: Plan, cells: list[Cell], store: CellStore,
                    reuse: dict[str, dict[str, dict]]) -> dict[str, list[dict]]:
    """key -> result rows of every planned cell stored whole, metric values reused where known."""
    config = plan.config
    finished = {}
    for cell in cells:
        stored = store.read(cell.key)
        if stored is None:
            continue
        meta = cell.meta(config.name, config.protocol)
        if stored.info["meta"] != meta:
            changed = sorted(k for k in meta if stored.info["meta"].get(k) != meta[k])
            log.warning("cell %s was stored with other %s; recomputing it", stored.path, ", ".join(changed))
            continue
        finished[cell.key] = metric_rows(stored.info, stored.predictions, list(config.metrics), reuse.get(cell.key))
    return finished


def _check_compatible(cell: Cell, X) -> None:
    import scipy.sparse as sp

    from enso.targets import make_target

    target = make_target(cell.target.name, cell.target.params)
    ndim = 2 if sp.issparse(X) else np.ndim(X)
    wanted = getattr(target, "input_ndim", 2)
    if ":" not in cell.target.name and ndim != wanted:
        shape = "(n, layers, d)" if ndim == 3 else "(n, d)"
        fix = ("use layer-mix for per-layer features, or featurize without layers = \"all\"" if ndim == 3
               else "featurize with layers = \"all\"")
        raise ConfigError(f"target {cell.target.label} needs {wanted}-d features, but featurizer "
                          f"{cell.featurizer.label} gives {shape} on {cell.dataset}; {fix}")
    if sp.issparse(X) and not getattr(target, "accepts_sparse", True):
        raise ConfigError(f"target {cell.target.label} needs dense features, but featurizer "
                          f"{cell.featurizer.label} gives sparse ones; pick a dense featurizer for it")


def _in_domain(spec) -> bool:
    from enso.features import FEATURIZERS

    return bool(getattr(FEATURIZERS.get(spec.name), "in_domain", False))


def _tasks(plan: Plan, todo: list[Cell], workspace: Workspace, threads: int, device: str) -> list[CellTask]:
    """Worker tasks for ``todo``, feature sets loaded (computed if absent) once per dataset, featurizer and fit rows."""
    from enso.engine import worker

    feature_sets: dict[tuple, Any] = {}
    checked: set[tuple[str, str, str]] = set()
    in_domain: dict[str, bool] = {}
    tasks = []
    for cell in todo:
        if cell.featurizer.id not in in_domain:
            in_domain[cell.featurizer.id] = _in_domain(cell.featurizer)
        fit_rows = cell.fit_rows if in_domain[cell.featurizer.id] else None
        pair = (cell.dataset, cell.featurizer.id, rows_digest(fit_rows))
        dataset = plan.datasets[cell.dataset]
        if pair not in feature_sets:
            features = _load_features(cell.featurizer, dataset, workspace, device, fit_rows)
            if cell.featurizer_id is not None and features.featurizer_id != cell.featurizer_id:
                raise EnsoError(f"featurizer {cell.featurizer.label} resolved to {cell.featurizer_id} when the "
                                f"sweep was planned but its features on {cell.dataset} are {features.featurizer_id}"
                                "; its model files changed during the run: rerun")
            feature_sets[pair] = features
        features = feature_sets[pair]
        if (*pair[:2], cell.target.id) not in checked:
            _check_compatible(cell, features.X)
            checked.add((*pair[:2], cell.target.id))
        rows = draw_rows(cell.draw, dataset, features.X)
        labels = dataset.labels
        validation = cell.validation_rows
        tasks.append(CellTask(
            key=cell.key, feature_path=str(features.path), train=rows, test=cell.test, test_id=cell.test_id,
            y_train=labels[rows], y_test=labels[cell.test], target_name=cell.target.name,
            target_params=dict(cell.target_params), target_seed=cell.target_seed, resampler=cell.resampler,
            resample_seed=cell.resample_seed, metrics=list(plan.config.metrics),
            meta=cell.meta(plan.config.name, plan.config.protocol, features.featurizer_id),
            opener=worker.FEATURE_OPENER, threads=threads, config_params=dict(cell.target.params),
            validation=validation, y_validation=None if validation is None else labels[validation],
            sample=sample_digest(rows),
        ))
        worker.prime(str(features.path), features.X)
    # the largest fits first, so that no worker is left with a long one at the end
    order = {pair: i for i, pair in enumerate(dict.fromkeys((t.meta["dataset"], t.meta["featurizer"]) for t in tasks))}
    tasks.sort(key=lambda t: (order[(t.meta["dataset"], t.meta["featurizer"])], -len(t.train)))
    return tasks


def sample_digest(rows: np.ndarray) -> str:
    """Identifies a training sample by its dataset rows, in order."""
    return rows_digest(rows)


def _describe_cell(meta: dict[str, Any]) -> str:
    return (f"{meta['dataset']}/{meta['featurizer']}/{meta['target']}/{meta['sampler']}/{meta['resampler']}"
            f"/size {meta['train_size']}/resample {meta['resample']}")


def _run_tasks(tasks: list[CellTask], store: CellStore, finished: dict, *, jobs: int,
               scheduler: str | None) -> list[dict]:
    from tqdm import tqdm

    by_key = {task.key: task for task in tasks}
    failures = []
    with tqdm(total=len(tasks), desc="cells", unit="cell", file=sys.stderr, disable=None, leave=False) as bar:
        for result in execute(tasks, jobs=jobs, scheduler=scheduler):
            task = by_key[result["key"]]
            if "error" in result:
                name = _describe_cell(task.meta)
                log.error("cell %s failed: %s", name, result["error"])
                log.debug("%s", result.get("traceback", ""))
                failures.append({"cell": name, "error": result["error"]})
            else:
                store.write(task.key, result["info"], result["predictions"])
                finished[task.key] = result["rows"]
            bar.update(1)
    return failures


def _assemble(cells: list[Cell], finished: dict[str, list[dict]]) -> pd.DataFrame:
    table = to_table([row for cell in cells for row in finished[cell.key]])
    if len(table):
        ids = table.groupby("featurizer")["featurizer_id"].unique()
        mixed = {label: sorted(found) for label, found in ids.items() if len(found) > 1}
        if mixed:
            label, found = next(iter(mixed.items()))
            raise EnsoError(f"the results would hold featurizer {label} with two identities ({', '.join(found)}); "
                            "rerun with --force to recompute its cells on one")
    return table
