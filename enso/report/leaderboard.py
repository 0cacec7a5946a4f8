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
    """Mean, sd and 95% CI over resamples per dataset, metric, size and entry."""
    return summarize(frame, ["dataset", "metric", "train_size", *entry])


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


def best_per_size(frame: pd.DataFrame, score_table: pd.DataFrame, rank_table: pd.DataFrame,
                  entry: list[str], metric: str, alpha: float = ALPHA) -> pd.DataFrame:
    """For each size: the entry with the best mean rank, and on each dataset the best entry and
    those not significantly worse (paired Wilcoxon against the best, Holm-corrected per dataset)."""
    lower = not higher_is_better(metric)
    framed = with_entry(frame[frame["metric"] == metric], entry)
    sc = with_entry(score_table[score_table["metric"] == metric], entry)
    rk = with_entry(rank_table[rank_table["metric"] == metric], entry)
    rows = []
    for size in sorted(framed["train_size"].unique()):
        board = rk[rk["train_size"] == size].sort_values(
            ["mean_rank", "mean_score"], ascending=[True, lower], kind="stable")
        overall = board.iloc[0]
        at_size = framed[framed["train_size"] == size]
        pooled = pairwise_tests(at_size, "entry", ["metric"], alpha=alpha, pair_on=("dataset", "resample"),
                                keep_pair=lambda a, b, top=overall["entry"]: top in (a, b))
        beaten = [(t["b"] if t["a"] == overall["entry"] else t["a"]) for _, t in pooled.iterrows()
                  if bool(t["significant"]) and _first_is_better(t, overall["entry"], lower)]
        pooled_note = {"pooled_beaten": beaten, "pooled_tests": int(len(pooled)),
                       "pooled_pairs": int(pooled["n_pairs"].min()) if len(pooled) else 0,
                       "pooled_max_p_holm": float(pooled["p_holm"].max()) if len(pooled) else float("nan")}
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
                "best_overall": overall["entry"], "best_overall_mean_rank": float(overall["mean_rank"]),
                "best": best["entry"], "mean": float(best["mean"]), "sd": float(best["sd"]),
                "n": int(best["n"]), "not_significantly_worse": tied,
                "n_entries": int(part["entry"].nunique()), **pooled_note,
            })
    return pd.DataFrame(rows)


def _first_is_better(test, entry: str, lower_is_better: bool) -> bool:
    """Whether ``entry`` (one side of a paired test) has the better mean."""
    diff = test["mean_diff"] if test["a"] == entry else -test["mean_diff"]  # entry minus the other
    return diff < 0 if lower_is_better else diff > 0
