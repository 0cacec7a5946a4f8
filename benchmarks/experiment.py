"""Experiment engine vs two scikit-learn loops on the same grid: time, ratios, and agreement.

The plain loop is what one would write by hand: per cell, one process, library defaults,
``GridSearchCV(LogisticRegression(max_iter=1000), {"C": five values}, cv=3)``, then the
test accuracy. The careful loop is the same cells as a careful user writes them: one BLAS
thread per process (``threadpoolctl.threadpool_limits(1)``) and the cells spread over
``--jobs`` processes with ``joblib`` (features memory-mapped, not copied to the workers).
enso runs the same cells (same training samples, same C grid, same folds) through
``run_experiment`` with ``jobs=--jobs`` (``--jobs`` cells at a time: ``--jobs - 1`` worker
processes and the calling process). Features are computed (and cached) before any clock
starts; every side runs in (or is started from) this process, which has imported
scikit-learn and enso by then.

By default the grid is the logreg half of the default experiment (``experiments/default.toml``:
its datasets, featurizers, training sizes, resamples and seed; logreg's default C grid, 3-fold
inner CV), scored by accuracy, the one metric the peers compute: today PangLeeSentences and
AirlineSentiment x tfidf, glove-6b-50d and minilm x sizes 50, 100, 200, 500 x 10 resamples =
240 cells. Any of these can be narrowed from the command line; ``--peers careful`` leaves out
the plain loop (13.5 s a cell measured at sizes 50 and 200 on 2 busy cores: about an hour on
that grid) and checks agreement against the careful one:

    python benchmarks/experiment.py --root /tmp/enso-bench --mirror URL|DIR         # the default experiment's grid
    python benchmarks/experiment.py --root /tmp/enso-bench --mirror URL|DIR --peers careful
    python benchmarks/experiment.py --datasets SST2,TREC --featurizers minilm,tfidf --sizes 50,200 --resamples 1 --max-examples 2000
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings

import tomllib
from pathlib import Path

import pandas as pd

C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]  # logreg's default Cs (enso.targets.linear.DEFAULT_CS)
PEERS = ("plain", "careful")
DEFAULT_EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "default.toml"


def _default_grid() -> dict:
    """The default experiment's datasets, featurizers, sizes, resamples and seed, as this script's defaults."""
    with open(DEFAULT_EXPERIMENT, "rb") as handle:
        config = tomllib.load(handle)
    names = [f if isinstance(f, str) else f["name"] for f in config["featurizers"]]
    return {"datasets": ",".join(config["datasets"]), "featurizers": ",".join(names),
            "sizes": ",".join(str(size) for size in config["train_sizes"]), "resamples": int(config["resamples"]),
            "seed": int(config.get("seed", 0))}


def parse_args(argv=None):
    grid = _default_grid()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="workspace folder (default: $ENSO_ROOT or the current directory)")
    parser.add_argument("--mirror", help="dataset mirror (URL or folder laid out as MIRROR/HOST/PATH)")
    parser.add_argument("--datasets", default=grid["datasets"], help=f"default: {grid['datasets']}")
    parser.add_argument("--featurizers", default=grid["featurizers"], help=f"default: {grid['featurizers']}")
    parser.add_argument("--sizes", default=grid["sizes"], help=f"training sizes (default: {grid['sizes']})")
    parser.add_argument("--resamples", type=int, default=grid["resamples"], help=f"default: {grid['resamples']}")
    parser.add_argument("--seed", type=int, default=grid["seed"], help=f"default: {grid['seed']}")
    parser.add_argument("--jobs", type=int, default=2,
                        help="enso worker processes, and the careful loop's joblib processes (default 2)")
    parser.add_argument("--max-examples", type=int, default=None,
                        help="cap every dataset at this many rows (a quicker grid; default: none)")
    parser.add_argument("--peers", default="plain,careful",
                        help="the hand-written loops to time: plain, careful, or both (default); the plain loop, "
                             "all BLAS threads in one process, takes about an hour on the default grid")
    parser.add_argument("--out", help="also write the measurements as JSON here")
    return parser.parse_args(argv)


def make_config(args, workspace):
    from enso.components import parse_config

    return parse_config({
        "name": "benchmark-experiment",
        "datasets": args.datasets.split(","),
        "featurizers": args.featurizers.split(","),
        "targets": [{"name": "logreg", "Cs": C_GRID, "cv": 3}],
        "train_sizes": [int(s) for s in args.sizes.split(",")],
        "resamples": args.resamples,
        "metrics": ["accuracy"],
        "seed": args.seed,
        **({"max_examples": args.max_examples} if args.max_examples else {}),
    }, workspace)


def prepare(config, workspace, mirror):
    """Datasets and features in the cache, and every cell's training rows (the same for both sides)."""
    from enso.data import download
    from enso.engine.plan import build_plan, draw_rows
    from enso.engine.runner import load_datasets
    from enso.features import featurize_config, load_features

    download(config.datasets, workspace, mirror=mirror)
    featurize_config(config, workspace)
    plan = build_plan(config, load_datasets(config, workspace))
    cells = []
    for cell in plan.cells:
        dataset = plan.datasets[cell.dataset]
        features = load_features(cell.featurizer, dataset, workspace)
        cells.append((cell, features.path, draw_rows(cell.draw, dataset)))
    return plan, cells


