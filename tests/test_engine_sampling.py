"""Samplers and resamplers on the real TREC label distribution (86 ABBR among 5,452 questions)."""

from __future__ import annotations

import numpy as np
import pytest

from enso.sampling import RESAMPLERS, SAMPLERS, ImpossibleSample
from tests.engine_helpers import dense_matrices, read_trec


@pytest.fixture(scope="module")
def trec_labels(shared_datasets):
    return read_trec(shared_datasets)[1]


def counts(labels):
    values, n = np.unique(labels, return_counts=True)
    return dict(zip(values, n))


@pytest.mark.parametrize("size", [6, 12, 18, 50, 100, 500, 5452])
def test_random_sampler_is_stratified_with_at_least_three_per_class(trec_labels, size):
    rows = SAMPLERS.get("random").sample(trec_labels, size, np.random.default_rng(0))
    assert len(rows) == size and len(np.unique(rows)) == size
    drawn = counts(trec_labels[rows])
    assert len(drawn) == 6
    assert min(drawn.values()) >= min(3, size // 6)
    if size >= 500:  # proportions follow the train split's
        pool = counts(trec_labels)
        for label, n in pool.items():
            assert abs(drawn[label] - size * n / len(trec_labels)) <= 3


def test_samples_depend_on_the_seed_only(trec_labels):
    sampler = SAMPLERS.get("random")
    first = sampler.sample(trec_labels, 100, np.random.default_rng(42))
    again = sampler.sample(trec_labels, 100, np.random.default_rng(42))
    other = sampler.sample(trec_labels, 100, np.random.default_rng(43))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_balanced_sampler_takes_k_per_class(trec_labels):
    rows = SAMPLERS.get("balanced").sample(trec_labels, 48, np.random.default_rng(0))
    assert set(counts(trec_labels[rows]).values()) == {8}
    # 600 per class is more ABBR (86) than exist: the shortfall goes to the other classes
    rows = SAMPLERS.get("balanced").sample(trec_labels, 600, np.random.default_rng(0))
    drawn = counts(trec_labels[rows])
    assert len(rows) == 600 and drawn["ABBR"] == 86


@pytest.mark.parametrize("name", ["random", "balanced", "kcenter", "orthogonal"])
@pytest.mark.parametrize("size, reason", [(5, "smaller than the number of classes"), (6000, "larger than the train split")])
def test_impossible_sizes_are_refused_with_the_reason(trec_labels, name, size, reason):
    with pytest.raises(ImpossibleSample, match=reason):
        SAMPLERS.get(name).sample(trec_labels, size, np.random.default_rng(0), np.zeros((len(trec_labels), 2)))


@pytest.mark.parametrize("name", ["kcenter", "orthogonal"])
def test_diversity_samplers_cover_the_space_better_than_random(shared_datasets, name):
    X, y, _, _ = dense_matrices(shared_datasets, dims=32)
    pool = np.arange(2000)
    picked = SAMPLERS.get(name).sample(y[pool], 60, np.random.default_rng(0), X[pool])
    assert len(np.unique(picked)) == 60 and set(y[pool][picked]) == set(y[pool])
    random = SAMPLERS.get("random").sample(y[pool], 60, np.random.default_rng(0))

    def mean_max_similarity(rows):  # how close the chosen points are to each other
        S = X[pool][rows] @ X[pool][rows].T
        S = np.abs(S) if name == "orthogonal" else S
        np.fill_diagonal(S, -np.inf)
        return np.mean(np.max(S, axis=1))

    assert mean_max_similarity(picked) < mean_max_similarity(random)


def test_diversity_samplers_need_features(trec_labels):
    with pytest.raises(ValueError, match="needs the features"):
        SAMPLERS.get("kcenter").sample(trec_labels, 20, np.random.default_rng(0))


def test_resamplers_balance_the_training_sample(trec_labels):
    rows = SAMPLERS.get("random").sample(trec_labels, 100, np.random.default_rng(1))
    labels = trec_labels[rows]
    drawn = counts(labels)
    over = labels[RESAMPLERS.get("oversample").resample(labels, np.random.default_rng(0))]
    assert set(counts(over).values()) == {max(drawn.values())}
    under_rows = RESAMPLERS.get("undersample").resample(labels, np.random.default_rng(0))
    assert set(counts(labels[under_rows]).values()) == {min(drawn.values())}
    assert len(np.unique(under_rows)) == len(under_rows)
    np.testing.assert_array_equal(RESAMPLERS.get("none").resample(labels, np.random.default_rng(0)),
                                  np.arange(len(labels)))


def read_lines_dataset(shared, files):
    """Texts and labels of a one-text-per-line dataset (latin-1, split on '\\n' only)."""
    texts, labels = [], []
    for name, label in files:
        for line in (shared / name).read_bytes().decode("latin-1").split("\n"):
            if line.strip():
                texts.append(line.strip())
                labels.append(label)
    return texts, np.array(labels)


@pytest.fixture(scope="module")
def mpqa_tfidf(shared_datasets):
    """MPQA's 10,603 short phrases as enso's tf-idf: most pairs share no term (cosine exactly 0)."""
    from enso.features.tfidf import TfidfFeaturizer

    texts, labels = read_lines_dataset(shared_datasets, [("mpqa.pos", "positive"), ("mpqa.neg", "negative")])
    return TfidfFeaturizer().fit(texts).featurize(texts), labels


@pytest.mark.parametrize("name", ["kcenter", "orthogonal"])
def test_diversity_samplers_break_ties_at_random_not_by_file_order(mpqa_tfidf, name):
    X, labels = mpqa_tfidf
    head = len(labels) // 10
    picks = [SAMPLERS.get(name).sample(labels, 100, np.random.default_rng(seed), X) for seed in range(5)]
    # the first 10% of the pool should get about 10% of the picks; by file order it got 98%
    share = np.mean([np.mean(rows < head) for rows in picks])
    assert share <= 0.15, f"{share:.0%} of the picks come from the first 10% of the pool"
    # the tie-breaks follow the sample's seed: reproducible, and another seed gives another sample
    np.testing.assert_array_equal(SAMPLERS.get(name).sample(labels, 100, np.random.default_rng(3), X), picks[3])
    assert len(set(picks[0]) & set(picks[1])) < 50
