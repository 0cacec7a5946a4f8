"""Scores per dataset, mean ranks across datasets, and the best choice at each size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from enso.report.results import EXTRA_DIMENSIONS
from enso.report.significance import ALPHA, pairwise_tests
from enso.report.stats import higher_is_better, summarize

ENTRY_SEPARATOR = " · "


def entry_columns(frame: pd.DataFrame) -> list[str]:
    """What one compared configuration is: featurizer, target, and any other varying dimension."""
    return ["featurizer", "target", *(d for d in EXTRA_DIMENSIONS if frame[d].nunique() > 1)]


def with_entry(frame: pd.DataFrame, entry: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    frame["entry"] = frame[entry].astype(str).agg(ENTRY_SEPARATOR.join, axis=1) if len(frame) else ""
    return frame


def scores(frame: pd.DataFrame, entry: list[str]) -> pd.DataFrame:
    """Mean, sd and 95% CI over resamples per dataset, metric, size and entry; with the test-set
    interval where the results have one (``test_ci_low``/``test_ci_high`` per cell: the mean of
    each bound over resamples, and ``test_halfwidth``, the mean half-width)."""
    keys = ["dataset", "metric", "train_size", *entry]
    out = summarize(frame, keys)
    if {"test_ci_low", "test_ci_high"} <= set(frame.columns):
        bounds = frame.assign(test_halfwidth=(frame["test_ci_high"] - frame["test_ci_low"]) / 2)
        grouped = bounds.groupby(keys, sort=False, observed=True)[["test_ci_low", "test_ci_high", "test_halfwidth"]]
        out = out.merge(grouped.mean().reset_index(), on=keys, how="left")  # NaN where a cell has none
    return out


def ranks(score_table: pd.DataFrame, entry: list[str]) -> pd.DataFrame:
    """Mean rank (1 = best, ties averaged) of each entry across datasets, per metric and size."""
    table = score_table.copy()
    table["rank"] = np.nan
    for metric, part in table.groupby("metric", sort=False):
        ascending = not higher_is_better(metric)
        ranked = part.groupby(["dataset", "train_size"], sort=False)["mean"].rank(
            ascending=ascending, method="average")
        table.loc[part.index, "rank"] = ranked
    table["win"] = table["rank"] == 1.0
    grouped = table.groupby(["metric", "train_size", *entry], sort=False)
    out = grouped.agg(mean_rank=("rank", "mean"), n_datasets=("dataset", "nunique"),
                      wins=("win", "sum"), mean_score=("mean", "mean")).reset_index()
    out["wins"] = out["wins"].astype(int)
    return out.sort_values(["metric", "train_size", "mean_rank"], kind="stable").reset_index(drop=True)


def best_per_dataset(frame: pd.DataFrame, score_table: pd.DataFrame, entry: list[str], metric: str,
                     alpha: float = ALPHA) -> pd.DataFrame:
    """For each size and dataset: the best entry by mean, and those not significantly worse (paired
    Wilcoxon over resamples against the best, Holm-corrected over the k - 1 comparisons)."""
    lower = not higher_is_better(metric)
    framed = with_entry(frame[frame["metric"] == metric], entry)
    sc = with_entry(score_table[score_table["metric"] == metric], entry)
    rows = []
    for size in sorted(framed["train_size"].unique()):
        for dataset in list(dict.fromkeys(framed["dataset"])):
            part = sc[(sc["train_size"] == size) & (sc["dataset"] == dataset)]
            if part.empty:
                continue
            best = part.sort_values("mean", ascending=lower, kind="stable").iloc[0]
            cell = framed[(framed["train_size"] == size) & (framed["dataset"] == dataset)]
            tests = pairwise_tests(cell, "entry", ["dataset", "metric"], alpha=alpha,
                                   keep_pair=lambda a, b, top=best["entry"]: top in (a, b))
            tied = []
            for _, test in tests.iterrows():
                other = test["b"] if test["a"] == best["entry"] else test["a"]
                if not bool(test["significant"]):
                    tied.append(other)
            rows.append({
                "train_size": int(size), "dataset": dataset, "metric": metric,
                "best": best["entry"], "mean": float(best["mean"]), "sd": float(best["sd"]),
                "test_halfwidth": float(best.get("test_halfwidth", np.nan)),
                "n": int(best["n"]), "not_significantly_worse": tied,
                "n_entries": int(part["entry"].nunique()),
                "holm_m": int(tests["holm_m"].max()) if len(tests) else 0,
                "holm_min_p": float(tests["holm_min_p"].min()) if len(tests) else float("nan"),
                "holm_nonzero": int(tests["n_nonzero"].max()) if len(tests) else 0,
            })
    return pd.DataFrame(rows)