def plain_loop(plan, cells):
    """The hand-written baseline: one process, library defaults."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from enso.features import open_feature_file

    opened, out = {}, []
    started = time.perf_counter()
    for cell, path, rows in cells:
        if path not in opened:
            opened[path] = open_feature_file(path)
        X = opened[path]
        labels = plan.datasets[cell.dataset].labels
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # enso's folds: shuffled, seeded with the cell's target seed; its ties: the larger C,
            # which GridSearchCV (first best in grid order) gives with the grid in descending order
            folds = StratifiedKFold(3, shuffle=True, random_state=cell.target_seed)
            search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": C_GRID[::-1]}, cv=folds)
            search.fit(X[rows], labels[rows])
        accuracy = search.score(X[cell.test], labels[cell.test])
        out.append({"dataset": cell.dataset, "featurizer": cell.featurizer.label, "train_size": cell.train_size,
                    "resample": cell.resample, "plain": accuracy, "plain_C": search.best_params_["C"]})
    return time.perf_counter() - started, pd.DataFrame(out)


def _careful_cell(path, X_rows, y_train, X_test_rows, y_test, seed):
    """One cell as a careful user fits it in a joblib worker: one BLAS thread, features memory-mapped."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from threadpoolctl import threadpool_limits

    from enso.features import open_feature_file

    X = open_feature_file(path)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        folds = StratifiedKFold(3, shuffle=True, random_state=seed)
        search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": C_GRID[::-1]}, cv=folds)
        search.fit(X[X_rows], y_train)
        return search.score(X[X_test_rows], y_test), search.best_params_["C"]


def careful_loop(plan, cells, jobs):
    """The careful hand-written loop: ``jobs`` joblib processes, one BLAS thread each, same folds and ties."""
    from joblib import Parallel, delayed

    started = time.perf_counter()
    tasks = []
    for cell, path, rows in cells:
        labels = plan.datasets[cell.dataset].labels
        tasks.append(delayed(_careful_cell)(str(path), rows, labels[rows], cell.test, labels[cell.test],
                                            cell.target_seed))
    scores = Parallel(n_jobs=jobs)(tasks)
    seconds = time.perf_counter() - started
    out = [{"dataset": cell.dataset, "featurizer": cell.featurizer.label, "train_size": cell.train_size,
            "resample": cell.resample, "careful": accuracy, "careful_C": C}
           for (cell, _, _), (accuracy, C) in zip(cells, scores, strict=True)]
    return seconds, pd.DataFrame(out)


def enso_run(config, workspace, jobs):
    from enso.engine import run_experiment
    from enso.store import Reuse

    started = time.perf_counter()
    table = run_experiment(config, workspace, jobs=jobs, reuse=Reuse.RECOMPUTE)
    seconds = time.perf_counter() - started
    table = table.assign(enso_C=[json.loads(c).get("C") for c in table["chosen_params"]])
    return seconds, table.rename(columns={"value": "enso"})[
        ["dataset", "featurizer", "train_size", "resample", "enso", "enso_C"]]


