"""``classification``: one text and one class label per row (every dataset before task types)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from enso.tasks.base import Layout, TaskType, Units, row_units


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 over every row's split, label and text, length-prefixed so no separator can collide.

    Byte for byte the hash datasets had before task types: every stored feature set and
    cell keyed by it stays valid. (The generic ``hash_rows`` would give the same bytes
    without a prefix; it is spelled out here so that nothing in it can drift.)
    """
    digest = hashlib.sha256()
    for text, label, split in zip(frame["text"], frame["label"], frame["split"]):
        for value in (split, label, text):
            data = str(value).encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()


class Classification(TaskType):
    name = "classification"
    description = "one text per row, labelled with one class"
    columns = ("text", "label", "split")
    dtypes: ClassVar[dict[str, Any]] = {"text": str, "label": str, "split": str}
    unit = "text"
    label_unit = "row"
    row_noun = "example"
    metrics = ("accuracy", "macro_f1", "roc_auc", "log_loss", "mcc")
    default_metrics = ("accuracy", "macro_f1")

    def content_hash(self, frame: pd.DataFrame) -> str:
        return content_hash(frame)

    def units(self, frame: pd.DataFrame) -> Units:
        """Every row's text in row order, duplicates kept: feature row ``r`` is dataset row ``r``."""
        return row_units(frame["text"].tolist())

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["label"].to_numpy()

    def classes(self, frame: pd.DataFrame) -> list[str]:
        return sorted(frame["label"].unique())

    def row_keys(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["text"].to_numpy()

    def target_input(self, features: Any, frame: pd.DataFrame | Layout, rows: np.ndarray,
                     options: dict[str, Any] | None = None) -> Any:
        """``features[rows]``: the stored matrix has one row per dataset row."""
        return features[rows]

    def card_stats(self, frame: pd.DataFrame, splits: Sequence[str]) -> dict[str, Any]:
        counts = frame.groupby(["split", "label"], sort=True).size()
        by_class = {label: {split: int(counts.get((split, label), 0)) for split in splits}
                    for label in sorted(set(frame["label"]))}
        return {"n_classes": len(by_class), "class_counts": by_class,
                "duplicated_texts": int(frame["text"].duplicated().sum())}
