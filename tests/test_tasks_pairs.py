"""The pair-classification task type (issue 13) on SICK's real files: pair features equal a hand
computation, in-domain featurizers fit on both texts of the training pairs only, one per-text feature
artifact serves two ``pair_features`` settings, learning curves count pairs, the senteval presets, and
bad ``pair_features`` are one-line config errors before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from enso.components import load_config, parse_config
from enso.config import Spec
from enso.data import Dataset, load_dataset
from enso.engine import run_experiment
from enso.engine.plan import build_plan
from enso.errors import ConfigError
from enso.tasks import TASKS
from enso.tasks.pairs import PairClassification, combine
from enso.workspace import Workspace
from tests.cli import enso
from tests.tiny import write_config

TASK = TASKS.get("pair-classification")


def hand(a: np.ndarray, b: np.ndarray, parts) -> np.ndarray:
    """The pair representation written out part by part, one row at a time."""
    rows = []
    for x, y in zip(a, b):
        pieces = {"a": x, "b": y, "absdiff": np.abs(x - y), "product": x * y}
        rows.append(np.concatenate([pieces[p] for p in parts], axis=-1))
    return np.stack(rows)


# ---- fast: the combination itself -----------------------------------------------------------------


def test_the_task_type_is_registered_with_its_options_and_metrics():
    assert isinstance(TASK, PairClassification) and TASK.row_noun == "pair"
    assert TASK.option_defaults == {"pair_features": ["a", "b", "absdiff", "product"]}
    for metric in ("accuracy", "macro_f1", "f1", "mcc", "roc_auc", "log_loss"):
        assert TASK.applies(metric)
    assert TASK.resolve_options({"pair_features": ["product", "a"]})["pair_features"] == ["product", "a"]


def test_dense_sparse_and_per_layer_features_combine_as_written_out():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(7, 5)).astype(np.float32)
    index = np.array([[0, 1], [2, 2], [6, 3], [1, 0]])
    from enso.tasks.base import Layout

    layout = Layout("text", 4, index)
    rows = np.array([3, 0, 2])
    for parts in (["a", "b", "absdiff", "product"], ["absdiff", "product"], ["b"], ["product", "a"]):
        got = TASK.target_input(features, layout, rows, {"pair_features": parts})
        expected = hand(features[index[rows, 0]], features[index[rows, 1]], parts)
        assert got.dtype == np.float32 and got.shape == (3, 5 * len(parts))
        np.testing.assert_array_equal(got, expected)
        sparse = TASK.target_input(sp.csr_matrix(features), layout, rows, {"pair_features": parts})
        assert sp.isspmatrix_csr(sparse) and sparse.dtype == np.float32
        np.testing.assert_allclose(sparse.toarray(), expected, rtol=1e-6)
    # layers = "all": (n, layers, d) features combine within each layer
    layered = rng.normal(size=(7, 3, 4)).astype(np.float32)
    got = TASK.target_input(layered, layout, rows)
    assert got.shape == (3, 3, 16)
    for layer in range(3):
        a, b = layered[index[rows, 0], layer], layered[index[rows, 1], layer]
        np.testing.assert_array_equal(got[:, layer], hand(a, b, ["a", "b", "absdiff", "product"]))
    # the default when no option is given; an identical pair gives |a - b| = 0
    same = combine(features[:1], features[:1], ["absdiff"])
    assert not same.any()


@pytest.mark.parametrize("value, message", [
    (["a", "sum"], "sum"),
    (["a", "a"], "lists a part twice"),
    ([], "non-empty list"),
    ("a", "non-empty list"),
])
def test_a_bad_pair_features_is_one_config_error_line_before_any_work(tmp_path, value, message):
    workspace = Workspace(tmp_path / "ws")
    body = f"""
        datasets = ["SICK"]
        featurizers = [{{ name = "tfidf", pair_features = {json.dumps(value)} }}]
        targets = ["logreg"]
        train_sizes = [50]
        resamples = 1
        """
    write_config(workspace, "bad", body)
    with pytest.raises(ConfigError, match=message):
        load_config("bad", workspace)
    ran = enso("run", "bad", root=workspace.root)
    assert ran.code == 2, ran.output
    assert len(ran.errors) == 1 and ran.errors[0].startswith("error: ")
    assert "bad.toml: featurizer 'tfidf': pair_features is an option of pair-classification tasks" in ran.errors[0]
    assert message in ran.errors[0] and ran.stdout == ""
    assert not (workspace.root / "datasets" / "SICK").exists() and not (workspace.root / "featurizers").exists()


# ---- real: SICK ---------------------------------------------------------------------------------------


@pytest.fixture
def spies(monkeypatch):
    """Every tfidf fit (the texts it saw), every featurize call, every pair input built (its shape)."""
    from enso.features.tfidf import TfidfFeaturizer

    seen = {"fit": [], "featurize": [], "inputs": []}
    fit, featurize, target_input = TfidfFeaturizer.fit, TfidfFeaturizer.featurize, PairClassification.target_input

    def spy_fit(self, texts):
        seen["fit"].append(list(texts))
        return fit(self, texts)

    def spy_featurize(self, texts):
        seen["featurize"].append(len(texts))
        return featurize(self, texts)

    def spy_input(self, features, frame, rows, options=None):
        X = target_input(self, features, frame, rows, options)
        seen["inputs"].append((len(rows), features.shape, X.shape))
        return X

    monkeypatch.setattr(TfidfFeaturizer, "fit", spy_fit)
    monkeypatch.setattr(TfidfFeaturizer, "featurize", spy_featurize)
    monkeypatch.setattr(PairClassification, "target_input", spy_input)
    return seen


def test_pair_features_of_real_tfidf_features_equal_a_hand_computation(sick_workspace):
    from enso.features import load_features
    from enso.features.tfidf import TfidfFeaturizer

    sick = load_dataset("SICK", sick_workspace)
    features = load_features(Spec("tfidf"), sick, sick_workspace, progress=False)
    train = sick.split_index("train")
    rows = np.concatenate([sick.split_index("test")[:40], train[:20]])
    # by hand: tf-idf fitted on both texts of the training pairs, each side's sentences featurized on their own
    fitted = TfidfFeaturizer().fit(sick.units.for_rows(train))
    a = fitted.featurize(sick.frame["text_a"].iloc[rows].tolist()).toarray()
    b = fitted.featurize(sick.frame["text_b"].iloc[rows].tolist()).toarray()
    for parts in (["a", "b", "absdiff", "product"], ["a", "b", "product"]):
        got = TASK.target_input(features.X, sick.layout, rows, {"pair_features": parts})
        assert sp.issparse(got) and got.shape == (len(rows), len(parts) * a.shape[1])
        np.testing.assert_allclose(got.toarray(), hand(a, b, parts), rtol=1e-5, atol=1e-7)
    assert (np.abs(a - b).sum(axis=1) > 0).all()  # the test has some content: |a - b| is not all zero


@pytest.mark.slow
def test_pair_features_of_real_minilm_features_equal_a_hand_computation(sick_workspace):
    from enso.features import load_features, make_featurizer

    sick = load_dataset("SICK", sick_workspace, max_examples=120)
    features = load_features(Spec("minilm"), sick, sick_workspace, progress=False)
    rows = np.arange(len(sick))[::3]
    encoder = make_featurizer("minilm", {})
    a = encoder.featurize(sick.frame["text_a"].iloc[rows].tolist())
    b = encoder.featurize(sick.frame["text_b"].iloc[rows].tolist())
    got = TASK.target_input(np.asarray(features.X), sick.layout, rows)
    assert got.shape == (len(rows), 4 * 384)
    np.testing.assert_allclose(got, hand(a, b, ["a", "b", "absdiff", "product"]), atol=2e-5)


CURVE = """
datasets = ["SICK"]
featurizers = ["tfidf", { name = "tfidf", pair_features = ["a", "b"] }]
targets = [{ name = "logreg", C = 1.0 }]
train_sizes = [30, 90]
resamples = 2
metrics = ["accuracy", "macro_f1", "mcc"]
seed = 0
"""


def test_a_learning_curve_over_pairs_shares_one_feature_artifact_between_two_pair_feature_settings(
        sick_workspace, spies):
    workspace = sick_workspace
    config = load_config(write_config(workspace, "curve", CURVE), workspace)
    table = run_experiment(config, workspace)
    sick = load_dataset("SICK", workspace)
    units = sick.units
    # one fit (on both texts of every training pair) and one featurization of the distinct texts serve both settings
    assert spies["fit"] == [units.for_rows(sick.split_index("train"))]
    assert sum(spies["featurize"]) == len(units)
    stored = list(workspace.featurizers.glob("tfidf-*/*/manifest.json"))
    assert len(stored) == 1
    vocabulary = json.loads(stored[0].read_text(encoding="utf-8"))["meta"]["shape"][1]
    # every cell built its own input from it: 4 parts for the default, 2 for ["a", "b"]
    widths = {X[1] for _, _, X in spies["inputs"]}
    assert widths == {4 * vocabulary, 2 * vocabulary}
    assert {shape for _, shape, _ in spies["inputs"]} == {(len(units), vocabulary)}
    # training sizes count pairs; the test split's 4,927 pairs score every cell
    assert set(table["featurizer"]) == {"tfidf", "tfidf(pair_features=a,b)"}
    assert table.featurizer_id.nunique() == 1 and table.cell.nunique() == 2 * 2 * 2
    assert (table["n_train"] == table["train_size"]).all() and set(table["train_size"]) == {30, 90}
    assert (table["n_test"] == 4927).all() and table["value"].between(-1, 1).all()


def test_in_domain_featurizers_never_see_a_text_only_dev_or_test_pairs_hold(sick_workspace, spies):
    workspace = sick_workspace
    sick = load_dataset("SICK", workspace)
    frame = sick.frame
    train = frame[frame["split"] == "train"]
    train_texts = set(train["text_a"]) | set(train["text_b"])
    elsewhere = (set(frame.loc[frame["split"] != "train", "text_a"]) | set(frame.loc[frame["split"] != "train",
                                                                                         "text_b"])) - train_texts
    assert len(elsewhere) > 1000  # SICK's dev and test pairs hold many sentences no training pair has
    write_config(workspace, "senteval-pairs", """
        protocol = "senteval"
        datasets = ["SICK"]
        featurizers = ["tfidf"]
        targets = ["logreg"]
        metrics = ["accuracy"]
        protocol_options = { inner_folds = 2, Cs = [1.0, 4.0] }
        seed = 0
        """)
    for name in ("senteval-pairs",):
        run_experiment(load_config(name, workspace), workspace)
    write_config(workspace, "curve", CURVE.replace('"tfidf", { name = "tfidf", pair_features = ["a", "b"] }',
                                                   '"tfidf"'))
    run_experiment(load_config("curve", workspace), workspace)
    assert spies["fit"], "tfidf was fitted"
    for fitted in spies["fit"]:
        assert set(fitted) == train_texts and not set(fitted) & elsewhere
        assert len(fitted) == len(set(fitted))  # each text once


def test_senteval_sick_chooses_c_on_trial_fits_on_train_and_scores_test(pair_root, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="enso.protocols.senteval")
    workspace = Workspace(pair_root)
    config = parse_config({"name": "se", "protocol": "senteval", "datasets": ["SICK"], "metrics": ["accuracy"],
                           "featurizers": ["tfidf", {"name": "minilm", "pair_features": ["absdiff", "product"]}]},
                          workspace)
    sick = load_dataset("SICK", workspace)
    plan = build_plan(config, {"SICK": sick})
    assert len(plan.cells) == 2
    train, dev, test = (sick.split_index(s) for s in ("train", "dev", "test"))
    for cell in plan.cells:
        assert cell.sampler == "senteval-dev" and cell.train_size == 4500
        np.testing.assert_array_equal(cell.draw.rows, train)
        np.testing.assert_array_equal(cell.validation_rows, dev)
        np.testing.assert_array_equal(cell.test, test)
        assert cell.target.params["Cs"] == [2.0 ** t for t in range(-2, 4)]
    assert [c.task_options for c in plan.cells] == [{}, {"pair_features": ["absdiff", "product"]}]
    # the entry without pair_features runs enso's default, and the log says what SentEval's is
    notes = [r.getMessage() for r in caplog.records if "combine pairs" in r.getMessage()]
    assert notes == ["protocol senteval on SICK: tfidf combine pairs as ['a', 'b', 'absdiff', 'product'] (enso's "
                     "default); SentEval's is pair_features = ['absdiff', 'product']"]


def test_senteval_mrpc_like_pairs_choose_c_by_inner_cv_on_train_and_score_test(pair_root):
    """MRPC's splits (train and test, no dev): SentEval's KFoldClassifier, shown on SICK without its trial set."""
    workspace = Workspace(pair_root)
    sick = load_dataset("SICK", workspace)
    frame = sick.frame[sick.frame["split"] != "dev"].reset_index(drop=True)
    given = Dataset.from_frame("PairsNoDev", frame, {"split": "given by the source"}, task="pair-classification")
    config = parse_config({"name": "se", "protocol": "senteval", "datasets": ["PairsNoDev"],
                           "metrics": ["accuracy"], "featurizers": ["tfidf"]}, workspace, validate_names=False)
    (cell,) = build_plan(config, {"PairsNoDev": given}).cells
    assert cell.sampler == "senteval-split" and cell.validation_rows is None
    np.testing.assert_array_equal(cell.draw.rows, given.split_index("train"))
    np.testing.assert_array_equal(cell.test, given.split_index("test"))
    assert cell.target.params["Cs"] == [2.0 ** t for t in range(-1, 6)] and cell.target.params["cv"] == 10


def test_a_binary_pair_dataset_reports_f1_of_its_positive_class(sick_workspace):
    """MRPC's metrics (accuracy and f1, positive class "1") on a binary pair dataset of SICK's real pairs:
    ENTAILMENT ("1") against the rest ("0"), stored like an imported dataset."""
    from sklearn.metrics import f1_score

    from enso.data.build import make_card, write_dataset
    from enso.data.local import KIND

    workspace = sick_workspace
    frame = load_dataset("SICK", workspace).frame.copy()
    frame = frame[frame["split"] != "dev"].reset_index(drop=True)
    frame["label"] = np.where(frame["label"] == "ENTAILMENT", "1", "0")
    dataset = Dataset.from_frame("SickBinary", frame, task="pair-classification")
    summary = {"name": "SickBinary", "aliases": [], "task": "pair-classification", "description": "", "classes": [],
               "license": "the user's own data", "citation": "", "homepage": "", "sources": [], "local": True}
    write_dataset(workspace.dataset_dir("SickBinary"), key="sick-binary-1", kind=KIND, dataset=dataset,
                  card=make_card(summary, dataset, {}), params={}, inputs={})
    write_config(workspace, "binary", """
        datasets = ["SickBinary"]
        featurizers = ["tfidf"]
        targets = [{ name = "logreg", C = 1.0 }]
        train_sizes = [200]
        resamples = 1
        metrics = ["accuracy", "f1"]
        seed = 0
        """)
    table = run_experiment(load_config("binary", workspace), workspace)
    f1 = table[table["metric"] == "f1"]
    assert len(f1) == 1 and 0 < float(f1["value"].iloc[0]) < 1
    # the same number as scikit-learn's F1 of label "1" on the cell's stored test predictions
    cell = next(workspace.results_dir("binary").glob("cells/*/*/predictions.npz"))
    stored = np.load(cell, allow_pickle=False)
    classes = stored["classes"].astype(str)
    assert list(classes) == ["0", "1"] and (stored["y_test"] >= 0).all()
    y, pred = classes[stored["y_test"]], classes[stored["test_pred"]]  # int32 codes into classes
    assert float(f1["value"].iloc[0]) == pytest.approx(f1_score(y, pred, pos_label="1"))
