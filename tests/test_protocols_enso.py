"""The enso protocol (learning curves) on real TREC: which cells, which seeds, which rows."""

from __future__ import annotations

import numpy as np
import pytest

from enso.components import parse_config
from enso.data import load_dataset
from enso.engine.plan import build_plan
from enso.errors import ConfigError
from enso.seeds import derive_seed
from enso.workspace import Workspace


@pytest.fixture(scope="module")
def ws(real_root):
    return Workspace(real_root)


@pytest.fixture(scope="module")
def trec(ws):
    return load_dataset("TREC", ws, max_examples=1200)


def test_every_sampler_size_resample_featurizer_target_and_resampler_is_one_cell(trec, ws):
    config = parse_config({
        "name": "curves", "datasets": ["TREC"], "featurizers": ["tfidf", "minilm"], "targets": ["logreg", "knn"],
        "samplers": ["random", "kcenter"], "resamplers": ["none", "oversample"], "train_sizes": [5, 30, 5000],
        "resamples": 3, "seed": 4, "metrics": ["accuracy"],
    }, ws)
    plan = build_plan(config, {"TREC": trec})
    train, test = trec.split_index("train"), trec.split_index("test")
    # size 5 is below the 6 classes and 5000 above the ~1000-row pool: skipped with the reason, per sampler
    assert sorted((s.sampler, s.train_size) for s in plan.skipped) == [
        ("kcenter", 5), ("kcenter", 5000), ("random", 5), ("random", 5000)]
    assert all("smaller than the number of classes" in s.reason or "larger than the train split" in s.reason
               for s in plan.skipped)
    assert len(plan.cells) == 2 * 1 * 3 * 2 * 2 * 2
    assert len({cell.key for cell in plan.cells}) == len(plan.cells)
    for cell in plan.cells:
        assert cell.train_size == 30 and cell.seed == derive_seed(4, "TREC", cell.sampler, 30, cell.resample)
        assert cell.draw.seed == cell.seed and cell.draw.size == 30
        np.testing.assert_array_equal(cell.test, test)
        assert cell.fit_rows is None and cell.validation_rows is None  # in-domain features learn from the train split
    # label-only samplers share one draw across featurizers (paired); kcenter looks at each featurizer's features
    random_draws = {id(c.draw) for c in plan.cells if c.sampler == "random" and c.resample == 0}
    kcenter_draws = {(id(c.draw), c.draw.featurizer.name) for c in plan.cells
                     if c.sampler == "kcenter" and c.resample == 0}
    assert len(random_draws) == 1 and len(kcenter_draws) == 2
    assert all(c.draw.rows is None for c in plan.cells)  # drawn later, from the train split only
    from enso.engine.plan import draw_rows

    rows = draw_rows(next(c.draw for c in plan.cells if c.sampler == "random"), trec)
    assert len(rows) == 30 and np.isin(rows, train).all()


def test_a_dataset_without_a_test_split_is_skipped_with_the_reason(trec, ws):
    from enso.data import Dataset

    frame = trec.frame.copy()
    frame["split"] = "train"
    config = parse_config({"name": "c", "datasets": ["Only"], "train_sizes": [30], "resamples": 1}, ws,
                          validate_names=False)
    plan = build_plan(config, {"Only": Dataset.from_frame("Only", frame)})
    assert plan.cells == [] and [s.reason for s in plan.skipped] == ["the dataset has no test split"]


def test_the_enso_protocol_takes_no_options():
    from enso.protocols import PROTOCOLS

    assert PROTOCOLS.get("enso").check_options({}) == {}
    with pytest.raises(ConfigError, match="'folds' is not an option of protocol 'enso' \\(valid: none\\)"):
        PROTOCOLS.get("enso").check_options({"folds": 3})
