"""``run_experiment``: plan the sweep, run the missing cells, assemble the results table."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enso.config import ExperimentConfig
from enso.engine import plan as planning
from enso.engine.cellstore import CellStore
from enso.engine.executors import default_threads, execute
from enso.engine.lock import experiment_lock
from enso.engine.plan import (
    COLUMNS,
    MTEB_DEFAULTS,
    SENTEVAL_DEFAULTS,
    Cell,
    Plan,
    build_plan,
    draw_rows,
)
from enso.engine.worker import CellTask
from enso.errors import ConfigError, EnsoError
from enso.store import (
    atomic_path,
    package_versions,
    write_json_atomic,
    write_text_atomic,
)
from enso.workspace import Workspace

log = logging.getLogger(__name__)

RESULTS = "results.parquet"
RESULTS_CSV = "results.csv"
RUN_INFO = "run.json"

# Rough seconds per cell, ``a + b * n_train``, used by --dry-run until finished cells give real timings.
_COST = {"logreg": (0.05, 4e-4), "logreg-sgd": (0.05, 2e-4), "linear-svm": (0.02, 1e-4),
         "rbf-svm": (0.05, 5e-4), "knn": (0.03, 5e-5), "naive-bayes": (0.02, 5e-5),
         "random-forest": (2.0, 3e-3), "nearest-centroid": (0.01, 1e-5), "mlp": (2.0, 5e-3),
         "layer-mix": (2.0, 5e-3)}
_DEFAULT_COST = (0.05, 2e-4)


def check_protocol_options(config: ExperimentConfig) -> None:
    allowed = {"enso": {}, "mteb": MTEB_DEFAULTS, "senteval": SENTEVAL_DEFAULTS}[config.protocol]
    for key in config.protocol_options:
        if key not in allowed:
            valid = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(f"protocol_options: {key!r} is not an option of protocol {config.protocol!r} "
                              f"(valid: {valid})")
    minimum = {"samples_per_label": 1, "n_experiments": 1, "max_iter": 1, "seed": 0, "folds": 2, "inner_folds": 2}
    for key, value in config.protocol_options.items():
        if key in minimum and (not isinstance(value, int) or isinstance(value, bool) or value < minimum[key]):
            raise ConfigError(f"protocol_options: {key} must be an integer >= {minimum[key]}, got {value!r}")
        if key == "Cs" and (not isinstance(value, list) or not value or not all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and c > 0 for c in value)):
            raise ConfigError(f"protocol_options: Cs must be a non-empty list of positive numbers, got {value!r}")
        if key == "cv_datasets" and value != "auto" and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"protocol_options: cv_datasets must be \"auto\" or a list of dataset names, got {value!r}")


def _load_datasets(config: ExperimentConfig, workspace: Workspace) -> dict[str, Any]:
    from enso.data import load_dataset

    return {name: load_dataset(name, workspace, max_examples=config.cap_for(name)) for name in config.datasets}


def _load_features(spec, dataset, workspace: Workspace, device: str):
    from enso.features import load_features

    return load_features(spec, dataset, workspace, device=device)


def run_experiment(config: ExperimentConfig, workspace: Workspace, *, jobs: int = 1, scheduler: str | None = None,
                   dry_run: bool = False, force: bool = False, threads: int | None = None,
                   device: str = "auto") -> pd.DataFrame:
    """Run every missing cell of ``config`` and return the results table (one row per cell and metric).

    With ``dry_run`` nothing is computed or written: the returned table has one row per cell
    with its ``status`` ("done" or "to run") and ``estimate_seconds``; ``.attrs["plan"]``
    summarises it (see ``describe_plan``). ``device`` is where missing features are computed; it
    matters because a featurizer's default precision, part of its identity, follows the device.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    check_protocol_options(config)
    results_dir = workspace.results_dir(config.name)
    store = CellStore(results_dir)
    datasets = _load_datasets(config, workspace)
    plan = build_plan(config, datasets)
    for skip in plan.skipped:
        log.warning("%s", skip.describe())
    if dry_run:
        return _dry_run(plan, store, force=force, jobs=jobs)

    threads = threads or default_threads(jobs if not scheduler else 1)
    with experiment_lock(results_dir, config.name):
        store.clean_temporaries()
        started = _dt.datetime.now(_dt.UTC)
        clock = time.perf_counter()
        finished = {} if force else _finished_cells(plan, store)
        todo = [cell for cell in plan.cells if cell.key not in finished]
        log.info("%s: %d cells, %d already done, %d to run%s", config.name, len(plan.cells), len(finished),
                 len(todo), f" ({len(plan.skipped)} sizes skipped)" if plan.skipped else "")
        if todo:
            _write_run_info(results_dir, config, plan, started=started, status="running", jobs=jobs,
                            scheduler=scheduler, threads=threads,
                            counts={"cells": len(plan.cells), "done_before": len(finished)})
        tasks = _tasks(plan, todo, workspace, threads, device)
        failures = _run_tasks(tasks, store, finished, jobs=jobs, scheduler=scheduler)
        counts = {"cells": len(plan.cells), "done_before": len(plan.cells) - len(todo),
                  "computed": len(todo) - len(failures), "failed": len(failures)}
        if failures:
            _write_run_info(results_dir, config, plan, started=started, status="incomplete", jobs=jobs,
                            scheduler=scheduler, threads=threads, counts=counts, seconds=time.perf_counter() - clock,
                            failures=failures[:20])
            first = failures[0]
            raise EnsoError(f"{len(failures)} of {len(plan.cells)} cells failed (first: {first['cell']}: "
                            f"{first['error']}); finished cells are kept, so after fixing it a rerun computes "
                            "only the missing ones")
        table = _assemble(plan, finished)
        changed = _write_results(results_dir, table)
        if changed or todo:
            _write_run_info(results_dir, config, plan, started=started, status="complete", jobs=jobs,
                            scheduler=scheduler, threads=threads, counts=counts,
                            seconds=time.perf_counter() - clock)
        else:
            log.info("%s: every cell was already done; results unchanged in %s", config.name, results_dir)
    return table


