"""The search rules every target follows (enso.targets.search), checked on what the models really see.

Shuffled stratified inner folds, ties to the weaker regularisation, the selection metric,
resampling inside each fold's training part only, and a given validation set. The fits are
observed by recording the rows each scikit-learn model is fitted on and then scored on.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import normalize
from sklearn.svm import SVC, LinearSVC

from enso.sampling import SAMPLERS
from enso.targets import TARGETS, make_target, with_seed
from enso.targets.base import TargetTags
from tests.engine_helpers import dense_matrices, tfidf_matrices


@pytest.fixture(autouse=True)
def one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def trec_tfidf(shared_datasets):
    return tfidf_matrices(shared_datasets)


@pytest.fixture(scope="module")
def trec_dense(shared_datasets):
    return dense_matrices(shared_datasets)


def row_keys(X) -> list[bytes]:
    """One key per row: equal keys are equal rows (copies made by a resampler)."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        X.sort_indices()
        return [X.indices[a:b].tobytes() + X.data[a:b].tobytes() for a, b in zip(X.indptr[:-1], X.indptr[1:])]
    X = np.ascontiguousarray(X)
    return [row.tobytes() for row in X]


def unique_sample(X, y, size, seed):
    """A random training sample of TREC without repeated rows (TREC repeats a few questions)."""
    rows = SAMPLERS.get("random").sample(y, size, np.random.default_rng(seed))
    seen, keep = set(), []
    for row, key in zip(rows, row_keys(X[rows])):
        if key not in seen:
            seen.add(key)
            keep.append(row)
    return np.asarray(keep)


class FitRecorder:
    """Every fit of ``cls`` (its rows) and every ``predict`` after it (the rows scored), per model."""

    def __init__(self, monkeypatch, cls):
        self.fitted: dict[int, list[bytes]] = {}
        self.scored: list[tuple[list[bytes], list[bytes]]] = []  # (fit rows, scored rows)
        fit, predict = cls.fit, cls.predict
        recorder = self

        def recording_fit(model, X, y, *args, **kwargs):
            recorder.fitted[id(model)] = row_keys(X)
            return fit(model, X, y, *args, **kwargs)

        def recording_predict(model, X):
            recorder.scored.append((recorder.fitted[id(model)], row_keys(X)))
            return predict(model, X)

        monkeypatch.setattr(cls, "fit", recording_fit)
        monkeypatch.setattr(cls, "predict", recording_predict)

    def copies(self) -> tuple[int, int]:
        """Scored rows with a copy among the rows their model was fitted on, and all scored rows."""
        copied = total = 0
        for fitted, scored in self.scored:
            inside = set(fitted)
            copied += sum(key in inside for key in scored)
            total += len(scored)
        return copied, total


# -- folds ---------------------------------------------------------------------------------


def runs(rows) -> int:
    """How many blocks of consecutive positions ``rows`` falls into."""
    rows = np.sort(np.asarray(rows))
    return 1 + int(np.sum(np.diff(rows) > 1)) if len(rows) else 0


def test_inner_folds_are_shuffled_not_file_order_blocks(trec_tfidf, monkeypatch):
    """Rows sorted by class, as files often are: unshuffled folds were one block of each class per fold."""
    X_train, y_train, _, _ = trec_tfidf
    rows = SAMPLERS.get("random").sample(y_train, 180, np.random.default_rng(0))
    rows = rows[np.argsort(y_train[rows], kind="stable")]  # file-order blocks: every ABBR, then DESC, ...
    X, y = X_train[rows], y_train[rows]
    seen = []
    split = StratifiedKFold.split

    def recording(self, X, y=None, groups=None):
        folds = list(split(self, X, y, groups))
        seen.append(folds)
        return iter(folds)

    monkeypatch.setattr(StratifiedKFold, "split", recording)
    with_seed(make_target("logreg", {}), 3, {}).fit(X, y)
    with_seed(make_target("logreg", {}), 3, {}).fit(X, y)
    with_seed(make_target("logreg", {}), 4, {}).fit(X, y)
    monkeypatch.undo()

    first, again, other = seen
    for _, val in first:
        for label in np.unique(y):
            members = val[y[val] == label]
            if len(members) >= 4:
                assert runs(members) > 1, f"fold validation rows of {label} are one file-order block"
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again)), "the same random_state gives the same folds"
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, other)), "another random_state, other folds"


