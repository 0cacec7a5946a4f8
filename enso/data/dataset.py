"""A labelled text dataset as every stage sees it: one table, fixed splits, a content hash.

Splits are ``train``, ``dev`` and ``test``. ``dev`` is a given validation set (SentEval's
SST-2 chooses its hyperparameters on it); most datasets have none, and a record may
merge a given dev split into train instead (``GivenSplit(merge={"dev": "train"})``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from enso.seeds import derive_seed

SPLITS = ("train", "dev", "test")
COLUMNS = ("text", "label", "split")


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 over every row's split, label and text, length-prefixed so no separator can collide."""
    digest = hashlib.sha256()
    for text, label, split in zip(frame["text"], frame["label"], frame["split"]):
        for value in (split, label, text):
            data = str(value).encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Dataset:
    """Rows in a fixed order; features are stored in this same order."""

    name: str
    frame: pd.DataFrame
    content_hash: str
    card: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame, card: dict[str, Any] | None = None) -> "Dataset":
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"dataset {name} lacks columns {missing}")
        frame = frame.loc[:, list(COLUMNS)].reset_index(drop=True)
        frame = frame.astype({"text": str, "label": str, "split": str})
        bad = sorted(set(frame["split"]) - set(SPLITS))
        if bad:
            raise ValueError(f"dataset {name} has unknown splits {bad}; use 'train', 'dev' and 'test'")
        return cls(name, frame, content_hash(frame), dict(card or {}))

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, rows={len(self.frame)}, classes={self.frame['label'].nunique()}, "
                f"content_hash={self.content_hash[:12]!r})")

    @property
    def texts(self) -> list[str]:
        return self.frame["text"].tolist()

    @property
    def labels(self) -> np.ndarray:
        return self.frame["label"].to_numpy()

    @property
    def classes(self) -> list[str]:
        return sorted(self.frame["label"].unique())

    def split_index(self, split: str) -> np.ndarray:
        """Row positions of ``split`` ('train', 'dev' or 'test'), in row order (empty if it has none)."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
        return np.flatnonzero(self.frame["split"].to_numpy() == split)

    def duplicate_test_rows(self) -> np.ndarray:
        """Test rows whose text, exactly as stored, is also the text of a train row (row order, int64).

        These are the test examples a model may have seen verbatim in training: the
        ``dedupe`` option drops them from the test split. Dev rows count on neither side.
        """
        split = self.frame["split"].to_numpy()
        texts = self.frame["text"].to_numpy()
        seen = set(texts[split == "train"].tolist())
        test = np.flatnonzero(split == "test")
        return np.asarray([row for row in test.tolist() if texts[row] in seen], dtype=np.int64)

    def test_in_train(self) -> dict[str, int | float]:
        """How many test rows have their exact text in the train split, and their share of the test split."""
        n_test = int((self.frame["split"] == "test").sum())
        count = len(self.duplicate_test_rows())
        return {"count": count, "share": count / n_test if n_test else 0.0}

    def capped(self, max_examples: int | None) -> "Dataset":
        """At most ``max_examples`` rows, drawn stratified by split and label with a fixed seed.

        Row order is kept, so the capped view is a stable, hashable dataset of its own.
        """
        n = len(self.frame)
        if max_examples is None or max_examples >= n:
            return self
        rng = np.random.default_rng(derive_seed("cap", self.name, self.content_hash, max_examples))
        groups = self.frame.groupby(["split", "label"], sort=True).indices
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
        return Dataset.from_frame(self.name, frame, card)
