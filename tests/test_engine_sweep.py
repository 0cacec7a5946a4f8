"""The sweep end to end on real SST2, TREC and CR data: rows, pairing, determinism, skips, protocols."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from enso.components import load_config
from enso.engine import load_results, run_experiment
from enso.engine.plan import COLUMNS
from enso.errors import ConfigError, EnsoError
from enso.store import Reuse
from tests.cli import enso, enso_process
from tests.conftest import linked_workspace
from tests.engine_helpers import CELL_KEYS, cell_dirs, cell_files, comparable
from tests.tiny import write_config

SWEEP = """
datasets = ["SST2", "TREC"]
featurizers = ["tfidf", { name = "tfidf", ngram_max = 1, min_df = 2 }]
targets = ["logreg", { name = "knn", metric = "euclidean" }]
train_sizes = [4, 30, 100, 5000]
resamples = 2
metrics = ["accuracy", "macro_f1", "roc_auc", "log_loss", "mcc"]
seed = 7
max_examples = 1200
"""


@pytest.fixture
def ws(real_workspace):
    return real_workspace


@pytest.fixture(scope="module")
def sweep(real_root, tmp_path_factory):
    workspace = linked_workspace(real_root, tmp_path_factory.mktemp("sweep") / "ws")
    config = load_config(write_config(workspace, "sweep", SWEEP), workspace)
    table = run_experiment(config, workspace)
    return workspace, config, table


def test_one_row_per_cell_and_metric_with_the_documented_columns(sweep):
    workspace, _, table = sweep
    assert list(table.columns) == COLUMNS
    assert not table.duplicated(CELL_KEYS).any()
    # SST2 (2 classes): sizes 4, 30, 100; TREC (6 classes): 30, 100; 5000 exceeds both capped train splits
    per_size_block = 2 * 2 * 2 * 5  # featurizers x targets x resamples x metrics
    assert len(table) == (3 + 2) * per_size_block
    assert set(table[table.dataset == "TREC"].train_size) == {30, 100}
    assert set(table[table.dataset == "SST2"].train_size) == {4, 30, 100}
    assert set(table.featurizer) == {"tfidf", "tfidf(min_df=2,ngram_max=1)"}
    assert set(table.target) == {"logreg", "knn(metric=euclidean)"}
    assert (table.n_train == table.train_size).all() and (table.n_test > 0).all()
    assert set(table.n_classes[table.dataset == "TREC"]) == {6}
    stored = load_results("sweep", workspace)
    pd.testing.assert_frame_equal(stored, table)
    assert len(pd.read_csv(workspace.results_dir("sweep") / "results.csv")) == len(table)


def test_values_are_sane_and_chosen_hyperparameters_recorded(sweep):
    _, _, table = sweep
    bounded = table[table.metric.isin(["accuracy", "macro_f1", "roc_auc"])]
    assert bounded.value.between(0, 1).all() and bounded.train_value.between(0, 1).all()
    assert table[table.metric == "mcc"].value.between(-1, 1).all()
    logreg = table[(table.target == "logreg") & (table.metric == "log_loss")]
    assert logreg.value.notna().all() and (logreg.value > 0).all()
    big = table[(table.dataset == "TREC") & (table.train_size == 100) & (table.metric == "accuracy")
                & (table.target == "logreg")]
    assert big.value.mean() > 0.5  # six question types from 100 examples: well above the 23% majority
    chosen = [json.loads(c) for c in table.chosen_params]
    assert all("search" in c for c in chosen)
    tiny = table[(table.dataset == "SST2") & (table.train_size == 4) & (table.target == "logreg")]
    assert all(json.loads(c)["search"].startswith("defaults") for c in tiny.chosen_params)
    assert (table.fit_seconds > 0).all() and (table.seconds >= table.fit_seconds).all()


def test_impossible_sizes_are_reported_and_skipped(sweep):
    workspace, _, _ = sweep
    info = json.loads((workspace.results_dir("sweep") / "run.json").read_text())
    skipped = {(s["dataset"], s["train_size"]): s["reason"] for s in info["skipped"]}
    assert set(skipped) == {("SST2", 5000), ("TREC", 5000), ("TREC", 4)}
    assert "smaller than the number of classes" in skipped[("TREC", 4)]
    assert "larger than the train split" in skipped[("SST2", 5000)]
    assert info["status"] == "complete" and info["cells"]["computed"] == info["cells"]["cells"] == 40
    assert info["versions"]["scikit-learn"] and info["hardware"]["cpus"] and info["started"] and info["finished"]


def test_run_info_names_the_features_and_the_test_texts_also_in_train(sweep):
    workspace, _, table = sweep
    info = json.loads((workspace.results_dir("sweep") / "run.json").read_text())
    ids = {label: entry["id"] for label, entry in info["featurizers"].items()}
    assert ids == dict(zip(table.featurizer, table.featurizer_id)) and len(set(ids.values())) == 2
    from enso.data import load_dataset
    from enso.features import load_features

    # run.json["featurizers"][label]: what featurizing cost, from the feature artifacts' manifests
    for label, entry in info["featurizers"].items():
        assert entry["device"] == "cpu" and entry["precision"] is None  # tf-idf has no numeric precision
        metas = [load_features(spec, load_dataset(name, workspace, max_examples=1200), workspace,
                               reuse=Reuse.ONLY_CACHED).artifact.meta
                 for spec in sweep[1].featurizers if spec.label == label for name in ("SST2", "TREC")]
        assert entry["seconds"] == pytest.approx(sum(m["seconds"] + m["fit_seconds"] for m in metas), abs=1e-3)
        assert entry["texts_per_second"] == pytest.approx(sum(m["rows"] for m in metas)
                                                          / sum(m["seconds"] for m in metas), rel=1e-3)
        assert {name: d["rows"] for name, d in entry["datasets"].items()} == {"SST2": 1200, "TREC": 1200}

    for name in ("SST2", "TREC"):
        dataset = load_dataset(name, workspace, max_examples=1200)
        texts = dataset.frame["text"]
        train = set(texts[dataset.frame["split"] == "train"])
        test = texts[dataset.frame["split"] == "test"]
        count = int(test.isin(train).sum())
        assert info["datasets"][name]["test_in_train"]["count"] == count
        assert info["datasets"][name]["test_in_train"]["share"] == pytest.approx(count / len(test), abs=1e-6)


def test_every_featurizer_and_target_sees_the_same_training_sample(sweep):
    workspace, _, table = sweep
    samples = {}
    for stored in cell_files(workspace, "sweep"):
        row = stored["meta"]
        samples.setdefault((row["dataset"], row["train_size"], row["resample"]), set()).add(stored["sample"])
    assert len(samples) == 5 * 2
    assert all(len(digests) == 1 for digests in samples.values())
    assert samples[("TREC", 100, 0)] != samples[("TREC", 100, 1)]
    assert table.groupby(["dataset", "train_size", "resample"]).seed.nunique().eq(1).all()


def test_same_config_gives_identical_values(sweep):
    workspace, config, table = sweep
    again = run_experiment(config, workspace, reuse=Reuse.RECOMPUTE)
    pd.testing.assert_frame_equal(comparable(again), comparable(table))


def test_rerun_recomputes_nothing_and_a_broken_cell_file_is_recomputed_alone(sweep):
    workspace, config, table = sweep
    cells = [d / "manifest.json" for d in cell_dirs(workspace, "sweep")]
    mtimes = {p: p.stat().st_mtime_ns for p in cells}
    run_experiment(config, workspace)
    assert {p: p.stat().st_mtime_ns for p in cells} == mtimes
    torn = cells[3].parent / "cell.json"
    torn.write_text(torn.read_text()[:40])  # a torn file, as a crash of another tool might leave
    again = run_experiment(config, workspace)
    info = json.loads((workspace.results_dir("sweep") / "run.json").read_text())
    assert info["cells"]["computed"] == 1 and info["cells"]["done_before"] == 39
    pd.testing.assert_frame_equal(comparable(again), comparable(table))


def test_dry_run_prints_the_plan_and_writes_nothing(sweep, ws):
    workspace, _, _ = sweep
    done = enso("experiment", "sweep", "--dry-run", root=workspace)
    assert done.code == 0, done.output
    assert "40 cells, 40 done, 0 to run" in done.stdout
    write_config(ws, "fresh", SWEEP)
    fresh = enso("experiment", "fresh", "--dry-run", root=ws)
    assert fresh.code == 0, fresh.output
    assert "40 cells, 0 done, 40 to run" in fresh.stdout and "estimated time" in fresh.stdout
    assert "TREC: random sample of size 4 skipped" in fresh.stdout
    assert not ws.results_dir("fresh").exists()


def test_a_bad_target_parameter_is_rejected_before_any_work(ws):
    write_config(ws, "bad", SWEEP.replace('"logreg"', '{ name = "logreg", C = -1 }'))
    done = enso("experiment", "bad", root=ws)
    assert done.code == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error:") and "C must be a positive number" in done.stderr
    assert not ws.results_dir("bad").exists()


def test_a_target_that_cannot_read_the_features_is_refused_clearly(ws):
    write_config(ws, "mismatch", 'datasets = ["TREC"]\ntargets = ["layer-mix"]\ntrain_sizes = [30]\nresamples = 1\n'
                                 'max_examples = 600\n')
    with pytest.raises(ConfigError, match="layer-mix needs 3-d features"):
        run_experiment(load_config("mismatch", ws), ws)
    assert not (ws.results_dir("mismatch") / "results.parquet").exists()


def test_unknown_protocol_option_is_refused(ws):
    write_config(ws, "opts", 'protocol = "mteb"\nprotocol_options = { samples_per_lable = 4 }\ndatasets = ["TREC"]\n')
    with pytest.raises(ConfigError, match="samples_per_lable.*valid: max_iter, n_experiments, samples_per_label"):
        run_experiment(load_config("opts", ws), ws)


def test_a_second_run_of_the_same_experiment_is_refused_while_one_runs(sweep):
    from enso.engine.lock import experiment_lock

    workspace, _, _ = sweep
    with experiment_lock(workspace.results_dir("sweep"), "sweep"):
        done = enso_process("experiment", "sweep", root=workspace)  # a second process, as a second run is
    assert done.code == 1
    assert "already running" in done.stderr and "pid" in done.stderr
    assert enso_process("experiment", "sweep", root=workspace).code == 0  # released with its holder


def test_diversity_samplers_resamplers_and_more_targets_in_one_sweep(ws):
    write_config(ws, "variety", """
