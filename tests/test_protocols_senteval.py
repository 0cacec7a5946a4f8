"""The senteval protocol against SentEval's own procedure, on the real CR, TREC and SST-2 files.

SentEval (senteval/tools/validation.py): datasets without a given test split are 10-fold
cross-validated (``InnerKFoldClassifier``: outer and inner ``StratifiedKFold(k, shuffle=True,
random_state=1111)``, C in 2^-2..2^3); TREC has a given train/test split (``KFoldClassifier``:
C in 2^-1..2^5 by CV on train, refit on train); SST-2 has a given dev split
(``SplitClassifier``: C on dev, final fit on train only), trained on the 67,349 phrases.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from enso.components import parse_config
from enso.data import Dataset, download, load_dataset
from enso.engine.plan import build_plan
from enso.errors import ConfigError
from enso.workspace import Workspace

SENTEVAL_INNER_CS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]  # [2**t for t in range(-2, 4)]
SENTEVAL_KFOLD_CS = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]  # [2**t for t in range(-1, 6)]


@pytest.fixture(scope="module")
def ws(real_root):
    return Workspace(real_root)


@pytest.fixture(scope="module")
def sst2_ws(mirror_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("senteval-sst2")
    workspace = Workspace(root)
    download(["SST2Phrases"], workspace, mirror=mirror_url)
    return workspace


def plan_of(workspace, **keys):
    config = parse_config({"name": "senteval", "protocol": "senteval", "metrics": ["accuracy"], **keys}, workspace)
    datasets = {name: load_dataset(name, workspace, max_examples=config.cap_for(name)) for name in config.datasets}
    return config, datasets, build_plan(config, datasets)


def fit_rows_of(cell, dataset) -> np.ndarray:
    """The rows an in-domain featurizer learns from for ``cell`` (None on a cell means: the train split)."""
    rows = getattr(cell, "fit_rows", None)
    return dataset.split_index("train") if rows is None else rows


def test_all_folds_of_a_cross_validated_dataset_are_one_configuration(ws):
    _, datasets, plan = plan_of(ws, datasets=["CustomerReviews"])
    cr = datasets["CustomerReviews"]
    assert len(cr) == 3771 and len(plan.cells) == 10
    # one training size for the report: round(3771 * 9 / 10) = 3394; the folds really hold 3393 or 3394
    assert {cell.train_size for cell in plan.cells} == {3394}
    assert sorted({len(cell.draw.rows) for cell in plan.cells}) == [3393, 3394]
    assert [cell.resample for cell in plan.cells] == list(range(10))
    assert {cell.sampler for cell in plan.cells} == {"senteval-cv"}
    # the folds are SentEval's outer StratifiedKFold(10, shuffle=True, random_state=1111) over every row
    expected = StratifiedKFold(10, shuffle=True, random_state=1111).split(np.zeros(len(cr)), cr.labels)
    for cell, (train, test) in zip(plan.cells, expected):
        np.testing.assert_array_equal(cell.draw.rows, train)
        np.testing.assert_array_equal(cell.test, test)
        assert cell.target.params["Cs"] == SENTEVAL_INNER_CS
    assert sorted(np.concatenate([cell.test for cell in plan.cells]).tolist()) == list(range(len(cr)))


@pytest.mark.slow
def test_inner_folds_are_shuffled_with_seed_1111(ws, monkeypatch):
    from enso.features.tfidf import TfidfFeaturizer
    from enso.targets import make_target, with_seed

    _, datasets, plan = plan_of(ws, datasets=["CustomerReviews"], max_examples=400)
    cr, cell = datasets["CustomerReviews"], plan.cells[0]
    texts, rows = cr.texts, cell.draw.rows
    X = TfidfFeaturizer(ngram_max=1).fit([texts[i] for i in rows]).featurize(texts)
    X_train, y_train = X[rows], cr.labels[rows]

    seen = []
    split = StratifiedKFold.split

    def recording(self, X, y=None, groups=None):
        folds = list(split(self, X, y, groups))
        seen.append((self.n_splits, self.shuffle, self.random_state, folds))
        return iter(folds)

    monkeypatch.setattr(StratifiedKFold, "split", recording)
    target = with_seed(make_target(cell.target.name, cell.target.params), cell.target_seed, cell.target.params)
    target.fit(X_train, y_train)
    monkeypatch.undo()

    assert seen, "the target chose C without stratified inner folds"
    assert {(n, shuffle, state) for n, shuffle, state, _ in seen} == {(10, True, 1111)}
    expected = list(StratifiedKFold(10, shuffle=True, random_state=1111).split(X_train, y_train))
    for train, test in expected:  # SentEval's innerskf.split(X_train, y_train), fold by fold
        assert any(np.array_equal(train, a) and np.array_equal(test, b) for a, b in seen[0][3])
    assert target.chosen_params_["C"] in SENTEVAL_INNER_CS


def test_trec_chooses_c_on_sentevals_kfold_grid_on_its_given_split(ws):
    _, datasets, plan = plan_of(ws, datasets=["TREC"], metrics=["macro_f1", "accuracy"])
    trec = datasets["TREC"]
    (cell,) = plan.cells
    assert cell.sampler == "senteval-split"
    assert cell.target.params["Cs"] == SENTEVAL_KFOLD_CS
    assert cell.target.params["cv"] == 10 and cell.target.params["random_state"] == 1111
    assert cell.target.params["scoring"] == "accuracy"  # as SentEval chooses C, whatever the first metric
    np.testing.assert_array_equal(cell.draw.rows, trec.split_index("train"))
    np.testing.assert_array_equal(cell.test, trec.split_index("test"))
    assert len(cell.draw.rows) == cell.train_size == 5452 and len(cell.test) == 500
    assert getattr(cell, "validation_rows", None) is None


def test_in_domain_featurizers_are_fit_per_outer_fold_on_its_training_part(ws):
    from enso.config import Spec
    from enso.features import load_features

    _, datasets, plan = plan_of(ws, datasets=["CustomerReviews"], featurizers=["tfidf", "minilm"])
    cr = datasets["CustomerReviews"]
    tfidf = [cell for cell in plan.cells if cell.featurizer.name == "tfidf"]
    assert len(tfidf) == 10
    for cell in tfidf:
        fit = fit_rows_of(cell, cr)
        assert not np.isin(cell.test, fit).any(), f"fold {cell.resample}: held-out rows in the tf-idf fit"
        np.testing.assert_array_equal(fit, cell.draw.rows)
    # a featurizer that learns nothing from the data is computed once for the whole dataset
    assert all(cell.fit_rows is None for cell in plan.cells if cell.featurizer.name == "minilm")

    # and the features really are fitted on the fold: no held-out row uses a term the fold's training part lacks
    cell = tfidf[0]
    X = load_features(Spec("tfidf"), cr, ws, fit_rows=cell.fit_rows).X.tocsr()
    train_terms = set(X[cell.draw.rows].indices.tolist())
    assert set(X[cell.test].indices.tolist()) <= train_terms


def test_sst2_under_senteval_is_sentevals_phrase_set(tmp_path):
    empty = Workspace(tmp_path)
    config = parse_config({"name": "sst", "protocol": "senteval", "datasets": ["SST2", "TREC"]}, empty)
    assert config.datasets == ["SST2Phrases", "TREC"]
    with pytest.raises(ConfigError, match="runs SST2 on SST2Phrases, which is listed too"):
        parse_config({"name": "sst", "protocol": "senteval", "datasets": ["SST2", "sst2-phrases"]}, empty)
    # other protocols keep the dataset they are given
    assert parse_config({"name": "sst", "datasets": ["SST2"]}, empty).datasets == ["SST2"]


def test_sst2_phrases_choose_c_on_dev_and_train_on_train_only(sst2_ws):
    _, datasets, plan = plan_of(sst2_ws, datasets=["SST2Phrases"])
    sst = datasets["SST2Phrases"]
    (cell,) = plan.cells
    train, dev, test = (sst.split_index(s) for s in ("train", "dev", "test"))
    assert (len(train), len(dev), len(test)) == (67349, 872, 1821)
    assert cell.sampler == "senteval-dev" and cell.train_size == 67349
    np.testing.assert_array_equal(cell.draw.rows, train)
    np.testing.assert_array_equal(cell.validation_rows, dev)
    np.testing.assert_array_equal(cell.test, test)
    assert cell.target.params["Cs"] == SENTEVAL_INNER_CS
    assert cell.fit_rows is None  # the in-domain tf-idf learns from the train split, never dev or test


@pytest.mark.slow
def test_the_final_sst2_model_saw_no_dev_row(sst2_ws):
    from enso.features.tfidf import TfidfFeaturizer
    from enso.targets import make_target, with_seed

    _, datasets, plan = plan_of(sst2_ws, datasets=["SST2Phrases"], max_examples=4000)
    sst = datasets["SST2Phrases"]
    (cell,) = plan.cells
    train, dev, test = cell.draw.rows, cell.validation_rows, cell.test
    X = TfidfFeaturizer(ngram_max=1).fit([sst.texts[i] for i in train]).featurize(sst.texts)
    y = sst.labels
    target = with_seed(make_target(cell.target.name, cell.target.params), cell.target_seed, cell.target.params)
    target.fit(X[train], y[train], validation=(X[dev], y[dev]))
    C = target.chosen_params_["C"]

    def fixed(C, rows):
        return make_target("logreg", {"C": C}).fit(X[rows], y[rows])

    # C is the grid point with the best dev accuracy of a model fitted on train (SentEval's SplitClassifier)
    dev_accuracy = {c: float(np.mean(fixed(c, train).predict(X[dev]) == y[dev])) for c in SENTEVAL_INNER_CS}
    assert dev_accuracy[C] == max(dev_accuracy.values())
    # the final model is that C fitted on train alone: the same model, and not the one with dev added
    assert target.n_fit_ == len(train)
    _, scores = target.scores(X[test])
    np.testing.assert_allclose(scores, fixed(C, train).scores(X[test])[1], atol=1e-6)
    assert not np.allclose(scores, fixed(C, np.concatenate([train, dev])).scores(X[test])[1], atol=1e-6)


def test_any_dataset_with_a_given_dev_split_chooses_c_on_it(ws):
    """The rule SICK-E will run by: a dev split means SentEval's SplitClassifier, whatever the dataset."""
    trec = load_dataset("TREC", ws)
    frame = trec.frame.copy()
    train = trec.split_index("train")
    frame.loc[train[::10], "split"] = "dev"
    given = Dataset.from_frame("TRECWithDev", frame, {"split": "given by the source"})
    config = parse_config({"name": "dev", "protocol": "senteval", "datasets": ["TRECWithDev"]}, ws,
                          validate_names=False)
    (cell,) = build_plan(config, {"TRECWithDev": given}).cells
    assert cell.sampler == "senteval-dev"
    np.testing.assert_array_equal(cell.validation_rows, train[::10])
    assert not np.isin(cell.draw.rows, cell.validation_rows).any() and len(cell.draw.rows) == len(train) - 546
    assert cell.target.params["Cs"] == SENTEVAL_INNER_CS


