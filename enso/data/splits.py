"""A fixed, stratified test split for datasets that come without one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from enso.seeds import derive_seed


def stratified_test_split(labels: pd.Series | np.ndarray, *, fraction: float, name: str) -> np.ndarray:
    """``'train'``/``'test'`` per row: round(fraction * n) rows of each class go to test.

    Every class with at least two rows keeps at least one row on each side. The seed comes
    from the dataset's name alone, so the split never depends on when or where it was drawn.
    """
    labels = np.asarray(labels, dtype=object)
    rng = np.random.default_rng(derive_seed("test-split", name))
    split = np.full(len(labels), "train", dtype=object)
    for label in sorted(set(labels.tolist())):
        rows = np.flatnonzero(labels == label)
        n_test = int(round(fraction * len(rows)))
        if len(rows) >= 2:
            n_test = min(max(n_test, 1), len(rows) - 1)
        chosen = rng.permutation(rows)[:n_test]
        split[chosen] = "test"
    return split
