"""A small real results table for the report tests.

Real scikit-learn models (L-BFGS and SGD logistic regression, k-NN) on real TF-IDF and LSA
features of the shared SST-2 and TREC files, at several training sizes with six resamples
each, written in the results schema of docs/architecture.md. Six resamples, because with
five no two-sided Wilcoxon test can reach p < 0.05.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from enso.seeds import derive_seed

SIZES = (20, 50, 150)
RESAMPLES = 6
TEST_ROWS = 400
POOL_ROWS = 2000
METRICS = ("accuracy", "macro_f1")


def _read_lines(path: Path, encoding: str) -> list[str]:
    return [line for line in path.read_bytes().decode(encoding).split("\n") if line.strip()]


def sst2(shared: Path):
    def parse(name):
        rows = [line.split(" ", 1) for line in _read_lines(shared / name, "utf-8")]
        return [t for _, t in rows], [label for label, _ in rows]
    return parse("stsa.binary.train"), parse("stsa.binary.test")


def trec(shared: Path):
    def parse(name):
        rows = [line.split(" ", 1) for line in _read_lines(shared / name, "latin-1")]
        return [t for _, t in rows], [label.split(":", 1)[0] for label, _ in rows]
    return parse("TREC.train"), parse("TREC.test")


def _cut(texts, labels, n, seed):
    rng = np.random.default_rng(seed)
    index = np.sort(rng.permutation(len(texts))[:n])
    return [texts[i] for i in index], np.asarray(labels)[index]


def featurizers(train_texts, test_texts, seed):
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 1), min_df=2, sublinear_tf=True)
    train = vectorizer.fit_transform(train_texts)
    test = vectorizer.transform(test_texts)
    svd = TruncatedSVD(64, random_state=seed)
    return {
        "tfidf": ("tfidf-" + "0" * 10, train, test),
        "lsa(dim=64)": ("lsa-" + "1" * 10, svd.fit_transform(train), svd.transform(test)),
    }


def targets(seed):
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neighbors import KNeighborsClassifier

    return {
        "logreg": lambda: LogisticRegression(max_iter=1000),
        "logreg-sgd": lambda: SGDClassifier(loss="log_loss", max_iter=50, tol=None, random_state=seed),
        "knn": lambda: KNeighborsClassifier(n_neighbors=3, metric="cosine"),
    }


def _draw(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` rows with every class at least once where possible."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    first = [rng.choice(np.flatnonzero(labels == c)) for c in classes][:size]
    rest = np.setdiff1d(np.arange(len(labels)), first)
    extra = rng.choice(rest, size - len(first), replace=False)
    return np.concatenate([first, extra])


@functools.lru_cache(maxsize=2)
def make_results(shared: Path, name: str = "report-test", seed: int = 0) -> pd.DataFrame:
    """The table (cached for the test session: treat it as read-only)."""
    from sklearn.metrics import accuracy_score, f1_score

    scorers = {"accuracy": accuracy_score, "macro_f1": lambda y, p: f1_score(y, p, average="macro")}
    rows = []
    for dataset, loader in (("SST2", sst2), ("TREC", trec)):
        (train_texts, train_labels), (test_texts, test_labels) = loader(shared)
        train_texts, train_labels = _cut(train_texts, train_labels, POOL_ROWS, derive_seed(seed, dataset, "pool"))
        test_texts, test_labels = _cut(test_texts, test_labels, TEST_ROWS, derive_seed(seed, dataset, "test"))
        n_classes = len(np.unique(train_labels))
        for featurizer, (featurizer_id, X_train, X_test) in featurizers(train_texts, test_texts, seed).items():
            for size in SIZES:
                for resample in range(RESAMPLES):
                    cell_seed = derive_seed(seed, dataset, "random", size, resample)
                    sample = _draw(train_labels, size, cell_seed)
                    for target, make in targets(cell_seed).items():
                        model = make()
                        start = time.perf_counter()
                        model.fit(X_train[sample], train_labels[sample])
                        fitted = time.perf_counter()
                        predicted = model.predict(X_test)
                        done = time.perf_counter()
                        train_predicted = model.predict(X_train[sample])
                        chosen = {}
                        if hasattr(model, "C"):
                            chosen = {"C": float(model.C), "converged": bool(model.n_iter_.max() < model.max_iter)}
                        elif hasattr(model, "n_neighbors"):
                            chosen = {"n_neighbors": model.n_neighbors}
                        for metric in METRICS:
                            rows.append({
                                "experiment": name, "protocol": "enso", "dataset": dataset,
                                "featurizer": featurizer, "featurizer_id": featurizer_id, "target": target,
                                "target_params": "{}", "chosen_params": json.dumps(chosen),
                                "sampler": "random", "resampler": "none", "train_size": size,
                                "resample": resample, "metric": metric,
                                "value": float(scorers[metric](test_labels, predicted)),
                                "train_value": float(scorers[metric](train_labels[sample], train_predicted)),
                                "seconds": done - start, "fit_seconds": fitted - start,
                                "predict_seconds": done - fitted, "n_train": size, "n_test": len(test_labels),
                                "n_classes": n_classes, "seed": cell_seed,
                            })
    return pd.DataFrame(rows)


def write_results(frame: pd.DataFrame, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "results.parquet", index=False)
    frame.to_csv(folder / "results.csv", index=False)
    return folder / "results.parquet"
