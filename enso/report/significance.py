"""Paired Wilcoxon signed-rank tests over shared resamples, Holm-corrected.

Every featurizer and target sees the same training sample for a given (dataset, size,
resample), so two configurations' scores on one resample form a pair. The test runs on the
differences, rounded so that scores equal in exact arithmetic tie exactly; zero differences
are dropped (Wilcoxon's rule) and reported. With ties or zeros SciPy computes the p-value by
exhaustive permutation for up to 13 differences, so small-sample p-values are exact.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd

ALPHA = 0.05
MIN_PAIRS = 2
DECIMALS = 12
PROGRESS_FROM = 200  # groups; fewer finish in a blink
COLUMNS = ("n_pairs", "n_nonzero", "mean_a", "mean_b", "mean_diff", "statistic", "p_value",
           "p_holm", "significant", "holm_m", "holm_min_p", "note")


def min_attainable_p(n_nonzero: int) -> float:
    """The smallest two-sided exact Wilcoxon p-value with ``n_nonzero`` distinct differences."""
    return min(1.0, 2.0 / 2.0 ** n_nonzero) if n_nonzero > 0 else 1.0


def holm_min_p(m: int, n_nonzero: int) -> float:
    """The smallest Holm-adjusted p-value in a family of ``m`` exact Wilcoxon tests whose largest
    number of non-zero differences is ``n_nonzero``: Holm multiplies the smallest p by m."""
    return min(1.0, m * min_attainable_p(n_nonzero)) if m > 0 else 1.0


def resamples_needed(m: int, alpha: float = ALPHA) -> int:
    """The fewest non-zero paired differences with which a Holm family of ``m`` can reach p < alpha."""
    n = 1
    while holm_min_p(m, n) >= alpha:
        n += 1
    return n


def paired_test(a, b, alpha: float = ALPHA) -> dict:
    """Wilcoxon signed-rank test of ``a - b`` with the cases it cannot handle made explicit."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    d = np.round(a - b, DECIMALS)
    n = len(d)
    nonzero = int(np.count_nonzero(d))
    out = {"n_pairs": n, "n_nonzero": nonzero,
           "mean_a": float(a.mean()) if n else np.nan, "mean_b": float(b.mean()) if n else np.nan,
           "mean_diff": float(d.mean()) if n else np.nan, "statistic": np.nan, "p_value": np.nan}
    if n < MIN_PAIRS:
        out["note"] = f"not tested: {n} shared resample{'s' if n != 1 else ''} (needs {MIN_PAIRS})"
        return out
    if nonzero == 0:
        out.update(statistic=0.0, p_value=1.0, note="identical on every shared resample")
        return out
    out["statistic"], out["p_value"] = _wilcoxon(d)
    notes = []
    if nonzero < n:
        notes.append(f"{n - nonzero} zero difference{'s' if n - nonzero != 1 else ''} dropped")
    kept = d[d != 0]
    if len(np.unique(np.abs(kept))) < len(kept):
        notes.append("tied differences")
    floor = min_attainable_p(nonzero)
    if floor >= alpha:
        notes.append(f"{nonzero} non-zero pairs cannot reach p<{alpha:g} (smallest possible p={floor:.3g})")
    out["note"] = "; ".join(notes)
    return out


_CACHE: dict[tuple, tuple[float, float]] = {}
_CACHE_SIZE = 100_000


def _wilcoxon(d: np.ndarray) -> tuple[float, float]:
    """SciPy's two-sided Wilcoxon test of ``d``, remembered by what it depends on.

    The statistic and p-value are functions of the signed ranks of the non-zero differences
    and of whether zeros were dropped (which picks SciPy's method), so scores on one test
    split, which repeat the same patterns across many comparisons, are computed once.
    """
    from scipy import stats

    kept = d[d != 0]
    ranks = stats.rankdata(np.abs(kept))
    key = (len(d) - len(kept), tuple(sorted(zip(ranks.tolist(), np.sign(kept).tolist()))))
    cached = _CACHE.get(key)
    if cached is None:
        result = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="auto")
        cached = (float(result.statistic), float(result.pvalue))
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = cached
    return cached


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN entries stay NaN and do not count."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = len(tested)
    if m == 0:
        return adjusted
    order = tested[np.argsort(p[tested], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def pairwise_tests(frame: pd.DataFrame, compare: str, within: list[str], *, alpha: float = ALPHA,
                   family: list[str] | None = None,
                   keep_pair: Callable[[str, str], bool] | None = None,
                   pair_on: tuple[str, ...] = ("resample",)) -> pd.DataFrame:
    """Test every pair of ``compare`` values inside each ``within`` x train_size group.

    Scores are paired by ``pair_on`` (the resample; ``("dataset", "resample")`` pools the
    datasets of a group into one test). ``family`` (default: the group itself) names the
    columns whose groups share one Holm correction; ``[]`` corrects over the whole table.
    Columns: the group's keys, ``a``, ``b`` and :data:`COLUMNS`; ``mean_diff`` is a - b.
    """
    from enso import progress

    keys = [*within, "train_size"]
    rows = []
    groups = frame.groupby(keys, sort=False, observed=True)
    for group, part in progress.track(groups, f"paired tests ({compare})", "group", total=groups.ngroups,
                                      enabled=groups.ngroups >= PROGRESS_FROM):
        group = group if isinstance(group, tuple) else (group,)
        table = part.pivot_table(index=list(pair_on), columns=compare, values="value", aggfunc="first")
        units = [u for u in dict.fromkeys(part[compare]) if u in table.columns]
        values = {u: table[u].to_numpy(dtype=float) for u in units}
        for a, b in itertools.combinations(units, 2):
            if keep_pair is not None and not keep_pair(a, b):
                continue
            shared = ~(np.isnan(values[a]) | np.isnan(values[b]))
            result = paired_test(values[a][shared], values[b][shared], alpha)
            rows.append({**dict(zip(keys, group)), "a": a, "b": b, **result})
    out = pd.DataFrame(rows, columns=[*keys, "a", "b", *COLUMNS])
    if out.empty:
        return out
    family_keys = keys if family is None else family
    families = out.groupby(family_keys, sort=False, observed=True) if family_keys else None
    if families is not None:
        out["p_holm"] = families["p_value"].transform(lambda p: pd.Series(holm(p.to_numpy()), index=p.index))
        out["holm_m"] = families["p_value"].transform("count")
        widest = families["n_nonzero"].transform("max")
    else:
        out["p_holm"] = holm(out["p_value"].to_numpy())
        out["holm_m"] = int(out["p_value"].notna().sum())
        widest = pd.Series(int(out["n_nonzero"].max()), index=out.index)
    out["holm_m"] = out["holm_m"].astype(int)
    out["holm_min_p"] = [holm_min_p(m, n) for m, n in zip(out["holm_m"], widest, strict=True)]
    out["significant"] = out["p_holm"] < alpha
    out["note"] = out["note"].fillna("")
    # a family too large for its resamples: no test in it can be significant, whatever the difference
    unreachable = (out["holm_m"] > 1) & (out["holm_min_p"] >= alpha) & out["p_value"].notna()
    for index in out.index[unreachable]:
        m = int(out.at[index, "holm_m"])
        text = (f"Holm over {m} tests: the smallest adjusted p is {out.at[index, 'holm_min_p']:.3g}, "
                f"p<{alpha:g} cannot be reached")
        out.at[index, "note"] = f"{out.at[index, 'note']}; {text}" if out.at[index, "note"] else text
    return out