def main(argv=None) -> int:
    from enso.workspace import Workspace

    args = parse_args(argv)
    peers = [peer for peer in args.peers.split(",") if peer]
    if not peers or set(peers) - set(PEERS):
        print(f"error: --peers takes one or both of {', '.join(PEERS)}, not {args.peers!r}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    workspace = Workspace.resolve(args.root)
    config = make_config(args, workspace)
    plan, cells = prepare(config, workspace, args.mirror)
    print(f"grid: {len(cells)} cells ({args.datasets} x {args.featurizers} x sizes {args.sizes} x "
          f"{args.resamples} resamples x logreg, C in {C_GRID}, 3-fold CV)", flush=True)

    seconds, frames = {}, {}
    if "plain" in peers:
        seconds["plain"], frames["plain"] = plain_loop(plan, cells)
        print(f"plain scikit-learn loop (1 process):                  {seconds['plain']:8.2f} s", flush=True)
    if "careful" in peers:
        seconds["careful"], frames["careful"] = careful_loop(plan, cells, args.jobs)
        print(f"careful loop (joblib {args.jobs} processes, 1 BLAS thread each): {seconds['careful']:8.2f} s",
              flush=True)
    enso_seconds, ours = enso_run(config, workspace, args.jobs)
    print(f"enso (--jobs {args.jobs}):                                  {enso_seconds:8.2f} s", flush=True)

    keys = ["dataset", "featurizer", "train_size", "resample"]
    both = ours
    for frame in frames.values():
        both = both.merge(frame, on=keys, validate="one_to_one")
    assert len(both) == len(cells), "every cell is measured on every side"
    reference = "plain" if "plain" in frames else "careful"  # the careful loop fits what the plain one fits
    gap = (both["enso"] - both[reference]).abs()
    same_accuracy = int((gap < 1e-9).sum())
    same_C = int((both[f"{reference}_C"] == both["enso_C"]).sum())
    careful_same = (int(((both["careful"] - both["plain"]).abs() < 1e-9).sum())
                    if len(frames) == 2 else None)
    ratio = seconds["plain"] / enso_seconds if "plain" in seconds else None
    careful_ratio = seconds["careful"] / enso_seconds if "careful" in seconds else None
    if ratio is not None:
        print(f"ratio (plain / enso):    {ratio:8.2f}x")
    if careful_ratio is not None:
        print(f"ratio (careful / enso):  {careful_ratio:8.2f}x   (goal: >= 2x)")
    print(f"agreement with the {reference} loop: {same_accuracy}/{len(both)} cells with identical test accuracy, "
          f"{same_C}/{len(both)} with the same C; |accuracy difference| mean {gap.mean():.5f}, max {gap.max():.5f}; "
          "mean accuracy " + ", ".join(f"{side} {both[side].mean():.4f}" for side in [*frames, "enso"]))
    if careful_same is not None:
        print(f"careful vs plain: {careful_same}/{len(both)} cells with identical test accuracy "
              "(the same fits, threads and processes aside)")
    by = both.groupby(["dataset", "featurizer"])[[*frames, "enso"]].mean().round(4)
    print(by.to_string())
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump({"cells": len(both), "plain_seconds": seconds.get("plain"), "enso_seconds": enso_seconds,
                       "careful_seconds": seconds.get("careful"), "careful_ratio": careful_ratio,
                       "careful_same_accuracy": careful_same, "ratio": ratio, "jobs": args.jobs,
                       "reference": reference, "same_accuracy": same_accuracy, "same_C": same_C,
                       "max_abs_difference": float(gap.max()), "mean_abs_difference": float(gap.mean())},
                      handle, indent=2)
    # The warm-started path reaches each fold's optimum within the solver's tolerance from another
    # starting point, so a C that nearly ties with another may flip; anything beyond that is a bug.
    agree = same_accuracy >= 0.9 * len(both) and gap.mean() < 0.01 and careful_same in (None, len(both))
    print("agreement check: " + ("PASS" if agree else "FAIL") + " (enso: >= 90% of cells identical, mean gap < 0.01"
          + ("; careful: every cell identical to plain)" if careful_same is not None else ")"))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