# -- ties ----------------------------------------------------------------------------------


def separable(n_per_class=30, d=16, seed=0, sparse=False):
    """Two classes far apart: every candidate scores 1.0 on every fold, so every search ties."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((2, d))
    centres[0, : d // 2], centres[1, d // 2:] = 10.0, 10.0
    X = np.vstack([centres[c] + rng.random((n_per_class, d)) for c in (0, 1)])
    y = np.repeat(np.array(["neg", "pos"]), n_per_class)
    return (sp.csr_matrix(X) if sparse else X), y


@pytest.mark.parametrize("name, params, key, expected", [
    ("logreg", {}, "C", 100.0),
    ("linear-svm", {}, "C", 100.0),
    ("rbf-svm", {}, "C", 100.0),
    ("logreg-sgd", {"alphas": [0.1, 0.01, 0.001, 1e-4, 1e-5]}, "alpha", 1e-5),
    ("naive-bayes", {"var_smoothings": [0.1, 1e-3, 1e-6, 1e-9]}, "var_smoothing", 1e-9),
    ("knn", {"neighbors": [15, 9, 5, 3, 1]}, "n_neighbors", 1),
    ("random-forest", {"max_features_grid": [0.1, "sqrt"], "n_estimators": 10}, "max_features", "sqrt"),
])
def test_ties_go_to_the_weaker_regularisation(name, params, key, expected):
    """Grid order would pick the first tied point (the strongest penalty for the default C grids)."""
    X, y = separable()
    target = with_seed(make_target(name, params), 0, {}).fit(X, y)
    assert target.chosen_params_[key] == expected, target.chosen_params_
    assert target.chosen_params_["cv_accuracy"] == 1.0


def test_multinomial_naive_bayes_ties_go_to_the_smaller_alpha():
    X, y = separable(sparse=True)
    target = with_seed(make_target("naive-bayes", {"alphas": [1.0, 0.1, 0.01]}), 0, {}).fit(X, y)
    assert target.chosen_params_["kind"] == "multinomial" and target.chosen_params_["alpha"] == 0.01


def test_only_equal_means_are_ties_and_log_loss_is_lower_better():
    from enso.targets.search import Search

    points = [{"C": 0.01}, {"C": 1.0}, {"C": 100.0}]
    y = np.repeat(["a", "b"], 6)
    larger_c = lambda point: point["C"]
    accuracy = Search(y, cv=3, scoring="accuracy", random_state=0)
    assert accuracy.pick(points, [0.8, 0.8, 0.8 - 1e-13], larger_c) == 2  # within 1e-12: a tie
    assert accuracy.pick(points, [0.8, 0.8, 0.8 - 1e-9], larger_c) == 1  # a real difference wins
    assert accuracy.pick(points, [0.9, float("nan"), 0.8], larger_c) == 0  # NaN never wins
    log_loss = Search(y, cv=3, scoring="log_loss", random_state=0)
    assert log_loss.pick(points, [0.4, 0.6, 0.4], larger_c) == 2
    assert log_loss.pick(points, [0.3, 0.6, 0.4], larger_c) == 0


def test_senteval_ties_round_to_two_decimals_of_a_percent_and_take_the_first():
    """SentEval: scores.append(round(100 * np.mean(scores), 2)); optreg = regs[np.argmax(scores)]."""
    from enso.targets.search import Search

    points = [{"C": 0.25}, {"C": 0.5}, {"C": 1.0}]
    y = np.repeat(["a", "b"], 6)
    search = Search(y, cv=3, scoring="accuracy", random_state=0)
    scores = [0.80001, 0.80004, 0.7]  # 80.0 and 80.0 once rounded; enso's rule sees a real difference
    assert search.pick(points, scores, lambda point: point["C"], "senteval") == 0
    assert search.pick(points, scores, lambda point: point["C"]) == 1
    assert search.pick(points, [0.8, 0.8, 0.8], lambda point: point["C"], "senteval") == 0
    assert search.pick(points, [0.8, 0.8, 0.8], lambda point: point["C"]) == 2
    X, yy = separable()
    chosen = with_seed(make_target("logreg", {"ties": "senteval"}), 0, {}).fit(X, yy).chosen_params_
    assert chosen["C"] == 0.01, chosen  # every C separates these: SentEval keeps the first


def test_the_senteval_protocol_uses_senteval_ties():
    from enso.protocols import PROTOCOLS

    protocol = PROTOCOLS.get("senteval")
    spec = protocol.target([4.0, 0.5, 1.0], protocol.check_options({}))
    assert spec.params["ties"] == "senteval" and spec.params["Cs"] == [0.5, 1.0, 4.0]


# -- scoring -------------------------------------------------------------------------------


def test_the_selection_metric_changes_the_pick_on_real_data(trec_tfidf):
    X_train, y_train, _, _ = trec_tfidf
    picks = {"accuracy": [], "macro_f1": [], "log_loss": []}
    for seed, size in enumerate((60, 100, 200, 400)):
        rows = SAMPLERS.get("random").sample(y_train, size, np.random.default_rng(seed))
        for scoring, chosen in picks.items():
            target = make_target("logreg", {"scoring": scoring, "random_state": seed}).fit(X_train[rows], y_train[rows])
            assert f"cv_{scoring}" in target.chosen_params_
            chosen.append(target.chosen_params_["C"])
    assert picks["macro_f1"] != picks["accuracy"], picks
    assert picks["log_loss"] != picks["accuracy"], picks


# -- resampling inside the folds -----------------------------------------------------------

RESAMPLED = [
    ("logreg", {}, LogisticRegression),
    ("linear-svm", {}, LinearSVC),
    ("rbf-svm", {}, SVC),
    ("logreg-sgd", {}, SGDClassifier),
    ("knn", {}, KNeighborsClassifier),
    ("naive-bayes", {}, MultinomialNB),
]


def oversampled_fit(name, params, X, y, seed):
    """What the engine now does for a cell with resampler = "oversample": the target resamples."""
    return make_target(name, {**params, "resampler": "oversample", "random_state": seed}).fit(X, y)


@pytest.mark.parametrize("name, params, model", RESAMPLED, ids=[r[0] for r in RESAMPLED])
def test_no_inner_validation_row_has_a_copy_in_its_folds_training_part(name, params, model, trec_tfidf,
                                                                       monkeypatch):
    """Oversampling before the search put copies of validation rows into training (14-49% of them)."""
    X_train, y_train, _, _ = trec_tfidf
    rows = unique_sample(X_train, y_train, 200, 12)
    X, y = X_train[rows], y_train[rows]
    recorder = FitRecorder(monkeypatch, model)
    target = oversampled_fit(name, params, X, y, 5)
    monkeypatch.undo()
    copied, total = recorder.copies()
    assert total >= len(y), "the search scored every row once per fold"
    assert copied == 0, f"{copied} of {total} inner validation rows ({copied / total:.0%}) have a copy in training"
    # and the resampler did act: on each fold's training part and on the final fit
    largest = np.unique(y, return_counts=True)[1].max()
    assert target.n_fit_ == largest * len(np.unique(y)) > len(y)
    assert max(len(fitted) for fitted in recorder.fitted.values()) == target.n_fit_


def test_mlp_early_stopping_split_is_made_before_oversampling(trec_dense, monkeypatch):
    from enso.targets.neural import MLP

    X_train, y_train, _, _ = trec_dense
    rows = unique_sample(X_train, y_train, 200, 12)
    X, y = X_train[rows], y_train[rows]
    tensors = []
    tensor = MLP._tensor

    def recording(self, X, rows=None):
        out = tensor(self, X, rows)
        tensors.append(row_keys(out.numpy()))
        return out

    monkeypatch.setattr(MLP, "_tensor", recording)
    target = oversampled_fit("mlp", {"max_epochs": 3}, X, y, 5)
    monkeypatch.undo()
    trained, validated = tensors[0], tensors[1]
    assert len(validated) >= 0.1 * len(y)
    assert not set(validated) & set(trained), "early-stopping rows have copies among the rows trained on"
    assert len(trained) == target.n_fit_ > len(y) - len(validated), "the training part was oversampled"


# -- a given validation set ----------------------------------------------------------------


def disjoint_samples(X_train, y_train, sizes, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y_train))
    out, start = [], 0
    for size in sizes:
        out.append(order[start:start + size])
        start += size
    return out


def test_a_given_validation_set_chooses_and_the_final_fit_uses_the_training_sample_only(trec_dense, monkeypatch):
    X_train, y_train, _, _ = trec_dense
    fit_rows, val_rows = disjoint_samples(X_train, y_train, (200, 300), 3)
    X, y, X_val, y_val = X_train[fit_rows], y_train[fit_rows], X_train[val_rows], y_train[val_rows]
    monkeypatch.setattr(StratifiedKFold, "split", lambda *a, **k: pytest.fail("inner CV ran despite a validation set"))

    knn = make_target("knn", {"random_state": 0}).fit(X, y, validation=(X_val, y_val))
    scored = {k: np.mean(KNeighborsClassifier(n_neighbors=k, weights="distance", algorithm="brute")
                         .fit(normalize(X), y).predict(normalize(X_val)) == y_val) for k in (1, 3, 5, 9, 15)}
    best = max(scored.values())
    assert knn.chosen_params_["n_neighbors"] == min(k for k, s in scored.items() if s == best)
    assert knn.chosen_params_["validation_accuracy"] == round(best, 6)
    assert knn.chosen_params_["search"] == "given validation split" and knn.n_fit_ == len(y)

    logreg = make_target("logreg", {"random_state": 0}).fit(X, y, validation=(X_val, y_val))
    C = logreg.chosen_params_["C"]
    cold = {c: np.mean(LogisticRegression(C=c, max_iter=1000).fit(X, y).predict(X_val) == y_val)
            for c in (0.01, 0.1, 1.0, 10.0, 100.0)}
    assert cold[C] >= max(cold.values()) - 1 / len(y_val)  # the warm path may flip a one-row near-tie
    reference = LogisticRegression(C=C, max_iter=1000).fit(X, y)  # the final fit: (X, y) only, from zero
    np.testing.assert_allclose(logreg.model_.coef_, reference.coef_, rtol=1e-6, atol=1e-8)
    assert logreg.chosen_params_["search"] == "given validation split"


def test_a_given_validation_set_needs_no_inner_cv_and_is_never_resampled(trec_dense, monkeypatch):
    X_train, y_train, _, _ = trec_dense
    fit_rows, val_rows = disjoint_samples(X_train, y_train, (300, 250), 4)
    X, y, X_val, y_val = X_train[fit_rows], y_train[fit_rows], X_train[val_rows], y_train[val_rows]
    few = np.concatenate([np.flatnonzero(y == label)[:2] for label in np.unique(y)])  # 2 per class: no 3-fold CV
    defaults = make_target("logreg", {}).fit(X[few], y[few])
    assert defaults.chosen_params_["search"].startswith("defaults")
    given = make_target("logreg", {}).fit(X[few], y[few], validation=(X_val, y_val))
    assert given.chosen_params_["search"] == "given validation split"

    recorder = FitRecorder(monkeypatch, LogisticRegression)
    target = make_target("logreg", {"resampler": "oversample", "random_state": 1}).fit(X, y, validation=(X_val, y_val))
    monkeypatch.undo()
    assert {len(scored) for _, scored in recorder.scored} == {len(y_val)}, "the validation set is scored as given"
    assert target.n_fit_ > len(y) and all(len(fitted) == target.n_fit_ for fitted in recorder.fitted.values())


def test_torch_targets_stop_early_on_a_given_validation_set(trec_dense):
    X_train, y_train, _, _ = trec_dense
    fit_rows, val_rows = disjoint_samples(X_train, y_train, (200, 150), 5)
    target = make_target("mlp", {"max_epochs": 20, "random_state": 2})
    target.fit(X_train[fit_rows], y_train[fit_rows], validation=(X_train[val_rows], y_train[val_rows]))
    assert target.chosen_params_["search"] == "early stopping on the given validation split"
    assert target.n_fit_ == len(fit_rows), "every training row is trained on; none is held out"
    assert 1 <= target.chosen_params_["epochs"] <= 20


# -- the interface every target shares ----------------------------------------------------


def fit_input(name, X):
    """Features of the dimensionality the target's tags declare (``layers = "all"`` gives 3-d)."""
    if TARGETS.get(name).tags.input_ndim == 3:
        return np.stack([X, X], axis=1)
    return X


