"""Real datasets for the featurizer tests, built from the shared benchmark files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from enso.data.dataset import Dataset


def read_sst2(shared: Path, split_file: str) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in (shared / split_file).read_bytes().decode("utf-8").split("\n"):
        if line.strip():
            label, text = line.split(" ", 1)
            texts.append(text.strip())
            labels.append(label)
    return texts, labels


def sst2_dataset(shared: Path, n_train: int | None = 300, n_test: int | None = 100, name: str = "SST2") -> Dataset:
    """The first ``n_train`` SST-2 train sentences and ``n_test`` test sentences."""
    train_texts, train_labels = read_sst2(shared, "stsa.binary.train")
    test_texts, test_labels = read_sst2(shared, "stsa.binary.test")
    frame = pd.DataFrame({
        "text": train_texts[:n_train] + test_texts[:n_test],
        "label": train_labels[:n_train] + test_labels[:n_test],
        "split": ["train"] * len(train_texts[:n_train]) + ["test"] * len(test_texts[:n_test]),
    })
    return Dataset.from_frame(name, frame)


def dataset_from_rows(name: str, train: list[str], test: list[str]) -> Dataset:
    frame = pd.DataFrame({
        "text": train + test,
        "label": ["a", "b"] * (len(train) // 2) + ["a"] * (len(train) % 2) + ["a"] * len(test),
        "split": ["train"] * len(train) + ["test"] * len(test),
    })
    return Dataset.from_frame(name, frame)
