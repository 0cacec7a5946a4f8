"""Small real results tables for the report tests, and tiny ones for the fast tier.

Real scikit-learn models (L-BFGS and SGD logistic regression, k-NN) on real TF-IDF and LSA
features of the shared benchmark files (SST-2 and TREC by default; SUBJ, MPQA and CR for
the across-dataset tests), at several training sizes with six resamples each, written in
the results schema of docs/architecture.md. Six resamples, because with five no two-sided
Wilcoxon test can reach p < 0.05.

Besides the scores, every row carries what the engine derives from a cell's stored test
predictions: ``majority_share`` (share of the most frequent predicted class),
``baseline_value`` (the metric for always predicting the training sample's majority class)
and ``test_ci_low``/``test_ci_high`` (95% percentile bootstrap over test rows, 1,000
replicates), computed here from the real predictions so the report's flags, reference line
and intervals are exercised on real numbers.

``make_tiny_results`` is the same table made the same way from the tiny in-memory datasets of
tests/tiny.py (``Tiny``, ``Tiny3``) at sizes 8 and 16: no file needed, a second to make, for the
fast tier's layout and plumbing tests.
"""

from __future__ import annotations

import functools
import hashlib
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
BOOTSTRAP = 1000
DATASETS = ("SST2", "TREC")
ACROSS_DATASETS = ("SST2", "TREC", "SUBJ", "MPQA", "CR")


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


def _two_files(first: str, second: str, labels: tuple[str, str]):
    """A dataset of two files, one label each, split 80/20 at random (no given test split)."""
    def load(shared: Path):
        texts, y = [], []
        for name, label in zip((first, second), labels):
            lines = _read_lines(shared / name, "latin-1")
            texts += lines
            y += [label] * len(lines)
        order = np.random.default_rng(derive_seed(0, first, "split")).permutation(len(texts))
        cut = int(0.8 * len(texts))
        train, test = order[:cut], order[cut:]
        return ([texts[i] for i in train], [y[i] for i in train]), ([texts[i] for i in test], [y[i] for i in test])
    return load


def _tiny(classes):
    """A tiny in-memory dataset of tests/tiny.py (``shared`` is not read)."""
    def load(shared):
        from tests.tiny import tiny_rows

        rows = tiny_rows(classes, seed=len(classes))
        train = [(t, label) for t, label, split in rows if split == "train"]
        test = [(t, label) for t, label, split in rows if split == "test"]
        return ([t for t, _ in train], [label for _, label in train]), ([t for t, _ in test], [label for _, label in test])
    return load


LOADERS = {
    "SST2": sst2, "TREC": trec,
    "Tiny": _tiny(("neg", "pos")), "Tiny3": _tiny(("neg", "pos", "neu")),
    "SUBJ": _two_files("subj.subjective", "subj.objective", ("subjective", "objective")),
    "MPQA": _two_files("mpqa.pos", "mpqa.neg", ("positive", "negative")),
    "CR": _two_files("custrev.pos", "custrev.neg", ("positive", "negative")),
}


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
    dims = 64 if train.shape[1] > 64 else 16  # 64 on every real dataset; 16 on a tiny vocabulary
    svd = TruncatedSVD(dims, random_state=seed)
    return {
        "tfidf": ("tfidf-" + "0" * 10, train, test),
        f"lsa(dim={dims})": ("lsa-" + "1" * 10, svd.fit_transform(train), svd.transform(test)),
    }


def targets(seed, names=("logreg", "logreg-sgd", "knn")):
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neighbors import KNeighborsClassifier

    makers = {
        "logreg": lambda: LogisticRegression(max_iter=1000),
        "logreg-sgd": lambda: SGDClassifier(loss="log_loss", max_iter=50, tol=None, random_state=seed),
        "knn": lambda: KNeighborsClassifier(n_neighbors=3, metric="cosine"),
        # regularised so hard that it predicts (nearly) one class: a real degenerate model
        "logreg(C=0.001)": lambda: LogisticRegression(C=0.001, max_iter=1000),
    }
    return {name: makers[name] for name in names}


