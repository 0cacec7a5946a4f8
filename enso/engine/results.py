"""The results table on disk: ``results.parquet`` and ``results.csv``, a verified file set.

Both files are written with ``store.write_fileset`` (each to a temporary name, renamed, then
``results.manifest.json`` with their sha256 last). ``load_results`` reads the table only if
the manifest verifies it, and otherwise says how to rebuild it; the engine rebuilds a broken
table from the cells (which are verified on their own).

The engine's side of it: ``previous_table`` (the stored table, if it verifies), ``finished_cells``
(the result rows of every planned cell already stored, metric values reused from the previous
table where it holds them) and ``assemble_table`` (the table of a run, in plan order).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enso import store
from enso.engine.assemble import ASSEMBLY_VERSION, METRIC_COLUMNS, metric_rows
from enso.engine.plan import COLUMNS
from enso.errors import EnsoError

log = logging.getLogger(__name__)

RESULTS = "results.parquet"
RESULTS_CSV = "results.csv"
MANIFEST = "results.manifest.json"
KIND = "results"

_FLOATS = ("value", "train_value", "seconds", "fit_seconds", "predict_seconds", "test_ci_low", "test_ci_high",
           "majority_share", "baseline_value")
_INTS = ("train_size", "resample", "n_train", "n_test", "n_classes", "seed")


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in COLUMNS})


def to_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The results table from result rows, columns and types fixed."""
    if not rows:
        return empty_table()
    import json

    table = pd.DataFrame(rows)
    table["chosen_params"] = [p if isinstance(p, str) else json.dumps(p, sort_keys=True)
                              for p in table["chosen_params"]]
    for column in _FLOATS:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
    for column in _INTS:
        table[column] = table[column].astype("int64")
    return table.loc[:, COLUMNS].reset_index(drop=True)


def check_table(table: pd.DataFrame) -> str | None:
    """What makes ``table`` not a results table (columns, types, one row per cell and metric), or None."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        return f"it lacks the columns {missing}"
    for column in _FLOATS:
        if not pd.api.types.is_float_dtype(table[column]):
            return f"column {column} is {table[column].dtype}, not float64"
    for column in _INTS:
        if not pd.api.types.is_integer_dtype(table[column]):
            return f"column {column} is {table[column].dtype}, not int64"
    if table.duplicated(["cell", "metric"]).any():
        return "it has two rows for one cell and metric"
    return None


def read_table(results_dir: Path) -> pd.DataFrame | None:
    """The stored table if its manifest verifies it and it has the table's shape; else None (warned)."""
    artifact = store.read_fileset(results_dir, MANIFEST)
    if artifact is None:
        return None
    try:
        table = pd.read_parquet(artifact.file(RESULTS))
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s cannot be read (%s)", results_dir / RESULTS, exc)
        return None
    problem = check_table(table)
    if problem:
        log.warning("%s is not a results table: %s", results_dir / RESULTS, problem)
        return None
    table.attrs["assembly_version"] = artifact.meta.get("assembly_version")
    return table


def reusable_values(table: pd.DataFrame | None) -> dict[str, dict[str, dict[str, Any]]]:
    """cell -> metric -> the metric's values, from a verified table assembled the way this engine does."""
    if table is None or table.attrs.get("assembly_version") != ASSEMBLY_VERSION:
        return {}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    columns = ["cell", "metric", *METRIC_COLUMNS]
    for cell, metric, *values in table.loc[:, columns].itertuples(index=False, name=None):
        out.setdefault(cell, {})[metric] = {c: (float(v) if v is not None else np.nan)
                                            for c, v in zip(METRIC_COLUMNS, values)}
    return out


def write_table(results_dir: Path, table: pd.DataFrame, *, key: str, previous: pd.DataFrame | None) -> bool:
    """Write the table as a verified file set, unless an identical verified one is there; True if written."""
    if previous is not None and previous.attrs.get("assembly_version") == ASSEMBLY_VERSION and \
            (results_dir / RESULTS_CSV).is_file() and previous.equals(table):
        return False
    store.write_fileset(results_dir, MANIFEST, {
        RESULTS: lambda path: table.to_parquet(path, index=False),
        RESULTS_CSV: lambda path: table.to_csv(path, index=False),
    }, key=key, kind=KIND, meta={"assembly_version": ASSEMBLY_VERSION, "rows": len(table),
                                 "cells": int(table["cell"].nunique()) if len(table) else 0})
    return True


def load_results(experiment: str, workspace) -> pd.DataFrame:
    """The results table of ``experiment`` (a config name), verified against its manifest."""
    results_dir = workspace.results_dir(experiment)
    path = results_dir / RESULTS
    rerun = f"`python -m enso.experiment {experiment}`"
    if not path.is_file():
        raise EnsoError(f"no results for experiment {experiment!r} at {path}; run {rerun} first")
    artifact = store.read_fileset(results_dir, MANIFEST)
    if artifact is None:
        raise EnsoError(f"the results of experiment {experiment!r} at {path} do not verify against "
                        f"{MANIFEST} (changed, damaged or half-written); rerun {rerun}, which rebuilds "
                        "them from the stored cells")
    table = read_table(results_dir)
    if table is None:
        raise EnsoError(f"{path} is not a readable results table; rerun {rerun}, which rebuilds it from the "
                        "stored cells")
    table.attrs.pop("assembly_version", None)
    return table


def previous_table(results_dir: Path) -> pd.DataFrame | None:
    """The stored table of an earlier run if it verifies; None on a first run or (warned) when it does not."""
    if not (results_dir / RESULTS).exists() and not (results_dir / MANIFEST).exists():
        return None  # a first run
    table = read_table(results_dir)
    if table is None:
        log.warning("the results table in %s does not verify; rebuilding it from the cells", results_dir)
    return table


#: cell meta columns that name, not identify: taken from the plan when a stored cell's differ
RELABELLED = ("featurizer", "target")


def finished_cells(plan, cells: list, cells_store, reuse: dict[str, dict[str, dict]]) -> dict[str, list[dict]]:
    """key -> result rows of every planned cell stored whole, metric values reused where known.

    A stored cell whose identity columns differ from the plan's is warned about and left out, so
    it is recomputed; the labels (``featurizer``, ``target``: a ``label = "..."`` is no part of the
    cell key) are not identity: a relabelled entry's rows get the
    plan's labels and nothing is recomputed.
    """
    config = plan.config
    finished = {}
    for cell in cells:
        stored = cells_store.read(cell.key)
        if stored is None:
            continue
        meta = cell.meta(config.name, config.protocol)
        changed = sorted(k for k in meta if stored.info["meta"].get(k) != meta[k] and k not in RELABELLED)
        if changed:
            log.warning("cell %s was stored with other %s; recomputing it", stored.path, ", ".join(changed))
            continue
        info = {**stored.info, "meta": meta} if stored.info["meta"] != meta else stored.info
        finished[cell.key] = metric_rows(info, stored.predictions, list(config.metrics), reuse.get(cell.key))
    return finished


def assemble_table(cells: list, finished: dict[str, list[dict]]) -> pd.DataFrame:
    """The results table of ``cells`` (plan order) from their rows; refuses one featurizer label with two identities."""
    table = to_table([row for cell in cells for row in finished[cell.key]])
    if len(table):
        ids = table.groupby("featurizer")["featurizer_id"].unique()
        mixed = {label: sorted(found) for label, found in ids.items() if len(found) > 1}
        if mixed:
            label, found = next(iter(mixed.items()))
            raise EnsoError(f"the results would hold featurizer {label} with two identities ({', '.join(found)}); "
                            "rerun with --force to recompute its cells on one")
    return table