@pytest.mark.parametrize("options, message", [
    ({"folds": 1}, "folds must be an integer >= 2, got 1"),
    ({"inner_folds": True}, "inner_folds must be an integer >= 2, got True"),
    ({"kfold_Cs": [1, -2]}, "kfold_Cs must be a non-empty list of positive numbers"),
    ({"Cs": []}, "Cs must be a non-empty list of positive numbers"),
    ({"cv_datasets": "all"}, "cv_datasets must be \"auto\" or a list of dataset names"),
    ({"C": [1.0]}, "'C' is not an option of protocol 'senteval' \\(valid: Cs, cv_datasets, folds, inner_folds, "
                   "kfold_Cs, seed\\)"),
])
def test_bad_options_are_one_line_config_errors(options, message):
    from enso.protocols import PROTOCOLS

    with pytest.raises(ConfigError, match=message) as info:
        PROTOCOLS.get("senteval").check_options(options)
    assert "\n" not in str(info.value)


def test_options_merge_over_sentevals_defaults():
    from enso.protocols import PROTOCOLS

    options = PROTOCOLS.get("senteval").check_options({"folds": 5})
    assert options == {"folds": 5, "inner_folds": 10, "Cs": SENTEVAL_INNER_CS, "kfold_Cs": SENTEVAL_KFOLD_CS,
                       "seed": 1111, "cv_datasets": "auto"}
    options["Cs"].append(99.0)  # the caller's copy: the defaults stay SentEval's
    assert PROTOCOLS.get("senteval").defaults["Cs"] == SENTEVAL_INNER_CS
