"""A cell's target input as a small serialisable description: features, or texts and a source model.

Fast tier, tiny in-memory datasets. The texts path is the interface the fine-tuning targets
plug into: a toy target with ``input = "texts"`` runs end to end through the engine, reading
the texts of its training sample and the model folder of the featurizer it names, and no
feature is computed for it.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from enso.components import load_config
from enso.engine import run_experiment
from enso.engine.inputs import DatasetRef, TargetInput, TextRows
from tests.tiny import write_config


def register(monkeypatch, registry, name, obj):
    monkeypatch.setitem(registry._items, name, obj)
    monkeypatch.setitem(registry._names, name.lower(), name)


@pytest.fixture
def echo(monkeypatch):
    """A registered ``input = "texts"`` target that records what it is given and predicts by word overlap."""
    from enso.params import Seed
    from enso.targets import TARGETS, Target
    from enso.targets.base import SourceFeaturizer, TargetTags

    class Echo(Target):
        name = "echo-texts"
        tags = TargetTags(input="texts", accepts_sparse=False, proba=False)
        _parameter_constraints: ClassVar = {"source": SourceFeaturizer(), "random_state": Seed()}
        fits: ClassVar[list] = []

        def __init__(self, source="minilm", random_state=None):
            self.source = source
            self.random_state = random_state

        def fit(self, X, y, *, validation=None, source=None):
            folder = Path(source.root)
            Echo.fits.append({"texts": list(X), "type": type(X), "model_folder": X.model_folder,
                              "source": source, "has_config": (folder / "config.json").is_file(), "y": list(y)})
            self.classes_ = np.unique(np.asarray(y))
            self.words_ = {c: {w for t, label in zip(X, y) if label == c for w in t.split()} for c in self.classes_}
            self.chosen_params_ = {"source": self.source}
            return self

        def predict(self, X):
            assert isinstance(X, TextRows) and all(isinstance(t, str) for t in X)
            return np.asarray([max(self.classes_, key=lambda c: len(set(t.split()) & self.words_[c])) for t in X])

        def scores(self, X):
            return None

    register(monkeypatch, TARGETS, "echo-texts", Echo)
    Echo.fits.clear()
    return Echo


SWEEP = """
datasets = ["Tiny", "Tiny3"]
featurizers = ["minilm"]
targets = [{ name = "echo-texts", source = "minilm" }]
resamplers = ["none", "oversample"]
train_sizes = [8, 16]
resamples = 2
metrics = ["accuracy", "macro_f1"]
"""


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_texts_target_runs_end_to_end_on_the_texts_and_the_model_folder(tiny_workspace, echo, monkeypatch):
    from enso.data import load_dataset
    from enso.engine import inputs
    from enso.features.transformer import minilm_folder

    # the worker reads the texts through the description (as a worker process would), not a primed copy
    monkeypatch.setattr(inputs, "prime_dataset", lambda dataset: None)
    inputs._datasets.clear()
    write_config(tiny_workspace, "texts", SWEEP)
    table = run_experiment(load_config("texts", tiny_workspace), tiny_workspace)
    assert len(table) == 2 * 2 * 2 * 2 * 2  # datasets x resamplers x sizes x resamples x metrics
    assert set(table.target) == {"echo-texts(source=minilm)"} and set(table.featurizer) == {"minilm"}
    assert table.featurizer_id.str.startswith("minilm-").all()
    assert len(echo.fits) == 16
    assert not (tiny_workspace.root / "featurizers").exists() or not list(
        (tiny_workspace.root / "featurizers").rglob("manifest.json")), "no feature is computed for a texts target"
    folder = str(minilm_folder().resolve())
    for fit in echo.fits:
        assert fit["type"] is TextRows and fit["model_folder"] == folder and fit["has_config"]
        assert fit["source"].root == folder and fit["source"].files, "the model's file hashes come along"
    # the texts are those of each cell's training sample, in its order (resampled copies included)
    for cell_dir in sorted((tiny_workspace.results_dir("texts") / "cells").glob("*/*/")):
        info = json.loads((cell_dir / "cell.json").read_text())
        with np.load(cell_dir / "predictions.npz", allow_pickle=False) as stored:
            rows = stored["train_rows"]
        dataset = load_dataset(info["meta"]["dataset"], tiny_workspace)
        texts = [dataset.texts[i] for i in rows]
        if info["meta"]["resampler"] == "none":
            assert any(fit["texts"] == texts for fit in echo.fits), "a fit saw exactly the cell's training texts"
        else:  # oversampled by the worker: the sample's texts, smaller classes repeated
            assert any(set(fit["texts"]) == set(texts) and len(fit["texts"]) >= len(texts) for fit in echo.fits)
    accuracy = table[(table.metric == "accuracy") & (table.train_size == 16)]
    assert accuracy.value.mean() > 0.8, "the toy target really predicts from the texts it was given"


def test_texts_and_frozen_targets_are_fitted_on_the_same_training_rows(tiny_workspace, echo):
    from enso.engine.plan import build_plan
    from enso.engine.runner import load_datasets

    write_config(tiny_workspace, "paired", SWEEP.replace('["minilm"]', '["tfidf", "minilm"]').replace(
        'targets = [', 'targets = ["logreg", '))
    config = load_config("paired", tiny_workspace)
    plan = build_plan(config, load_datasets(config, tiny_workspace))
    draws = {}
    for cell in plan.cells:
        draws.setdefault((cell.dataset, cell.train_size, cell.resample), set()).add(id(cell.draw))
    assert all(len(found) == 1 for found in draws.values()), "one sample per size and resample, for every target"
    assert {(c.featurizer.name, c.target.name) for c in plan.cells} == {
        ("tfidf", "logreg"), ("minilm", "logreg"), ("minilm", "echo-texts")}


def test_a_target_input_is_small_and_serialisable(tiny_workspace):
    from enso.data import load_dataset

    dataset = load_dataset("Tiny", tiny_workspace)
    ref = DatasetRef("Tiny", str(tiny_workspace.root), None, dataset.content_hash)
    for description in (TargetInput("features", "classification", ref, dataset.layout, features="/x/features.npy"),
                        TargetInput("texts", "classification", ref, dataset.layout, model_folder="/m",
                                    source_model={"featurizer": "minilm", "root": "/m", "transformer": "/m",
                                                  "files": {"a": "b"}})):
        data = pickle.dumps(description)
        assert len(data) < 2000, "rows, features and texts stay out of the description"
        assert pickle.loads(data).cache_key() == description.cache_key()


def test_the_feature_source_gives_the_task_types_rows(tiny_workspace, tmp_path):
    from enso.data import load_dataset
    from enso.engine.inputs import FeatureSource

    dataset = load_dataset("Tiny", tiny_workspace)
    X = np.arange(len(dataset) * 3, dtype=np.float32).reshape(len(dataset), 3)
    path = tmp_path / "features.npy"
    np.save(path, X)
    ref = DatasetRef("Tiny", str(tiny_workspace.root), None, dataset.content_hash)
    source = FeatureSource(TargetInput("features", "classification", ref, dataset.layout, features=str(path)))
    rows = np.array([5, 1, 7])
    np.testing.assert_array_equal(source.rows(rows), X[rows])
    assert source.rows(rows).flags["C_CONTIGUOUS"] and source.fit_kwargs() == {}
    first = source.rows(rows, cache_id="t")
    assert source.rows(np.array([0]), cache_id="t") is first, "the test rows are gathered once per worker"


def test_text_rows_index_like_the_features_do():
    rows = TextRows(["a b", "c", "d e f"], "/model")
    assert len(rows) == 3 and rows.shape == (3,) and rows[1] == "c" and list(rows) == ["a b", "c", "d e f"]
    picked = rows[np.array([2, 0, 2])]
    assert isinstance(picked, TextRows) and list(picked) == ["d e f", "a b", "d e f"] and picked.model_folder == "/model"
    assert list(rows[1:]) == ["c", "d e f"]


def test_a_dry_run_estimates_fine_tuning_cells_from_the_targets_declared_cost(tiny_workspace, echo, monkeypatch):
    """A fine-tuning cell costs orders of magnitude more than a logreg fit; its class says how much."""
    from enso.engine import describe_plan

    monkeypatch.setattr(echo, "cost", (30.0, 0.5), raising=False)  # seconds: 30 + 0.5 per training row
    write_config(tiny_workspace, "estimate", SWEEP)
    plan = run_experiment(load_config("estimate", tiny_workspace), tiny_workspace, dry_run=True, jobs=2)
    per_dataset = 2 * 2 * (30 + 0.5 * 8) + 2 * 2 * (30 + 0.5 * 16)  # resamplers x resamples, at sizes 8 and 16
    assert plan.estimate_seconds.tolist() == [per_dataset, per_dataset]
    assert plan.attrs["plan"]["estimate_seconds"] == 2 * per_dataset / 2  # over --jobs 2
    assert "4.8 min" in describe_plan(plan)
    assert echo.fits == [], "a dry run fits nothing"


def test_a_texts_cell_gets_the_cores_of_its_worker_and_a_features_cell_one_thread(tiny_workspace, echo, monkeypatch):
    """--jobs N: a fine-tuning cell may use cores // N threads (no oversubscription); a fit on features one."""
    import os

    from enso.engine.plan import build_plan, resolve_featurizer_ids
    from enso.engine.prepare import make_tasks
    from enso.engine.runner import load_datasets

    write_config(tiny_workspace, "threads", SWEEP.replace('["minilm"]', '["minilm", "tfidf"]').replace(
        'targets = [', 'targets = ["logreg", ').replace('["Tiny", "Tiny3"]', '["Tiny"]'))
    config = load_config("threads", tiny_workspace)
    plan = build_plan(config, load_datasets(config, tiny_workspace), featurizer_ids=resolve_featurizer_ids(config))
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    todo = [cell for cell in plan.cells if cell.featurizer.name == "tfidf" or cell.target.name == "echo-texts"]
    tasks = make_tasks(plan, todo, tiny_workspace, threads=1, jobs=2, device="cpu")
    kinds = {(task.input.kind, task.threads) for task in tasks}
    assert kinds == {("texts", 4), ("features", 1)}
    assert {task.meta["featurizer_id"] for task in tasks if task.input.kind == "texts"} == {
        plan.featurizer_ids[config.featurizers[0].id]}, "a texts cell is keyed by its source model's identity"


