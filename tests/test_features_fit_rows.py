"""In-domain featurizers fit on given rows (one outer CV fold's training part), cached apart, never seeing others."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from enso.features import load_features
from enso.features.base import Featurizer
from enso.features.cache import fit_rows_digest
from enso.features.tfidf import TfidfFeaturizer
from tests.features_helpers import sst2_dataset


class SpyTfidf(TfidfFeaturizer):
    """tf-idf that records every text it is fit on."""

    seen: ClassVar[list[list[str]]] = []

    def fit(self, texts):
        SpyTfidf.seen.append(list(texts))
        return super().fit(texts)


class Lengths(Featurizer):
    """A featurizer that learns nothing: each text's length."""

    name = "lengths"
    fits = 0

    def fit(self, texts):  # pragma: no cover - must never run
        Lengths.fits += 1
        return self

    def featurize(self, texts):
        return np.array([[len(t)] for t in texts], dtype=np.float32)


@pytest.fixture(scope="module")
def sst2(shared_datasets):
    return sst2_dataset(shared_datasets, n_train=300, n_test=100)


def spy() -> SpyTfidf:
    featurizer = SpyTfidf()
    featurizer.name = "tfidf"
    SpyTfidf.seen = []
    return featurizer


def test_fit_rows_are_the_only_texts_the_featurizer_learns_from(sst2, workspace):
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(sst2), size=250, replace=False))  # train and test rows mixed, as a CV fold
    features = load_features("tfidf", sst2, workspace, fit_rows=rows, featurizer=spy())
    assert SpyTfidf.seen == [[sst2.texts[i] for i in rows]]  # exactly these, in this order, once
    outside = set(range(len(sst2))) - set(rows.tolist())
    only_outside = {sst2.texts[i] for i in outside} - {sst2.texts[i] for i in rows}
    assert only_outside and not only_outside & set(SpyTfidf.seen[0])
    # The features are those of a tf-idf fit on the rows, for every row of the dataset.
    expected = TfidfFeaturizer().fit([sst2.texts[i] for i in rows]).featurize(sst2.texts)
    assert features.X.shape[0] == len(sst2) and abs(features.X - expected).max() == 0
    meta = features.manifest["meta"]
    assert meta["fit_rows"] == 250 and meta["fit_split"] == "rows" and meta["fit_rows_digest"] == fit_rows_digest(rows)


def test_each_set_of_fit_rows_is_its_own_cached_artifact(sst2, workspace):
    train = load_features("tfidf", sst2, workspace)
    rows = np.arange(0, 200)
    first = load_features("tfidf", sst2, workspace, fit_rows=rows, featurizer=spy())
    assert not first.cached and len(SpyTfidf.seen) == 1
    # Beside the train-split artifact, named by the rows' digest; another key.
    assert first.path.parent.parent == train.path.parent.parent
    assert first.path.parent.name == f"{sst2.content_hash[:16]}-fit-{fit_rows_digest(rows)[:16]}"
    assert first.artifact.key != train.artifact.key
    again = load_features("tfidf", sst2, workspace, fit_rows=rows.copy(), featurizer=spy())
    assert again.cached and SpyTfidf.seen == [] and again.path == first.path
    other = load_features("tfidf", sst2, workspace, fit_rows=np.arange(100, 300), featurizer=spy())
    assert not other.cached and other.path.parent != first.path.parent
    assert other.X.shape != first.X.shape or abs(other.X - first.X).max() > 0
    assert load_features("tfidf", sst2, workspace).cached  # the train-split artifact is untouched
    # fit_rows that are exactly the train split are the ordinary artifact.
    same = load_features("tfidf", sst2, workspace, fit_rows=sst2.split_index("train"), featurizer=spy())
    assert same.cached and same.path == train.path and SpyTfidf.seen == []


def test_featurizers_that_learn_nothing_ignore_fit_rows(sst2, workspace):
    Lengths.fits = 0
    plain = load_features("lengths", sst2, workspace, featurizer=Lengths())
    with_rows = load_features("lengths", sst2, workspace, fit_rows=np.arange(10), featurizer=Lengths())
    assert with_rows.cached and with_rows.path == plain.path and Lengths.fits == 0


@pytest.mark.parametrize("rows, message", [
    (np.array([], dtype=np.int64), "non-empty 1-d"),
    (np.array([[1, 2]]), "non-empty 1-d"),
    (np.array([0.0, 1.0]), "integer row positions"),
    (np.array([0, 400]), "must lie in 0..399"),
    (np.array([-1, 3]), "must lie in 0..399"),
    (np.array([3, 3]), "more than once"),
])
def test_bad_fit_rows_are_refused_before_any_work(sst2, workspace, rows, message):
    with pytest.raises(ValueError, match=message):
        load_features("tfidf", sst2, workspace, fit_rows=rows, featurizer=spy())
    assert SpyTfidf.seen == [] and not workspace.featurizers.exists()
