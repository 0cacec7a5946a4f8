"""Planning without fitting: Plan.add_cell, cell keys and what goes into them (tiny in-memory datasets
under a registered name, so that configs accept them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from enso.components import load_config
from enso.config import Spec
from enso.workspace import Workspace
from enso.data.dataset import Dataset
from enso.engine.plan import Draw, Plan, build_plan


def tiny_dataset(name: str = "TREC", n: int = 40, classes: int = 2) -> Dataset:
    frame = pd.DataFrame({
        "text": [f"text number {i}" for i in range(n)],
        "label": [f"c{i % classes}" for i in range(n)],
        "split": ["train" if i < n * 3 // 4 else "test" for i in range(n)],
    })
    return Dataset.from_frame(name, frame)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text('name = "plan"\ndatasets = ["TREC"]\ntrain_sizes = [4, 8]\nresamples = 2\n')
    return load_config(path, Workspace(tmp_path))


def add(plan: Plan, dataset: Dataset, **changes):
    test = dataset.split_index("test")
    args = dict(dataset=dataset, featurizer=Spec("tfidf"), target=Spec("logreg"), sampler="random",
                resampler="none", train_size=4, resample=0, seed=1, draw=Draw(dataset.name, "random", 4, 0, 1),
                test_rows=test, options={})
    args.update(changes)
    return plan.add_cell(**args)


def test_add_cell_keys_what_the_numbers_depend_on(config):
    dataset = tiny_dataset()
    plan = Plan(config, datasets={"TREC": dataset})
    base = add(plan, dataset)
    assert base.n_classes == 2 and base.test.dtype == np.int64 and base.fit_rows is None
    same = add(plan, dataset)
    assert same.key == base.key, "the same cell asked for twice has one key"
    train = dataset.split_index("train")
    variants = [
        add(plan, dataset, train_size=8),
        add(plan, dataset, resample=1),
        add(plan, dataset, target=Spec("knn")),
        add(plan, dataset, resampler="oversample"),
        add(plan, dataset, options={"folds": 3}),
        add(plan, dataset, fit_rows=train[:20]),
        add(plan, dataset, fit_rows=train[:21]),
        add(plan, dataset, validation_rows=train[:5]),
    ]
    keys = [base.key] + [cell.key for cell in variants]
    assert len(set(keys)) == len(keys)
    assert len(plan.cells) == 2 + len(variants)
    np.testing.assert_array_equal(variants[5].fit_rows, train[:20])


def test_build_plan_adds_every_cell_through_add_cell(config, monkeypatch):
    dataset = tiny_dataset()
    calls = []
    original = Plan.add_cell

    def counting(self, **kwargs):
        calls.append(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(Plan, "add_cell", counting)
    plan = build_plan(config, {"TREC": dataset})
    assert len(plan.cells) == len(calls) == 2 * 2  # sizes x resamples
    assert len({cell.key for cell in plan.cells}) == 4


def dataset_with_copies() -> Dataset:
    """30 train texts; 12 test texts, of which 4 repeat a train text exactly and 1 differs only in case."""
    train = [f"train text {i}" for i in range(30)]
    test = [f"test text {i}" for i in range(7)] + [train[1], train[5], train[9], train[20], "TRAIN TEXT 2"]
    frame = pd.DataFrame({
        "text": train + test,
        "label": [f"c{i % 2}" for i in range(30)] + [f"c{i % 2}" for i in range(12)],
        "split": ["train"] * 30 + ["test"] * 12,
    })
    return Dataset.from_frame("TREC", frame)


def configured(tmp_path, body: str):
    path = tmp_path / "c.toml"
    path.write_text('name = "c"\ndatasets = ["TREC"]\n' + body)
    return load_config(path, Workspace(tmp_path))


def test_dedupe_drops_test_rows_whose_text_is_in_the_train_split(tmp_path):
    dataset = dataset_with_copies()
    test = dataset.split_index("test")
    kept = build_plan(configured(tmp_path, "train_sizes = [4]\nresamples = 2\ndedupe = true\n"), {"TREC": dataset})
    plain = build_plan(configured(tmp_path, "train_sizes = [4]\nresamples = 2\n"), {"TREC": dataset})
    assert all(len(cell.test) == len(test) for cell in plain.cells)
    texts = dataset.frame["text"].to_numpy()
    for cell in kept.cells:
        assert len(cell.test) == len(test) - 4, "exact copies go; a text that differs in case stays"
        assert not set(texts[cell.test]) & set(texts[dataset.split_index("train")])
        assert cell.test is kept.cells[0].test, "one deduplicated array shared by the cells"
    assert {c.key for c in kept.cells}.isdisjoint(c.key for c in plain.cells), "dedupe is part of the key"


def test_dedupe_under_cross_validation_uses_each_folds_training_part(tmp_path):
    """SentEval-style CV over the whole dataset: a test row goes only if its text is in that fold's training part."""
    dataset = dataset_with_copies()
    config = configured(tmp_path, 'protocol = "senteval"\ndedupe = true\nmetrics = ["accuracy"]\n'
                                  'protocol_options = { folds = 3, inner_folds = 2, cv_datasets = ["TREC"] }\n')
    plan = build_plan(config, {"TREC": dataset})
    texts = dataset.frame["text"].to_numpy()
    assert len(plan.cells) == 3
    dropped = 0
    for cell in plan.cells:
        pool = set(texts[cell.draw.rows])
        assert not set(texts[cell.test]) & pool
        fold_test = np.setdiff1d(np.arange(len(dataset)), cell.draw.rows)
        dropped += len(fold_test) - len(cell.test)
        assert len(cell.test) == sum(text not in pool for text in texts[fold_test])
    assert 0 < dropped <= 8, "a copy is dropped only where its twin is in the training part"


