"""Comparisons across datasets, tested the way Demšar (2006) recommends.

Each dataset is one block: a configuration's score on it is its mean over resamples, so a
dataset counts once however many resamples it has. With three or more configurations the
Friedman test asks whether any differ in rank across datasets; only when it rejects does the
Nemenyi post-hoc (scikit-posthocs, all pairs, multiplicity built into the studentized range)
compare the configuration with the best mean rank against each other one. With two
configurations the Wilcoxon signed-rank test on the per-dataset means does both jobs. With
fewer than :data:`MIN_DATASETS` datasets no test is run and no claim across datasets is made.

Pooling (dataset, resample) pairs into one test, as enso did before, treats resamples of one
dataset as independent evidence about all datasets; it is not done.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from enso.report.significance import ALPHA, min_attainable_p
from enso.report.stats import higher_is_better

MIN_DATASETS = 3
POSTHOC = "Nemenyi"


@dataclass
class AcrossDatasets:
    """The across-dataset verdict at one training size for one metric."""

    train_size: int
    metric: str
    n_datasets: int
    configurations: list[str] = field(default_factory=list)  # compared: present on every dataset
    left_out: list[str] = field(default_factory=list)        # missing on some dataset at this size
    test: str = ""                    # "friedman", "wilcoxon" or "" (not tested)
    statistic: float = float("nan")
    p_value: float = float("nan")
    min_p: float = float("nan")       # the smallest p the test can give with these many datasets
    top: str = ""                     # best mean rank (a description, not a claim, unless tested)
    top_mean_rank: float = float("nan")
    mean_ranks: dict[str, float] = field(default_factory=dict)
    posthoc_p: dict[str, float] = field(default_factory=dict)  # top against each other configuration
    beaten: list[str] = field(default_factory=list)
    not_beaten: list[str] = field(default_factory=list)
    reason: str = ""                  # why nothing could be tested

    @property
    def claim_possible(self) -> bool:
        return bool(self.test)

    def row(self) -> dict:
        return {"train_size": self.train_size, "metric": self.metric, "n_datasets": self.n_datasets,
                "configurations": len(self.configurations), "left_out": " | ".join(self.left_out),
                "test": self.test, "statistic": self.statistic, "p_value": self.p_value, "min_p": self.min_p,
                "top_by_mean_rank": self.top, "top_mean_rank": self.top_mean_rank,
                "posthoc": POSTHOC if self.posthoc_p and self.test == "friedman" else "",
                "beaten": " | ".join(self.beaten), "not_beaten": " | ".join(self.not_beaten),
                "max_posthoc_p_beaten": max((self.posthoc_p[b] for b in self.beaten), default=float("nan")),
                "reason": self.reason}


def block_matrix(score_table: pd.DataFrame, metric: str, size: int) -> tuple[pd.DataFrame, list[str]]:
    """Per-dataset mean scores at ``size``: datasets x configurations (``entry``), only the
    configurations every dataset has, and the list of those left out."""
    part = score_table[(score_table["metric"] == metric) & (score_table["train_size"] == size)]
    matrix = part.pivot_table(index="dataset", columns="entry", values="mean", aggfunc="first", sort=False)
    complete = matrix.columns[matrix.notna().all(axis=0)]
    left_out = [c for c in matrix.columns if c not in complete]
    return matrix[complete], left_out


def friedman_min_p(n_datasets: int, k: int) -> float:
    """The smallest Friedman p-value (chi-square form) with ``n_datasets`` blocks and ``k`` groups:
    every dataset ranks the configurations the same way."""
    from scipy import stats

    return float(stats.chi2.sf(n_datasets * (k - 1), k - 1))


def nemenyi_min_p(n_datasets: int, k: int) -> float:
    """The smallest Nemenyi p-value: mean ranks 1 and k apart."""
    from scipy import stats

    q = (k - 1) / np.sqrt(k * (k + 1) / (6.0 * n_datasets))
    return float(stats.studentized_range.sf(q * np.sqrt(2.0), k, np.inf))


def across_datasets(score_table: pd.DataFrame, metric: str, size: int, alpha: float = ALPHA) -> AcrossDatasets:
    """Friedman + Nemenyi (or Wilcoxon for two configurations) on per-dataset means at one size.

    ``score_table`` holds one row per dataset, metric, size and configuration with its mean
    over resamples in ``mean`` and the configuration's label in ``entry``.
    """
    from scipy import stats

    matrix, left_out = block_matrix(score_table, metric, size)
    n, k = matrix.shape
    out = AcrossDatasets(int(size), metric, n, list(matrix.columns), left_out)
    if k:
        # rank 1 = best on each dataset; ties share the average rank
        ranks = matrix.rank(axis=1, ascending=not higher_is_better(metric), method="average")
        mean_ranks = ranks.mean(axis=0)
        out.mean_ranks = {c: float(mean_ranks[c]) for c in matrix.columns}
        top = mean_ranks.sort_values(kind="stable").index[0]
        out.top, out.top_mean_rank = str(top), float(mean_ranks[top])
    if n < MIN_DATASETS:
        out.reason = f"{n} dataset{'s' if n != 1 else ''}, a test across datasets needs at least {MIN_DATASETS}"
        return out
    if k < 2:
        out.reason = "fewer than two configurations present on every dataset"
        return out
    values = matrix.to_numpy(dtype=float)
    if k == 2:
        a, b = values[:, 0], values[:, 1]
        d = np.round(a - b, 12)
        out.test = "wilcoxon"
        out.min_p = min_attainable_p(n)
        other = next(c for c in matrix.columns if c != out.top)
        if not d.any():
            out.statistic, out.p_value = 0.0, 1.0
        else:
            result = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
            out.statistic, out.p_value = float(result.statistic), float(result.pvalue)
        out.posthoc_p = {other: out.p_value}
        (out.beaten if out.p_value < alpha else out.not_beaten).append(other)
        return out
    out.test = "friedman"
    out.min_p = friedman_min_p(n, k)
    if np.all(values == values[:, :1]):  # every configuration ties on every dataset
        out.statistic, out.p_value = 0.0, 1.0
    else:
        result = stats.friedmanchisquare(*values.T)
        out.statistic, out.p_value = float(result.statistic), float(result.pvalue)
    others = [c for c in matrix.columns if c != out.top]
    if not out.p_value < alpha:  # no post-hoc without a rejected Friedman null (Demšar 2006, §3.2.2)
        out.not_beaten = others
        return out
    import scikit_posthocs as sp

    p = sp.posthoc_nemenyi_friedman(pd.DataFrame(values, columns=list(matrix.columns)))
    for other in others:
        value = float(p.loc[out.top, other])
        out.posthoc_p[other] = value
        (out.beaten if value < alpha else out.not_beaten).append(other)
    return out