def _draw(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` rows with every class at least once where possible."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    first = [rng.choice(np.flatnonzero(labels == c)) for c in classes][:size]
    rest = np.setdiff1d(np.arange(len(labels)), first)
    extra = rng.choice(rest, size - len(first), replace=False)
    return np.concatenate([first, extra])


def _metric_values(y: np.ndarray, p: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Accuracy and macro F1 of each row of ``y``/``p`` (replicates x rows, codes < k), vectorised
    through confusion counts; macro F1 averages the classes present in that row's labels or
    predictions, as scikit-learn does."""
    y = np.atleast_2d(y)
    p = np.atleast_2d(p)
    reps = len(y)
    codes = (y * k + p) + (np.arange(reps)[:, None] * k * k)
    counts = np.bincount(codes.ravel(), minlength=reps * k * k).reshape(reps, k, k)
    tp = np.einsum("rii->ri", counts).astype(float)
    fp = counts.sum(axis=1) - tp
    fn = counts.sum(axis=2) - tp
    present = (tp + fp + fn) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2 * tp / (2 * tp + fp + fn), 0.0)
    return {"accuracy": tp.sum(axis=1) / y.shape[1], "macro_f1": f1.sum(axis=1) / present.sum(axis=1)}


def bootstrap_intervals(y: np.ndarray, p: np.ndarray, k: int, seed: int) -> dict[str, tuple[float, float]]:
    """95% percentile bootstrap interval of each metric over test rows."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(y), size=(BOOTSTRAP, len(y)))
    values = _metric_values(y[index], p[index], k)
    return {m: (float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))) for m, v in values.items()}


def majority_class(codes: np.ndarray) -> int:
    """The most frequent code (ties: the smallest, the first in sorted order), as the majority target."""
    return int(np.argmax(np.bincount(codes)))


@functools.lru_cache(maxsize=4)
def make_results(shared: Path, name: str = "report-test", seed: int = 0, datasets: tuple[str, ...] = DATASETS,
                 target_names: tuple[str, ...] = ("logreg", "logreg-sgd", "knn"),
                 sizes: tuple[int, ...] = SIZES) -> pd.DataFrame:
    """The table (cached for the test session: treat it as read-only)."""
    from sklearn.metrics import accuracy_score, f1_score

    scorers = {"accuracy": accuracy_score, "macro_f1": lambda y, p: f1_score(y, p, average="macro")}
    rows = []
    for dataset in datasets:
        (train_texts, train_labels), (test_texts, test_labels) = LOADERS[dataset](shared)
        train_texts, train_labels = _cut(train_texts, train_labels, POOL_ROWS, derive_seed(seed, dataset, "pool"))
        test_texts, test_labels = _cut(test_texts, test_labels, TEST_ROWS, derive_seed(seed, dataset, "test"))
        classes = np.unique(np.concatenate([train_labels, test_labels]))
        k = len(classes)
        y_test = np.searchsorted(classes, test_labels)
        n_classes = len(np.unique(train_labels))
        for featurizer, (featurizer_id, X_train, X_test) in featurizers(train_texts, test_texts, seed).items():
            for size in sizes:
                for resample in range(RESAMPLES):
                    cell_seed = derive_seed(seed, dataset, "random", size, resample)
                    sample = _draw(train_labels, size, cell_seed)
                    baseline = np.full(len(y_test), majority_class(np.searchsorted(classes, train_labels[sample])))
                    baseline_values = _metric_values(y_test, baseline, k)
                    for target, make in targets(cell_seed, target_names).items():
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
                        p_test = np.searchsorted(classes, predicted)
                        cell = hashlib.sha256(f"{dataset}|{featurizer}|{target}|{size}|{resample}".encode()).hexdigest()
                        intervals = bootstrap_intervals(y_test, p_test, k, derive_seed(seed, cell))
                        share = float(np.bincount(p_test, minlength=k).max() / len(p_test))
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
                                "n_classes": n_classes, "seed": cell_seed, "cell": cell,
                                "test_ci_low": intervals[metric][0], "test_ci_high": intervals[metric][1],
                                "majority_share": share, "baseline_value": float(baseline_values[metric][0]),
                            })
    return pd.DataFrame(rows)


def make_across_results(shared: Path, name: str = "across-test") -> pd.DataFrame:
    """Five real datasets, two featurizers, three targets (one of them degenerate), two sizes."""
    return make_results(shared, name, 0, ACROSS_DATASETS, ("logreg", "knn", "logreg(C=0.001)"), (20, 100))


TINY_DATASETS = ("Tiny", "Tiny3")
TINY_SIZES = (8, 16)


def make_tiny_results(name: str = "report-test") -> pd.DataFrame:
    """The table on the tiny in-memory datasets (cached for the session: treat it as read-only)."""
    return make_results(None, name, 0, TINY_DATASETS, ("logreg", "logreg-sgd", "knn"), TINY_SIZES)


NEW_COLUMNS = ("cell", "test_ci_low", "test_ci_high", "majority_share", "baseline_value")


def without_new_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as an enso from before these columns wrote it."""
    return frame.drop(columns=[c for c in NEW_COLUMNS if c in frame.columns])


@functools.lru_cache(maxsize=8)
def copies_in_train(shared: Path, dataset: str, seed: int = 0) -> dict:
    """How many of the helper's test texts for ``dataset`` also occur in its train pool."""
    (train_texts, train_labels), (test_texts, test_labels) = LOADERS[dataset](shared)
    train_texts, _ = _cut(train_texts, train_labels, POOL_ROWS, derive_seed(seed, dataset, "pool"))
    test_texts, _ = _cut(test_texts, test_labels, TEST_ROWS, derive_seed(seed, dataset, "test"))
    seen = set(train_texts)
    count = sum(text in seen for text in test_texts)
    return {"count": count, "share": count / len(test_texts)}


def write_run_json(folder: Path, shared: Path, datasets, **extra) -> Path:
    """run.json as the experiment stage writes it, with each dataset's ``test_in_train``."""
    folder.mkdir(parents=True, exist_ok=True)
    info = {"experiment": folder.name, **extra,
            "datasets": {d: {"rows": POOL_ROWS + TEST_ROWS, "test_in_train": copies_in_train(shared, d)}
                         for d in datasets}}
    path = folder / "run.json"
    path.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return path


MANIFEST = "results.manifest.json"


def write_results(frame: pd.DataFrame, folder: Path, *, manifest: bool = True) -> Path:
    """results.parquet and results.csv, with the manifest the experiment stage writes beside them
    (``manifest=False``: a table from before manifests)."""
    folder.mkdir(parents=True, exist_ok=True)
    writers = {"results.parquet": lambda path: frame.to_parquet(path, index=False),
               "results.csv": lambda path: frame.to_csv(path, index=False)}
    (folder / MANIFEST).unlink(missing_ok=True)
    from enso import store

    if manifest and hasattr(store, "write_fileset"):
        store.write_fileset(folder, MANIFEST, writers, key="report-test", kind="results")
        return folder / "results.parquet"
    for file, write in writers.items():
        write(folder / file)
    if manifest:  # the original code has no write_fileset: the same schema by hand, to check tests against it
        files = {f: {"sha256": hashlib.sha256((folder / f).read_bytes()).hexdigest(),
                     "size": (folder / f).stat().st_size} for f in writers}
        (folder / MANIFEST).write_text(json.dumps({"manifest_version": 1, "kind": "results", "key": "report-test",
                                                   "files": files, "meta": {}}), encoding="utf-8")
    return folder / "results.parquet"