def test_the_engine_gives_targets_the_selection_metric_and_the_resampler(tmp_path):
    dataset = tiny_dataset()
    body = ('targets = ["logreg", "sklearn.linear_model:LogisticRegression"]\nresamplers = ["none", "oversample"]\n'
            'train_sizes = [8]\nresamples = 1\nmetrics = ["accuracy", "macro_f1"]\n')
    plan = build_plan(configured(tmp_path, body + 'selection_metric = "macro_f1"\n'), {"TREC": dataset})
    by = {(cell.target.name, cell.resampler): cell for cell in plan.cells}
    assert by[("logreg", "oversample")].target_params == {"scoring": "macro_f1", "resampler": "oversample"}
    assert by[("logreg", "none")].target_params == {"scoring": "macro_f1", "resampler": "none"}
    external = by[("sklearn.linear_model:LogisticRegression", "oversample")].target_params
    assert "scoring" not in external, "a scikit-learn class's own scoring means scikit-learn scorers"
    first_metric = build_plan(configured(tmp_path, body), {"TREC": dataset})
    assert {c.target_params.get("scoring") for c in first_metric.cells if c.target.name == "logreg"} == {"accuracy"}
    changed = {c.key for c in plan.cells} ^ {c.key for c in first_metric.cells}
    assert len(changed) == 2 * 2, "the selection metric is in the keys of the targets it is given to, only"
    fixed = build_plan(configured(tmp_path, body.replace('"logreg"', '{ name = "logreg", scoring = "log_loss" }')
                                  + 'selection_metric = "macro_f1"\n'), {"TREC": dataset})
    assert {c.target_params.get("scoring") for c in fixed.cells if c.target.name == "logreg"} == {"log_loss"}


def test_metrics_are_not_part_of_the_cell_key(tmp_path):
    dataset = tiny_dataset()
    one = build_plan(configured(tmp_path, 'train_sizes = [8]\nmetrics = ["accuracy"]\n'), {"TREC": dataset})
    more = build_plan(configured(tmp_path, 'train_sizes = [8]\nmetrics = ["accuracy", "mcc", "roc_auc"]\n'
                                           'selection_metric = "accuracy"\n'), {"TREC": dataset})
    assert [c.key for c in one.cells] == [c.key for c in more.cells]


def test_featurizer_ids_key_the_cells(config):
    dataset = tiny_dataset()
    spec = config.featurizers[0]
    a = build_plan(config, {"TREC": dataset}, featurizer_ids={spec.id: "tfidf-aaaa"})
    b = build_plan(config, {"TREC": dataset}, featurizer_ids={spec.id: "tfidf-bbbb"})
    assert {c.featurizer_id for c in a.cells} == {"tfidf-aaaa"}
    assert {c.key for c in a.cells}.isdisjoint(c.key for c in b.cells)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_dry_run_holds_no_cell_in_memory(tmp_path):
    """Cells stream through the dry-run counter: memory does not grow with the number of resamples."""
    import gc
    import tracemalloc

    from enso.engine.cellstore import CellStore
    from enso.engine.estimate import DryRun

    dataset = tiny_dataset(n=400)
    held = {}
    for resamples in (50, 1000):
        config = configured(tmp_path, f"train_sizes = [8, 16, 32]\nresamples = {resamples}\n"
                                      'targets = ["logreg", "knn"]\n')
        counter = DryRun(CellStore(tmp_path / "results"))
        tracemalloc.start()
        plan = build_plan(config, {"TREC": dataset}, sink=counter)
        gc.collect()  # also empties CPython's free lists, which tracemalloc would count
        held[resamples] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert plan.cells == [] and plan.count == 3 * resamples * 2
        table = counter.table(plan, jobs=1)
        assert table.to_run.sum() == plan.count and len(table) == 2
    assert held[1000] < 50_000, f"{held[1000]} bytes still held after planning 6,000 cells"


def test_configurations_that_differ_by_featurizer_share_the_target_seed(config):
    """Inner folds and resampled copies come from the target seed: featurizers compared with one
    target must get the same ones, so their paired comparison differs only by the features."""
    dataset = tiny_dataset()
    plan = Plan(config, datasets={"TREC": dataset})
    tfidf = add(plan, dataset)
    glove = add(plan, dataset, featurizer=Spec("glove-6b-50d"))
    assert tfidf.key != glove.key
    assert tfidf.target_seed == glove.target_seed
    assert add(plan, dataset, target=Spec("knn")).target_seed != tfidf.target_seed
    assert add(plan, dataset, resample=1).target_seed != tfidf.target_seed
    assert add(plan, dataset, resampler="oversample").target_seed != tfidf.target_seed


def test_a_feature_targets_version_keys_its_cells_and_version_1_keeps_the_older_keys(config, monkeypatch):
    """logreg's inner CV changed (version 2: cold fits, as GridSearchCV): its cells of the warm-started search
    must not be reused; a target at version 1 (knn) keeps the key it always had."""
    from enso.targets import TARGETS

    dataset = tiny_dataset()
    plan = Plan(config, datasets={"TREC": dataset})
    logreg, knn = add(plan, dataset).key, add(plan, dataset, target=Spec("knn")).key
    monkeypatch.setattr(TARGETS.get("logreg"), "version", 1)
    monkeypatch.setattr(TARGETS.get("knn"), "version", 1, raising=False)
    older = Plan(config, datasets={"TREC": dataset})
    assert add(older, dataset).key != logreg
    assert add(older, dataset, target=Spec("knn")).key == knn
