"""A labelled dataset as every stage sees it: one table, fixed splits, a task type, a content hash.

Splits are ``train``, ``dev`` and ``test``. ``dev`` is a given validation set (SentEval's
SST-2 chooses its hyperparameters on it); most datasets have none, and a record may
merge a given dev split into train instead (``GivenSplit(merge={"dev": "train"})``).
The task type (``Dataset.task``, :mod:`enso.tasks`) says what the other columns are,
what featurizers see (``units``), what targets are fitted on (``labels``) and how the
content hash is computed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from enso.seeds import derive_seed
from enso.tasks import DEFAULT_TASK, SPLITS, Layout, Ragged, TaskType, Units, get_task

__all__ = ["SPLITS", "Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Rows in a fixed order; features are stored in the order of ``units``."""

    name: str
    frame: pd.DataFrame
    content_hash: str
    card: dict[str, Any] = field(default_factory=dict)
    task: TaskType = field(default_factory=lambda: get_task(DEFAULT_TASK))

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame, card: dict[str, Any] | None = None,
                   task: str | TaskType | None = None) -> Dataset:
        """The dataset of ``frame``, checked by its task type (``task``, else the card's, else classification)."""
        card = dict(card or {})
        task_type = get_task(task if task is not None else card.get("task"))
        frame = task_type.check_frame(frame, name)
        return cls(name, frame, task_type.content_hash(frame), card, task_type)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        task = "" if self.task.name == DEFAULT_TASK else f", task={self.task.name!r}"
        return (f"Dataset(name={self.name!r}, rows={len(self.frame)}, classes={len(self.classes)}{task}, "
                f"content_hash={self.content_hash[:12]!r})")

    @functools.cached_property
    def units(self) -> Units:
        """What featurizers encode, in feature order, and how rows map to it."""
        return self.task.units(self.frame)

    @property
    def layout(self) -> Layout:
        return self.units.layout

    @property
    def texts(self) -> list[str]:
        """The texts featurizers encode, in feature-row order (classification: every row's text)."""
        if self.units.kind != "text":
            raise TypeError(f"dataset {self.name} ({self.task.name}) has token units, not texts; use .units")
        return list(self.units.items)

    @functools.cached_property
    def labels(self) -> np.ndarray | Ragged:
        """What a target is fitted on: one label per row, or per token (``Ragged``); ``labels[rows]`` selects."""
        return self.task.labels(self.frame)

    @property
    def strata(self) -> np.ndarray:
        """One value per row whose shares caps and stratified draws keep (classification: the label)."""
        return self.task.strata(self.frame)

    @functools.cached_property
    def classes(self) -> list[str]:
        return self.task.classes(self.frame)

    def target_input(self, features: Any, rows: np.ndarray, options: dict[str, Any] | None = None) -> Any:
        return self.task.target_input(features, self.layout, rows, options)

    def split_index(self, split: str) -> np.ndarray:
        """Row positions of ``split`` ('train', 'dev' or 'test'), in row order (empty if it has none)."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
        return np.flatnonzero(self.frame["split"].to_numpy() == split)

    def duplicate_test_rows(self) -> np.ndarray:
        """Test rows whose example, exactly as stored, is also a train row's (row order, int64).

        The example is the text for classification (the task type's ``row_keys``). These
        are the test examples a model may have seen verbatim in training: the ``dedupe``
        option drops them from the test split. Dev rows count on neither side.
        """
        split = self.frame["split"].to_numpy()
        keys = self.task.row_keys(self.frame)
        seen = set(keys[split == "train"].tolist())
        test = np.flatnonzero(split == "test")
        return np.asarray([row for row in test.tolist() if keys[row] in seen], dtype=np.int64)

    def test_in_train(self) -> dict[str, int | float]:
        """How many test rows have their exact example in the train split, and their share of the test split."""
        n_test = int((self.frame["split"] == "test").sum())
        count = len(self.duplicate_test_rows())
        return {"count": count, "share": count / n_test if n_test else 0.0}

    def capped(self, max_examples: int | None) -> Dataset:
        """At most ``max_examples`` rows, drawn stratified by split and stratum (the label) with a fixed seed.

        Row order is kept, so the capped view is a stable, hashable dataset of its own.
        """
        n = len(self.frame)
        if max_examples is None or max_examples >= n:
            return self
        rng = np.random.default_rng(derive_seed("cap", self.name, self.content_hash, max_examples))
        keys = pd.DataFrame({"split": self.frame["split"].to_numpy(), "label": self.strata})
        groups = keys.groupby(["split", "label"], sort=True).indices
        quotas = {key: max_examples * len(rows) / n for key, rows in groups.items()}
        counts = {key: int(np.floor(q)) for key, q in quotas.items()}
        leftover = max_examples - sum(counts.values())
        by_remainder = sorted(quotas, key=lambda key: (-(quotas[key] - counts[key]), key))
        for key in by_remainder[:leftover]:
            counts[key] += 1
        keep = np.concatenate([
            rng.choice(np.asarray(rows), size=min(counts[key], len(rows)), replace=False)
            for key, rows in groups.items()
        ])
        frame = self.frame.iloc[np.sort(keep)].reset_index(drop=True)
        card = {**self.card, "capped_from": n, "max_examples": max_examples}
        return Dataset.from_frame(self.name, frame, card, self.task)
