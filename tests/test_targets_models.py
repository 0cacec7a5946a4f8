"""Target models on real TREC question-type data: they learn, choose hyperparameters honestly, refuse bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from enso.errors import ConfigError
from enso.sampling import SAMPLERS
from enso.targets import TARGETS, make_target, with_seed
from tests.engine_helpers import dense_matrices, tfidf_matrices


@pytest.fixture(autouse=True)
def one_blas_thread():
    """As the engine runs targets: small fits, one thread (the machine is shared)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def trec_tfidf(shared_datasets):
    return tfidf_matrices(shared_datasets)


@pytest.fixture(scope="module")
def trec_dense(shared_datasets):
    return dense_matrices(shared_datasets)


def sample(y, size, seed):
    return SAMPLERS.get("random").sample(y, size, np.random.default_rng(seed))


def majority_rate(y_train, y_test):
    values, counts = np.unique(y_train, return_counts=True)
    return float(np.mean(y_test == values[counts.argmax()]))


SPARSE_TARGETS = ["logreg", "logreg-sgd", "linear-svm", "rbf-svm", "knn", "naive-bayes", "nearest-centroid"]
DENSE_TARGETS = ["random-forest", "mlp", "naive-bayes", "knn"]


@pytest.mark.parametrize("name", SPARSE_TARGETS)
def test_targets_learn_trec_from_tfidf(name, trec_tfidf):
    X_train, y_train, X_test, y_test = trec_tfidf
    rows = sample(y_train, 400, 1)
    target = with_seed(make_target(name, {}), 7, {}).fit(X_train[rows], y_train[rows])
    accuracy = np.mean(target.predict(X_test) == y_test)
    assert accuracy > majority_rate(y_train[rows], y_test) + 0.2, f"{name}: {accuracy:.3f}"
    assert set(target.classes_) == set(np.unique(y_train[rows]))
    assert "search" in target.chosen_params_
    kind, scores = target.scores(X_test)
    assert kind in ("proba", "decision") and scores.shape == (len(y_test), len(target.classes_))


@pytest.mark.parametrize("name", DENSE_TARGETS)
def test_targets_learn_trec_from_dense_features(name, trec_dense):
    X_train, y_train, X_test, y_test = trec_dense
    rows = sample(y_train, 300, 2)
    target = with_seed(make_target(name, {}), 7, {}).fit(X_train[rows], y_train[rows])
    accuracy = np.mean(target.predict(X_test) == y_test)
    assert accuracy > majority_rate(y_train[rows], y_test) + 0.2, f"{name}: {accuracy:.3f}"


@pytest.mark.parametrize("scoring, sklearn_scoring", [("accuracy", "accuracy"), ("macro_f1", "f1_macro"),
                                                      ("log_loss", "neg_log_loss")])
def test_logreg_path_search_chooses_like_a_grid_search(trec_dense, scoring, sklearn_scoring):
    """The warm-started path is an optimisation, not a different method: same C, same accuracy.

    The reference is a GridSearchCV on the same shuffled folds, with the grid in descending
    order so that its ties (the first best) go to the larger C, as enso's do.
    """
    X_train, y_train, X_test, y_test = trec_dense
    Cs = [0.01, 0.1, 1.0, 10.0, 100.0]
    same_choice, gaps = 0, []
    for seed, size in enumerate((60, 100, 200, 400, 800)):
        rows = sample(y_train, size, seed)
        ours = make_target("logreg", {"Cs": Cs, "random_state": seed, "scoring": scoring})
        ours.fit(X_train[rows], y_train[rows])
        folds = StratifiedKFold(3, shuffle=True, random_state=seed)
        grid = GridSearchCV(LogisticRegression(max_iter=1000), {"C": Cs[::-1]}, cv=folds, scoring=sklearn_scoring)
        grid.fit(X_train[rows], y_train[rows])
        same_choice += ours.chosen_params_["C"] == grid.best_params_["C"]
        gaps.append(abs(np.mean(ours.predict(X_test) == y_test) - np.mean(grid.predict(X_test) == y_test)))
    assert same_choice >= 4
    assert np.median(gaps) < 0.005


def test_logreg_on_sparse_features_is_the_full_width_model(trec_tfidf):
    """logreg fits only the tf-idf columns its sample uses; the model is the one fitted on every column."""
    X_train, y_train, X_test, _ = trec_tfidf
    for size, seed in ((60, 0), (400, 1)):
        rows = sample(y_train, size, seed)
        ours = make_target("logreg", {"C": 10.0}).fit(X_train[rows], y_train[rows])
        assert len(ours.columns_) < X_train.shape[1] / 2
        reference = LogisticRegression(C=10.0, max_iter=1000).fit(X_train[rows], y_train[rows])
        np.testing.assert_allclose(ours.predict_proba(X_test), reference.predict_proba(X_test), atol=1e-4)
        assert np.mean(ours.predict(X_test) == reference.predict(X_test)) >= 0.998