datasets = ["TREC"]
featurizers = ["tfidf", { name = "tfidf", ngram_max = 1 }]
targets = ["nearest-centroid", "sklearn.linear_model:RidgeClassifier"]
samplers = ["kcenter", "balanced"]
resamplers = ["none", "oversample"]
train_sizes = [36]
resamples = 1
metrics = ["accuracy", "roc_auc", "log_loss"]
max_examples = 1000
""")
    table = run_experiment(load_config("variety", ws), ws)
    assert len(table) == 2 * 2 * 2 * 2 * 3 and not table.duplicated(CELL_KEYS).any()
    oversampled = table[table.resampler == "oversample"]
    assert (oversampled[oversampled.sampler == "kcenter"].n_train > 36).all()
    assert (oversampled[oversampled.sampler == "balanced"].n_train == 36).all()  # 6 per class already
    ridge = table[table.target.str.startswith("sklearn") & (table.metric == "log_loss")]
    assert ridge.value.isna().all(), "no probabilities, no log loss"
    samples = {}
    for stored in cell_files(ws, "variety"):
        row = stored["meta"]
        samples.setdefault((row["sampler"], row["featurizer"]), set()).add(stored["sample"])
    assert all(len(v) == 1 for v in samples.values())
    # k-center looks at the features, so each featurizer gets its own sample; balanced looks at labels only
    assert samples[("kcenter", "tfidf")] != samples[("kcenter", "tfidf(ngram_max=1)")]
    assert samples[("balanced", "tfidf")] == samples[("balanced", "tfidf(ngram_max=1)")]


def test_mteb_protocol_is_mtebs_loop_exactly(ws):
    from sklearn.linear_model import LogisticRegression

    from enso.data import load_dataset
    from enso.features import load_features

    write_config(ws, "mteb", 'protocol = "mteb"\ndatasets = ["TREC"]\nmetrics = ["accuracy"]\n'
                             'protocol_options = { samples_per_label = 4 }\n')
    table = run_experiment(load_config("mteb", ws), ws)
    assert list(table["resample"]) == list(range(10)) and (table.n_train == 24).all()

    # MTEB's AbsTaskClassification, written out: one list of train indices, reshuffled in place
    # by a fresh RandomState(42) before every draw, the first k of each label taken in that order.
    dataset = load_dataset("TREC", ws)
    X = load_features("tfidf", dataset, ws).X
    train, test = dataset.split_index("train"), dataset.split_index("test")
    y = dataset.labels
    idxs, expected = list(range(len(train))), []
    for _ in range(10):
        np.random.RandomState(42).shuffle(idxs)
        counter, picked = {}, []
        for i in idxs:
            if counter.get(y[train][i], 0) < 4:
                picked.append(i)
                counter[y[train][i]] = counter.get(y[train][i], 0) + 1
        rows = train[picked]
        model = LogisticRegression(max_iter=100, random_state=42).fit(X[rows], y[rows])
        expected.append(float(np.mean(model.predict(X[test]) == y[test])))
    np.testing.assert_allclose(table.value.to_numpy(), expected, rtol=0, atol=1e-12)
    assert len(set(expected)) > 1, "draws differ because the index list carries over"


def test_senteval_protocol_cross_validates_datasets_without_a_given_test_split(ws):
    write_config(ws, "senteval", 'protocol = "senteval"\ndatasets = ["CustomerReviews", "TREC"]\n'
                                 'metrics = ["accuracy"]\nprotocol_options = { folds = 3, inner_folds = 2 }\n'
                                 'max_examples = { CustomerReviews = 900, TREC = 900 }\n')
    table = run_experiment(load_config("senteval", ws), ws)
    cr, trec = table[table.dataset == "CustomerReviews"], table[table.dataset == "TREC"]
    assert list(cr.sampler) == ["senteval-cv"] * 3 and cr.n_test.sum() == 900
    assert ((cr.n_train + cr.n_test) == 900).all()
    assert list(trec.sampler) == ["senteval-split"] and trec.n_train.iloc[0] + trec.n_test.iloc[0] == 900
    # SentEval's grids: 2^-2 .. 2^3 with inner CV per outer fold; 2^-1 .. 2^5 for TREC's given split
    assert all(json.loads(c)["C"] in [2.0**t for t in range(-2, 4)] for c in cr.chosen_params)
    assert all(json.loads(c)["C"] in [2.0**t for t in range(-1, 6)] for c in trec.chosen_params)


def test_load_results_says_how_to_get_them(ws):
    with pytest.raises(EnsoError, match="run `python -m enso.experiment nothing` first"):
        load_results("nothing", ws)


@pytest.mark.parametrize("options, message", [
    ("{ folds = 1 }", "folds must be an integer >= 2"),
    ("{ Cs = [] }", "Cs must be a non-empty list of positive numbers"),
    ("{ cv_datasets = \"all\" }", "cv_datasets must be \"auto\" or a list"),
])
def test_bad_protocol_option_values_are_refused_before_any_work(ws, options, message):
    write_config(ws, "badopts", f'protocol = "senteval"\nprotocol_options = {options}\ndatasets = ["TREC"]\n')
    with pytest.raises(ConfigError, match=message):
        run_experiment(load_config("badopts", ws), ws)
    assert not ws.results_dir("badopts").exists()