def _finished_cells(plan: Plan, store: CellStore) -> dict[str, list[dict]]:
    finished = {}
    for cell in plan.cells:
        rows = store.read(cell.key)
        if rows is not None:
            finished[cell.key] = rows
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


def _tasks(plan: Plan, todo: list[Cell], workspace: Workspace, threads: int, device: str) -> list[CellTask]:
    """Worker tasks for ``todo``, feature sets loaded (computed if absent) once per dataset and featurizer."""
    from enso.engine import worker

    feature_sets: dict[tuple[str, str], Any] = {}
    checked: set[tuple[str, str, str]] = set()
    tasks = []
    for cell in todo:
        pair = (cell.dataset, cell.featurizer.id)
        if pair not in feature_sets:
            feature_sets[pair] = _load_features(cell.featurizer, plan.datasets[cell.dataset], workspace, device)
        features = feature_sets[pair]
        if (*pair, cell.target.id) not in checked:
            _check_compatible(cell, features.X)
            checked.add((*pair, cell.target.id))
        dataset = plan.datasets[cell.dataset]
        rows = draw_rows(cell.draw, dataset, features.X)
        labels = dataset.labels
        tasks.append(CellTask(
            key=cell.key, feature_path=str(features.path), train=rows, test=cell.test, test_id=cell.test_id,
            y_train=labels[rows], y_test=labels[cell.test], target_name=cell.target.name,
            target_params=dict(cell.target.params), target_seed=cell.target_seed, resampler=cell.resampler,
            resample_seed=cell.resample_seed, metrics=list(plan.config.metrics),
            meta=cell.meta(plan.config.name, plan.config.protocol, features.featurizer_id),
            opener=worker.FEATURE_OPENER, threads=threads,
        ))
        worker.prime(str(features.path), features.X)
    # the largest fits first, so that no worker is left with a long one at the end
    order = {pair: i for i, pair in enumerate(dict.fromkeys((t.meta["dataset"], t.meta["featurizer"]) for t in tasks))}
    tasks.sort(key=lambda t: (order[(t.meta["dataset"], t.meta["featurizer"])], -len(t.train)))
    return tasks


def sample_digest(rows: np.ndarray) -> str:
    """Identifies a training sample by its dataset rows, in order."""
    import hashlib

    return hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16]


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
                store.write(task.key, result["rows"], sample=sample_digest(task.train), test=task.test_id)
                finished[task.key] = result["rows"]
            bar.update(1)
    return failures


def _assemble(plan: Plan, finished: dict[str, list[dict]]) -> pd.DataFrame:
    rows = [row for cell in plan.cells for row in finished[cell.key]]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in COLUMNS})
    table["chosen_params"] = [json.dumps(p, sort_keys=True) if not isinstance(p, str) else p
                              for p in table["chosen_params"]]
    for column in ("value", "train_value", "seconds", "fit_seconds", "predict_seconds"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
    for column in ("train_size", "resample", "n_train", "n_test", "n_classes", "seed"):
        table[column] = table[column].astype("int64")
    return table.loc[:, COLUMNS].reset_index(drop=True)


def _write_results(results_dir: Path, table: pd.DataFrame) -> bool:
    """Write the table (Parquet, then CSV) unless identical files are already there; True if written."""
    results_dir.mkdir(parents=True, exist_ok=True)
    target = results_dir / RESULTS
    if target.is_file() and (results_dir / RESULTS_CSV).is_file():
        try:
            if pd.read_parquet(target).equals(table):
                return False
        except (OSError, ValueError):
            pass
    with atomic_path(target) as temp:
        table.to_parquet(temp, index=False)
    write_text_atomic(results_dir / RESULTS_CSV, table.to_csv(index=False))
    return True


def load_results(experiment: str, workspace: Workspace) -> pd.DataFrame:
    """The results table of ``experiment`` (a config name) as a DataFrame."""
    path = workspace.results_dir(experiment) / RESULTS
    if not path.is_file():
        raise EnsoError(f"no results for experiment {experiment!r} at {path}; run "
                        f"`python -m enso.experiment {experiment}` first")
    return pd.read_parquet(path)


def _git_commit() -> dict[str, Any] | None:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=False)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=False)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _hardware() -> dict[str, Any]:
    info: dict[str, Any] = {"machine": platform.machine(), "system": platform.platform(),
                            "cpus": os.cpu_count(), "processor": platform.processor() or None}
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages * page_size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info