def test_too_few_examples_per_class_for_cv_falls_back_to_defaults_and_says_so(trec_tfidf):
    X_train, y_train, _, _ = trec_tfidf
    rows = sample(y_train, 12, 0)  # 6 classes, 2 each: fewer than 3 folds need
    for name, default in (("logreg", {"C": 1.0}), ("knn", {"n_neighbors": 5}), ("linear-svm", {"C": 1.0})):
        target = make_target(name, {}).fit(X_train[rows], y_train[rows])
        assert target.chosen_params_["search"].startswith("defaults"), name
        for key, value in default.items():
            assert target.chosen_params_[key] == value
    fixed = make_target("logreg", {"C": 3.0}).fit(X_train[rows], y_train[rows])
    assert fixed.chosen_params_["C"] == 3.0 and fixed.chosen_params_["search"] == "fixed"


@pytest.mark.parametrize("name, params, message", [
    ("logreg", {"C": -1}, "C must be a positive number"),
    ("logreg", {"Cs": []}, "Cs must be a non-empty list"),
    ("logreg", {"cc": 1.0}, "did you mean 'C'"),
    ("knn", {"metric": "manhattan"}, "metric must be one of"),
    ("mlp", {"dropout": 1.5}, "dropout must be in"),
    ("lgoreg", {}, "did you mean 'logreg'"),
    ("sklearn.svm:NoSuchThing", {}, "has no 'NoSuchThing'"),
    ("sklearn.preprocessing:StandardScaler", {}, "not a scikit-learn classifier"),
    ("sklearn.svm:LinearSVC", {"C": "large"}, "bad parameters"),
    ("sklearn.svm:LinearSVC", {"gamma": 1}, "gamma"),
    ("sklearn.no_such_module:Thing", {}, "cannot import module"),
    ("logreg", {"resampler": "oversmaple"}, "resampler: unknown resampler 'oversmaple'; did you mean 'oversample'"),
    ("knn", {"scoring": "f1-macro"}, "scoring: unknown metric 'f1-macro'; did you mean"),
    ("logreg", {"random_state": -1}, "random_state must be an integer >= 0"),
    ("mlp", {"random_state": "seven"}, "random_state must be an integer"),
    ("linear-svm", {"scoring": "log_loss"}, "needs probabilities, which linear-svm does not give"),
    ("random-forest", {"max_features_grid": ["sqrt", 0]}, "max_features_grid must be one of .sqrt., .log2. or a positive integer or a number in \\(0, 1\\], got 0"),
    ("majority", {"C": 1.0}, "parameter of target 'majority'"),
])
def test_bad_targets_are_refused_before_any_work(name, params, message):
    with pytest.raises(ConfigError, match=message):
        make_target(name, params)


def test_any_sklearn_classifier_by_import_path(trec_tfidf):
    X_train, y_train, X_test, y_test = trec_tfidf
    rows = sample(y_train, 300, 3)
    target = with_seed(make_target("sklearn.linear_model:RidgeClassifier", {"alpha": 0.5}), 1, {})
    assert target.name == "sklearn.linear_model:RidgeClassifier"
    target.fit(X_train[rows], y_train[rows])
    assert np.mean(target.predict(X_test) == y_test) > 0.5
    assert target.scores(X_test)[0] == "decision"
    seeded = with_seed(make_target("sklearn.ensemble:ExtraTreesClassifier", {"n_estimators": 5}), 11, {})
    assert seeded.fit(X_train[rows], y_train[rows]).model_.random_state == 11


def test_torch_mlp_is_deterministic_for_a_seed(trec_dense):
    X_train, y_train, X_test, _ = trec_dense
    rows = sample(y_train, 120, 4)
    first = with_seed(make_target("mlp", {"max_epochs": 30}), 5, {}).fit(X_train[rows], y_train[rows])
    second = with_seed(make_target("mlp", {"max_epochs": 30}), 5, {}).fit(X_train[rows], y_train[rows])
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))
    assert 1 <= first.chosen_params_["epochs"] <= 30


def test_layer_mix_learns_which_layer_carries_the_signal(trec_dense):
    X_train, y_train, X_test, y_test = trec_dense
    rng = np.random.default_rng(0)

    def layered(X):  # layer 0: noise, layer 1: the real features, layer 2: mostly noise
        noise = rng.normal(size=X.shape).astype(np.float32) / np.sqrt(X.shape[1])
        return np.stack([noise, X, 0.2 * X + noise], axis=1)

    rows = sample(y_train, 400, 5)
    target = with_seed(make_target("layer-mix", {}), 3, {}).fit(layered(X_train[rows]), y_train[rows])
    weights = target.chosen_params_["layer_weights"]
    assert len(weights) == 3 and weights[1] == max(weights)
    assert np.mean(target.predict(layered(X_test)) == y_test) > 0.6
    with pytest.raises(ValueError, match="layers"):
        make_target("layer-mix", {}).fit(X_train[rows], y_train[rows])


def test_registry_lists_every_issue_target():
    assert set(TARGETS.names()) >= {"logreg", "logreg-sgd", "linear-svm", "rbf-svm", "knn", "naive-bayes",
                                    "random-forest", "nearest-centroid", "mlp", "layer-mix"}
    assert make_target("KNN", {"metric": "euclidean"}).name == "knn"
