"""Task options on featurizer specs (fast tier): ``{ name = ..., pair_features = [...] }`` routes
``pair_features`` to the cells (their key and ``TargetInput.options``), never to the feature
artifact, so two settings share one per-text feature file; bad or misplaced options are one-line
config errors before any work. Uses the toy pair task of ``tests/test_tasks_cells.py``."""

from __future__ import annotations

import json

import pytest

from enso.components import load_config
from enso.engine import run_experiment
from enso.engine.options import FeaturizerSpec, featurizer_part, route_task_options
from enso.errors import ConfigError
from tests import test_tasks_cells
from tests.test_tasks_cells import DIM, Pairs
from tests.tiny import import_csv, tiny_csv, write_config

pairs_workspace = test_tasks_cells.pairs_workspace  # the toy pair task, featurizer and dataset

TWO_SETTINGS = """
datasets = ["toypairs"]
featurizers = ["toy-hashed-words", { name = "toy-hashed-words", pair_features = ["a", "b"] }]
targets = ["logreg"]
train_sizes = [8, 16]
resamples = 2
metrics = ["accuracy"]
seed = 0
"""


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_two_pair_feature_settings_are_two_featurizer_entries_on_one_feature_artifact(pairs_workspace):
    workspace = pairs_workspace
    config = load_config(write_config(workspace, "two", TWO_SETTINGS), workspace)
    plain, routed = config.featurizers
    assert isinstance(routed, FeaturizerSpec) and routed.params == {} and routed.options == {"pair_features": ["a", "b"]}
    assert routed.label == "toy-hashed-words(pair_features=a,b)" and plain.label == "toy-hashed-words"
    assert featurizer_part(routed) == plain and routed.id != plain.id
    assert routed.to_dict() == {"name": "toy-hashed-words", "pair_features": ["a", "b"]}
    assert route_task_options(config) is config  # idempotent

    table = run_experiment(config, workspace)
    assert len(table) == 2 * 2 * 2  # featurizers x sizes x resamples
    assert set(table.featurizer) == {"toy-hashed-words", "toy-hashed-words(pair_features=a,b)"}
    assert table.featurizer_id.nunique() == 1 and table.cell.nunique() == 8
    # each cell's input was built with its entry's options: a,b,|a-b|,a*b (default) or a,b
    assert {width for _, _, (_, width) in Pairs.calls} == {4 * DIM, 2 * DIM}
    stored = list(workspace.featurizers.glob("toy-hashed-words-*/*/manifest.json"))
    assert len(stored) == 1  # one per-text artifact serves both settings
    info = json.loads((workspace.results_dir("two") / "run.json").read_text(encoding="utf-8"))
    entries = info["featurizers"]
    assert entries["toy-hashed-words(pair_features=a,b)"]["id"] == entries["toy-hashed-words"]["id"]
    assert entries["toy-hashed-words(pair_features=a,b)"]["featurizer"] == "toy-hashed-words"
    assert entries["toy-hashed-words"]["datasets"]["ToyPairs"]["rows"] == json.loads(
        stored[0].read_text(encoding="utf-8"))["meta"]["rows"]
    assert info["config"]["featurizers"][1] == {"name": "toy-hashed-words", "pair_features": ["a", "b"]}
    # a rerun finds every cell stored
    Pairs.calls.clear()
    again = run_experiment(config, workspace)
    assert not Pairs.calls and again.equals(table)  # every cell reused


def test_task_options_are_refused_in_one_line_before_any_work(pairs_workspace):
    workspace = pairs_workspace
    body = TWO_SETTINGS.replace('["a", "b"]', '["a", "sum"]')
    with pytest.raises(ConfigError, match=r"featurizer 'toy-hashed-words': pair_features is an option of "
                                          r"pair-classification tasks: .*sum"):
        load_config(write_config(workspace, "bad", body), workspace)
    with pytest.raises(ConfigError, match="takes no parameter 'pair_featurs'|pair_featurs"):
        load_config(write_config(workspace, "typo", TWO_SETTINGS.replace("pair_features =", "pair_featurs =")),
                    workspace)
    import_csv(workspace, "Tiny", tiny_csv())
    mixed = TWO_SETTINGS.replace('datasets = ["toypairs"]', 'datasets = ["toypairs", "Tiny"]')
    config = load_config(write_config(workspace, "mixed", mixed), workspace)
    with pytest.raises(ConfigError, match=r"featurizer toy-hashed-words\(pair_features=a,b\) sets pair_features, an "
                                          r"option of pair-classification tasks, but dataset Tiny is a "
                                          r"classification task"):
        run_experiment(config, workspace, dry_run=True)
    with pytest.raises(ConfigError, match="dataset Tiny is a classification task"):
        run_experiment(config, workspace)
    assert not list(workspace.featurizers.glob("*/*/manifest.json")), "no feature was computed"