def _write_run_info(results_dir: Path, config: ExperimentConfig, plan: Plan, *, started, status: str, jobs: int,
                    scheduler: str | None, threads: int, counts: dict, seconds: float | None = None,
                    failures: list | None = None) -> None:
    info = {
        "experiment": config.name, "status": status, "config": config.to_dict(),
        "config_path": str(config.source) if config.source else None,
        "started": started.isoformat(timespec="seconds"),
        "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds") if seconds is not None else None,
        "seconds": round(seconds, 3) if seconds is not None else None,
        "jobs": jobs, "scheduler": scheduler, "blas_threads_per_worker": threads, "cells": counts,
        "skipped": [s.__dict__ for s in plan.skipped],
        "datasets": {name: {"content_hash": d.content_hash, "rows": len(d)} for name, d in plan.datasets.items()},
        "engine_version": planning.ENGINE_VERSION, "versions": package_versions(), "git": _git_commit(),
        "hardware": _hardware(), "command": sys.argv,
    }
    if failures:
        info["failures"] = failures
    write_json_atomic(results_dir / RUN_INFO, info)


def _estimates(plan: Plan, finished: dict[str, list[dict]]) -> dict[str, float]:
    """Seconds per cell: from finished cells of the same target where there are some, else a rough prior."""
    observed: dict[str, list[tuple[int, float]]] = {}
    for cell in plan.cells:
        rows = finished.get(cell.key)
        if rows:
            observed.setdefault(cell.target.label, []).append((rows[0]["n_train"], rows[0]["seconds"]))
    fits = {}
    for label, points in observed.items():
        n, s = np.array(points, dtype=float).T
        if len(points) >= 3 and np.ptp(n) > 0:
            slope, intercept = np.polyfit(n, s, 1)
            fits[label] = (max(intercept, 0.0), max(slope, 0.0))
        else:
            fits[label] = (0.0, float(np.mean(s / np.maximum(n, 1))))
    out = {}
    for cell in plan.cells:
        a, b = fits.get(cell.target.label) or _COST.get(cell.target.name, _DEFAULT_COST)
        out[cell.key] = a + b * cell.train_size
    return out


def _dry_run(plan: Plan, store: CellStore, *, force: bool, jobs: int) -> pd.DataFrame:
    finished = {} if force else _finished_cells(plan, store)
    estimates = _estimates(plan, _finished_cells(plan, store))
    records = []
    for cell in plan.cells:
        records.append({
            "dataset": cell.dataset, "featurizer": cell.featurizer.label, "target": cell.target.label,
            "sampler": cell.sampler, "resampler": cell.resampler, "train_size": cell.train_size,
            "resample": cell.resample, "status": "done" if cell.key in finished else "to run",
            "estimate_seconds": 0.0 if cell.key in finished else estimates[cell.key], "key": cell.key,
        })
    table = pd.DataFrame(records, columns=["dataset", "featurizer", "target", "sampler", "resampler", "train_size",
                                           "resample", "status", "estimate_seconds", "key"])
    to_run = int((table["status"] == "to run").sum()) if len(table) else 0
    table.attrs["plan"] = {
        "experiment": plan.config.name, "protocol": plan.config.protocol, "cells": len(table),
        "done": len(table) - to_run, "to_run": to_run, "jobs": jobs,
        "estimate_seconds": float(table["estimate_seconds"].sum()) / max(1, jobs) if len(table) else 0.0,
        "skipped": [s.describe() for s in plan.skipped],
    }
    return table


def describe_plan(table: pd.DataFrame) -> str:
    """A few lines for people: what a dry run found."""
    plan = table.attrs["plan"]
    lines = [(f"experiment {plan['experiment']} (protocol {plan['protocol']}): {plan['cells']} cells, "
              f"{plan['done']} done, {plan['to_run']} to run")]
    if len(table):
        by = table.groupby(["dataset", "featurizer", "target"], sort=False)["status"]
        for (dataset, featurizer, target), status in by:
            lines.append(f"  {dataset} x {featurizer} x {target}: {len(status)} cells, "
                         f"{int((status == 'to run').sum())} to run")
    for skip in plan["skipped"]:
        lines.append(f"  skipped: {skip}")
    minutes = plan["estimate_seconds"] / 60
    lines.append(f"estimated time for the cells to run with --jobs {plan['jobs']}: "
                 f"{minutes:.1f} min (rough; featurization not included)")
    return "\n".join(lines)
