"""``run_experiment``: plan the sweep, check it, run the missing cells, assemble the results table.

Orchestration only; each job lives beside it: ``plan`` (cells and keys), ``checks`` (what makes
a sweep impossible, found before any feature is computed), ``prepare`` (worker tasks: inputs
described, features loaded, samples drawn), ``worker`` / ``executors`` (running cells),
``cellstore`` (cells on disk), ``assemble`` (metrics from predictions), ``results`` (the table on
disk, and what earlier runs left), ``provenance`` (run.json), ``estimate`` (dry runs) and
``lock`` (one run per experiment).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from typing import Any

import pandas as pd

from enso import progress
from enso.config import ExperimentConfig
from enso.engine import checks, provenance
from enso.engine.assemble import ASSEMBLY_VERSION
from enso.engine.cellstore import CellStore
from enso.engine.estimate import DryRun, describe_plan
from enso.engine.executors import default_threads, execute
from enso.engine.lock import experiment_lock
from enso.engine.options import route_task_options
from enso.engine.plan import Cell, Plan, build_plan, resolve_featurizer_ids
from enso.engine.prepare import make_tasks, sample_digest
from enso.engine.results import (
    RESULTS,
    RESULTS_CSV,
    assemble_table,
    finished_cells,
    load_results,
    previous_table,
    reusable_values,
    write_table,
)
from enso.engine.worker import CellTask
from enso.errors import EnsoError
from enso.hashing import stable_hash
from enso.store import Reuse, clean_temporaries, missing
from enso.workspace import Workspace

log = logging.getLogger(__name__)

RUN_INFO = provenance.RUN_INFO

__all__ = ["RESULTS", "RESULTS_CSV", "RUN_INFO", "describe_plan", "load_datasets", "load_results", "run_experiment",
           "sample_digest"]


def load_datasets(config: ExperimentConfig, workspace: Workspace) -> dict[str, Any]:
    from enso.data import load_dataset

    return {name: load_dataset(name, workspace, max_examples=config.cap_for(name)) for name in config.datasets}


def run_experiment(config: ExperimentConfig, workspace: Workspace, *, jobs: int = 1, scheduler: str | None = None,
                   dry_run: bool = False, reuse: Reuse | str = Reuse.REUSE, threads: int | None = None,
                   device: str = "auto") -> pd.DataFrame:
    """Run every missing cell of ``config`` (``_run_experiment``), with ``precision = "auto"`` pinned
    where the protocol reproduces numbers computed in one precision (mteb, senteval: fp32)."""
    from enso.features.precision import pinned
    from enso.protocols.base import feature_precision

    with pinned(feature_precision(config)):
        return _run_experiment(config, workspace, jobs=jobs, scheduler=scheduler, dry_run=dry_run, reuse=reuse,
                               threads=threads, device=device)


def _run_experiment(config: ExperimentConfig, workspace: Workspace, *, jobs: int = 1, scheduler: str | None = None,
                    dry_run: bool = False, reuse: Reuse | str = Reuse.REUSE, threads: int | None = None,
                    device: str = "auto") -> pd.DataFrame:
    """Run every missing cell of ``config`` and return the results table (one row per cell and metric).

    ``reuse``: ``REUSE`` (default) keeps stored cells and computes the missing ones;
    ``RECOMPUTE`` computes every cell again; ``ONLY_CACHED`` computes nothing and fails with one
    line naming what is missing (cells, or the features their cells need).

    Every check that needs no data runs first, then the plan is made and checked
    (``enso.engine.checks``: featurizer output vs target input, task types vs targets and
    metrics), all before any feature is computed. With ``dry_run`` nothing is computed or
    written: the returned table has one row per dataset x featurizer x target with its
    ``cells``, ``done``, ``to_run`` and ``estimate_seconds``; ``.attrs["plan"]`` summarises it
    (see ``describe_plan``). ``device`` is where missing features are computed; it matters
    because a featurizer's default precision, part of its identity and so of every cell key,
    follows the device.
    """
    reuse = Reuse.parse(reuse)
    checks.check_jobs(jobs)
    config = route_task_options(config)  # a config not loaded through enso.components: task options split here
    checks.check_config(config)
    results_dir = workspace.results_dir(config.name)
    store = CellStore(results_dir)
    datasets = load_datasets(config, workspace)
    featurizer_ids = resolve_featurizer_ids(config, device)
    if dry_run:
        counter = DryRun(store, reuse=reuse)
        plan = build_plan(config, datasets, featurizer_ids=featurizer_ids, sink=counter)
        _check(plan)
        return counter.table(plan, jobs)
    plan = build_plan(config, datasets, featurizer_ids=featurizer_ids)
    _check(plan)
    cells = _unique(plan.cells)
    threads = threads or default_threads(jobs if not scheduler else 1)
    run_info = {"jobs": jobs, "scheduler": scheduler, "threads": threads, "datasets": provenance.dataset_info(plan),
                "workspace": workspace}
    with experiment_lock(results_dir, config.name):
        clean_temporaries(results_dir)
        store.clean_temporaries()
        started = _dt.datetime.now(_dt.UTC)
        clock = time.perf_counter()
        previous = previous_table(results_dir)
        finished = {} if not reuse.reads else finished_cells(plan, cells, store, reusable_values(previous))
        todo = [cell for cell in cells if cell.key not in finished]
        log.info("%s: %d cells, %d already done, %d to run%s", config.name, len(cells), len(finished),
                 len(todo), f" ({len(plan.skipped)} sizes skipped)" if plan.skipped else "")
        if todo and not reuse.computes:
            raise missing(f"{len(todo)} of {len(cells)} cells of experiment {config.name!r}",
                          f"enso experiment {config.name}")
        if todo:
            provenance.write_run_info(results_dir, plan, started=started, status="running", **run_info,
                                      counts={"cells": len(cells), "done_before": len(finished)})
        tasks = make_tasks(plan, todo, workspace, threads=threads, jobs=jobs if not scheduler else 1, device=device)
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
        table = assemble_table(cells, finished)
        key = stable_hash({"cells": [cell.key for cell in cells], "metrics": list(config.metrics),
                           "assembly": ASSEMBLY_VERSION})
        changed = write_table(results_dir, table, key=key, previous=previous)
        if changed or todo:
            provenance.write_run_info(results_dir, plan, started=started, status="complete", **run_info,
                                      counts=counts, seconds=time.perf_counter() - clock)
        else:
            log.info("%s: every cell was already done; results unchanged in %s", config.name, results_dir)
    return table


def _check(plan: Plan) -> None:
    """Skips said, then every check of the plan: all before any feature is computed."""
    for skip in plan.skipped:
        log.warning("%s", skip.describe())
    checks.check_runnable(plan)
    checks.check_plan(plan)


def _unique(cells: list[Cell]) -> list[Cell]:
    """Cells in plan order, each key once."""
    seen: dict[str, Cell] = {}
    for cell in cells:
        seen.setdefault(cell.key, cell)
    return list(seen.values())


def _describe_cell(meta: dict[str, Any]) -> str:
    return (f"{meta['dataset']}/{meta['featurizer']}/{meta['target']}/{meta['sampler']}/{meta['resampler']}"
            f"/size {meta['train_size']}/resample {meta['resample']}")


def _run_tasks(tasks: list[CellTask], store: CellStore, finished: dict, *, jobs: int,
               scheduler: str | None) -> list[dict]:
    """Run ``tasks``, storing each finished cell as it comes; the failures, as (cell, error) records."""
    by_key = {task.key: task for task in tasks}
    failures = []
    with progress.bar(len(tasks), "cells", "cell", leave=False) as bar:
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
