"""Helpers of the engine tests: real TREC matrices for target tests, and readers of a run's cells and table.

Workspaces, configs and the command line come from the shared fixtures: ``real_root`` /
``real_workspace`` / ``linked_workspace`` (tests/conftest.py), ``write_config`` (tests/tiny.py) and
``enso`` / ``enso_process`` (tests/cli.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from enso.workspace import Workspace

CELL_KEYS = ["dataset", "featurizer", "target", "sampler", "resampler", "train_size", "resample", "metric"]


def read_trec(shared: Path) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    def read(name):
        texts, labels = [], []
        for line in (shared / name).read_bytes().decode("latin-1").split("\n"):
            if line.strip():
                label, text = line.split(" ", 1)
                texts.append(text.strip())
                labels.append(label.split(":")[0])
        return texts, np.array(labels)

    return (*read("TREC.train"), *read("TREC.test"))


def tfidf_matrices(shared: Path):
    """TREC TF-IDF (fit on train) for target tests: X_train, y_train, X_test, y_test."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    train_texts, y_train, test_texts, y_test = read_trec(shared)
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2)
    return vectorizer.fit_transform(train_texts), y_train, vectorizer.transform(test_texts), y_test


def dense_matrices(shared: Path, dims: int = 64):
    """TREC TF-IDF reduced to ``dims`` dense, unit-length dimensions (an embedding stand-in)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    X_train, y_train, X_test, y_test = tfidf_matrices(shared)
    svd = TruncatedSVD(dims, random_state=0).fit(X_train)
    return (normalize(svd.transform(X_train)).astype(np.float32), y_train,
            normalize(svd.transform(X_test)).astype(np.float32), y_test)


def results(workspace: Workspace, name: str) -> pd.DataFrame:
    return pd.read_parquet(workspace.results_dir(name) / "results.parquet")


def cell_dirs(workspace: Workspace, name: str) -> list[Path]:
    """The finished cell folders of experiment ``name`` (those with a manifest)."""
    return sorted(p.parent for p in (workspace.results_dir(name) / "cells").glob("*/*/manifest.json"))


def cell_files(workspace: Workspace, name: str) -> list[dict]:
    """Every finished cell's cell.json (``meta``, ``sample``, ``timings``, ...)."""
    return [json.loads((p / "cell.json").read_text()) for p in cell_dirs(workspace, name)]


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """The result columns that must not depend on timing or on where a cell ran."""
    drop = ["seconds", "fit_seconds", "predict_seconds"]
    return frame.drop(columns=drop).sort_values(CELL_KEYS).reset_index(drop=True)
