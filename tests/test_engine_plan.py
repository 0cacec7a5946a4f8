"""Planning without fitting: Plan.add_cell, cell keys and what goes into them (tiny in-memory datasets
under a registered name, so that configs accept them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from enso.config import Spec, load_config
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
    return load_config(path)


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