#: the targets this contract is about: fitted on feature rows of a classification task (fine-tuning and
#: sequence targets keep their own contracts in tests/test_targets_finetune.py, _setfit, _lora, _sequence)
ROW_TARGETS = sorted(n for n in TARGETS.names()
                     if TARGETS.get(n).tags.input == "features" and "classification" in TARGETS.get(n).tags.tasks)


@pytest.mark.parametrize("name", ROW_TARGETS)
def test_every_target_declares_its_parameters_once_and_keeps_the_fit_contract(name, trec_dense, trec_tfidf):
    target = make_target(name, {})
    tags = TARGETS.get(name).tags  # read from the class, nothing built
    assert isinstance(tags, TargetTags) and target.tags == tags
    assert tags.input == "features" and "classification" in tags.tasks
    params = target.get_params(deep=False)
    assert set(type(target)._parameter_constraints) == set(params), "each parameter is declared, and only those"
    assert {"random_state", "resampler"} <= set(params)
    assert ("scoring" in params) == (name not in ("nearest-centroid", "mlp", "layer-mix", "majority", "stratified"))
    assert clone(target).get_params(deep=False) == params

    # __init__ only stores: a bad value set afterwards is refused by the one validator, at fit
    broken = clone(target).set_params(resampler="sideways")
    X_train, y_train, X_test, _ = trec_dense
    rows = SAMPLERS.get("random").sample(y_train, 60, np.random.default_rng(1))
    X, y = fit_input(name, X_train[rows]), y_train[rows]
    with pytest.raises(ValueError, match="resampler: unknown resampler 'sideways'"):
        broken.fit(X, y)

    small = {"max_epochs": 3, "validation_fraction": 0} if name in ("mlp", "layer-mix") else {"n_estimators": 10} if name == "random-forest" else {}
    fitted = make_target(name, {**small, "resampler": "undersample", "random_state": 0}).fit(X, y)
    assert list(fitted.classes_) == sorted(set(y))
    assert fitted.n_fit_ == np.unique(y, return_counts=True)[1].min() * len(fitted.classes_)
    json.dumps(fitted.chosen_params_)
    assert "search" in fitted.chosen_params_
    kind, scores = fitted.scores(fit_input(name, X_test))
    assert kind == ("proba" if tags.proba else "decision"), "tags.proba says what scores gives"
    assert scores.shape == (len(X_test), len(fitted.classes_))

    # tags.accepts_sparse says whether sparse features can be fitted on
    X_sparse, y_sparse = trec_tfidf[0][rows], trec_tfidf[1][rows]
    sparse_fit = make_target(name, {**small, "random_state": 0})
    if tags.accepts_sparse:
        assert list(sparse_fit.fit(X_sparse, y_sparse).predict(X_sparse[:5]).shape) == [5]
    else:
        with pytest.raises(ValueError):
            sparse_fit.fit(X_sparse, y_sparse)


def test_a_plugin_target_that_sets_the_old_tag_attributes_keeps_its_meaning():
    from enso.targets.base import Target

    with pytest.warns(DeprecationWarning, match="declare tags = TargetTags"):
        class OldStyle(Target):  # written against the interface before TargetTags
            has_proba = False
            input_ndim = 3
            accepts_sparse = False

    assert OldStyle.tags == TargetTags(proba=False, input_ndim=3, accepts_sparse=False)
    assert not hasattr(OldStyle, "has_proba")  # the tags are the one place it is said
    assert Target.tags == TargetTags()
    with pytest.raises(ValueError, match="input_ndim must be 2 or 3"):
        TargetTags(input_ndim=1)
    with pytest.raises(ValueError, match="input must be 'features' or 'texts'"):
        TargetTags(input="images")