@pytest.mark.slow  # writes and maps 64 MB
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_a_large_feature_map_gives_its_pages_back_once_a_cell_has_its_rows(tmp_path):
    """The rows a cell takes are copies; the map's touched pages counted in the worker's RSS while the
    target fitted (0.46 GB of a full-CoNLL-2003 CRF cell's 2.2 GB): release drops them."""
    from enso.engine.inputs import RELEASE_BYTES, FeatureSource
    from enso.features.cache import open_feature_file

    def rss_kib() -> int:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS"))
        return int(line.split()[1])

    path = tmp_path / "features.npy"
    n = RELEASE_BYTES // (4 * 384) + 1000
    np.save(path, np.ones((n, 384), dtype=np.float32), allow_pickle=False)
    source = FeatureSource.__new__(FeatureSource)
    source.X = open_feature_file(path)
    rows = np.asarray(source.X[::97])  # a copy, as FeatureSource.rows gives
    assert float(source.X.sum(dtype=np.float64)) == n * 384  # every page touched
    before = rss_kib()
    source.release()
    after = rss_kib()
    assert before - after > 0.8 * RELEASE_BYTES / 1024, (before, after)
    assert float(source.X[-1].sum()) == 384 and rows.shape == (len(range(0, n, 97)), 384)  # still readable
