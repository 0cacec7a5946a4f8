"""The mteb protocol's cells against MTEB's AbsTaskClassification, written out here, on real TREC.

MTEB (v2, ``_undersample_data``): ``idxs = list(range(len(train)))``; before every experiment a
fresh ``np.random.RandomState(seed)`` shuffles that same list in place (so it carries over),
then the first ``samples_per_label`` indices of each label are selected, in that order. The fit
of ``LogisticRegression(max_iter=100, random_state=seed)`` on them is checked to 1e-12 end to
end in tests/test_engine_sweep.py.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import pytest

from enso.components import parse_config
from enso.config import Spec
from enso.data import load_dataset
from enso.engine.plan import build_plan
from enso.workspace import Workspace


@pytest.fixture(scope="module")
def ws(real_root):
    return Workspace(real_root)


@pytest.fixture(scope="module")
def trec(ws):
    return load_dataset("TREC", ws)


def mteb_undersample(labels, samples_per_label, seed, n_experiments):
    """MTEB's loop over experiments, as its code reads."""
    idxs, selected = list(range(len(labels))), []
    for _ in range(n_experiments):
        rng_state = np.random.RandomState(seed)
        rng_state.shuffle(idxs)
        label_counter, sampled_idxs = defaultdict(int), []
        for i in idxs:
            if label_counter[labels[i]] < samples_per_label:
                sampled_idxs.append(i)
                label_counter[labels[i]] += 1
        selected.append(sampled_idxs)
    return selected


@pytest.mark.parametrize("options", [{}, {"samples_per_label": 4, "seed": 7, "n_experiments": 3}])
def test_mteb_cells_draw_mtebs_rows_in_mtebs_order(trec, ws, options):
    config = parse_config({"name": "m", "protocol": "mteb", "datasets": ["TREC"], "metrics": ["accuracy"],
                           "featurizers": ["tfidf", "minilm"], "protocol_options": options}, ws)
    plan = build_plan(config, {"TREC": trec})
    merged = {"samples_per_label": 8, "n_experiments": 10, "seed": 42, "max_iter": 100, **options}
    train, test = trec.split_index("train"), trec.split_index("test")
    expected = mteb_undersample(trec.labels[train].tolist(), merged["samples_per_label"], merged["seed"],
                                merged["n_experiments"])
    assert len(plan.cells) == 2 * merged["n_experiments"]
    for cell in plan.cells:
        np.testing.assert_array_equal(cell.draw.rows, train[expected[cell.resample]])  # order kept, not sorted
        np.testing.assert_array_equal(cell.test, test)
        assert cell.train_size == 6 * merged["samples_per_label"] and cell.sampler == "mteb"
        assert cell.resampler == "none" and cell.seed == merged["seed"]
        assert cell.target == Spec("sklearn.linear_model:LogisticRegression",
                                   {"max_iter": merged["max_iter"], "random_state": merged["seed"]})
        assert cell.fit_rows is None and cell.validation_rows is None
    # both featurizers are fitted on the very same draw (paired), and the draws differ between experiments
    by_resample = defaultdict(list)
    for cell in plan.cells:
        by_resample[cell.resample].append(cell.draw.rows)
    assert all(np.array_equal(a, b) for a, b in by_resample.values())
    assert len({tuple(rows[0]) for rows in by_resample.values()}) == merged["n_experiments"]


def test_mteb_says_that_the_configs_targets_are_not_used(trec, ws, caplog):
    config = parse_config({"name": "m", "protocol": "mteb", "datasets": ["TREC"], "targets": ["knn"]}, ws)
    with caplog.at_level(logging.WARNING, logger="enso"):
        plan = build_plan(config, {"TREC": trec})
    assert "the config's targets are not used" in caplog.text
    assert {cell.target.name for cell in plan.cells} == {"sklearn.linear_model:LogisticRegression"}
