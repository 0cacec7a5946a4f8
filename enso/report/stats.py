"""Means, spreads and 95% confidence intervals over resamples."""

from __future__ import annotations

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
_LOWER_IS_BETTER = ("loss", "error", "brier", "perplexity")


def higher_is_better(metric: str) -> bool:
    """A metric's direction: from the registry when it says, else from its name."""
    try:
        from enso.metrics import METRICS

        entry = METRICS.get(metric)
        for attribute in ("greater_is_better", "higher_is_better"):
            value = getattr(entry, attribute, None)
            if isinstance(value, bool):
                return value
    except Exception:  # the registry is optional here; the name is a good guide
        pass
    lowered = metric.lower()
    return not any(word in lowered for word in _LOWER_IS_BETTER)


def t_halfwidth(sd: np.ndarray | float, n: np.ndarray | int, confidence: float = CONFIDENCE):
    """Half-width of the Student-t interval of a mean; NaN with fewer than two values."""
    from scipy import stats

    n = np.asarray(n, dtype=float)
    sd = np.asarray(sd, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf(0.5 + confidence / 2, np.where(n > 1, n - 1, np.nan))
        return quantile * sd / np.sqrt(n)


def summarize(frame: pd.DataFrame, keys: list[str], value: str = "value") -> pd.DataFrame:
    """One row per ``keys`` group: n, mean, sd (ddof=1), 95% CI of the mean, min, max."""
    grouped = frame.groupby(keys, sort=False, observed=True)[value]
    out = grouped.agg(n="count", mean="mean", sd="std", min="min", max="max").reset_index()
    half = t_halfwidth(out["sd"].to_numpy(), out["n"].to_numpy())
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out
