"""What a reader must be warned about before trusting a score.

- One-class predictions: a configuration whose test predictions are almost all one class on
  some resample (``majority_share``, written by the experiment stage) has learnt the class
  prior, not the task, whatever its score and however much that score varies.
- Test texts that also occur in the train split (``test_in_train`` in run.json): scores on
  such a test split partly measure recall of training texts.
- The majority-class reference: what always predicting the training sample's most frequent
  class scores (``baseline_value``, or the ``majority`` target's rows when the run has one).

Every column used here is newer than some results tables: when it is absent, the check says
nothing (no flag, no line) rather than guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from enso.report.results import base_name

ONE_CLASS_SHARE = 0.95
TEST_IN_TRAIN_NOTE = 0.05
MAJORITY_TARGET = "majority"


@dataclass(frozen=True)
class OneClass:
    """One configuration at one dataset and size with one-class predictions on some resamples."""

    configuration: str
    dataset: str
    train_size: int
    resamples: int        # with predictions >= ONE_CLASS_SHARE one class
    of: int               # resamples in all
    max_share: float


def one_class_cells(frame: pd.DataFrame, label: pd.Series, share: float = ONE_CLASS_SHARE) -> list[OneClass]:
    """Every (configuration, dataset, size) with test predictions at least ``share`` one class on
    any resample. ``label`` names each row's configuration. Empty without ``majority_share``."""
    if "majority_share" not in frame.columns:
        return []
    cells = frame.assign(configuration=label.to_numpy(),
                         share=pd.to_numeric(frame["majority_share"], errors="coerce"))
    # one value per cell: every metric row of a cell carries the same share
    cells = cells.drop_duplicates(["configuration", "dataset", "train_size", "resample"])
    cells = cells.assign(one_class=cells["share"] >= share)
    out = []
    for (configuration, dataset, size), part in cells.groupby(["configuration", "dataset", "train_size"],
                                                            sort=False):
        flagged = int(part["one_class"].sum())
        if flagged:
            out.append(OneClass(str(configuration), str(dataset), int(size), flagged, len(part),
                                float(part["share"].max())))
    return out


def test_in_train(info: dict) -> dict[str, tuple[int, float]]:
    """Per dataset: (count, share) of test texts that also occur in the train split, from run.json.

    Anything not shaped as the experiment stage writes it (``datasets.<name>.test_in_train``
    with ``count`` and ``share``) is left out.
    """
    datasets = info.get("datasets") if isinstance(info, dict) else None
    if not isinstance(datasets, dict):
        return {}
    out = {}
    for name, entry in datasets.items():
        counts = entry.get("test_in_train") if isinstance(entry, dict) else None
        if not isinstance(counts, dict):
            continue
        count, share = counts.get("count"), counts.get("share")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            continue
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share) \
                or not 0 <= share <= 1:
            continue
        out[str(name)] = (count, float(share))
    return out


def dedupe(info: dict) -> bool | None:
    """The run's ``dedupe`` setting from run.json's config, or None when it does not say."""
    config = info.get("config") if isinstance(info, dict) else None
    value = config.get("dedupe") if isinstance(config, dict) else None
    return value if isinstance(value, bool) else None


def majority_reference(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The majority-class score per dataset, metric and size, and where it came from.

    From the ``majority`` target's own rows when the run has that target, else from the
    ``baseline_value`` column; empty (and "") when neither is there.
    """
    keys = ["dataset", "metric", "train_size"]
    majority = frame[frame["target"].map(base_name) == MAJORITY_TARGET]
    if len(majority):
        table = majority.groupby(keys, sort=False)["value"].mean().reset_index()
        return table, "target"
    if "baseline_value" in frame.columns:
        values = pd.to_numeric(frame["baseline_value"], errors="coerce")
        part = frame.assign(value=values)[np.isfinite(values)]
        if len(part):
            return part.groupby(keys, sort=False)["value"].mean().reset_index(), "baseline"
    return pd.DataFrame(columns=[*keys, "value"]), ""
