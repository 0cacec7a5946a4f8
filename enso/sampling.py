"""Training samples drawn from a dataset's train split, and resamplers for class imbalance.

A sampler picks ``size`` positions out of the train pool (positions are indices into the
pool's labels, not dataset rows). ``random`` and ``balanced`` look at labels only, so one
sample is shared by every featurizer and target (paired comparisons); ``kcenter`` and
``orthogonal`` also look at the features of the train pool (never at test points, unlike
the original Enso). A size the pool cannot give is refused with the reason, so the engine
can report and skip it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from enso.registry import Registry


class ImpossibleSample(ValueError):
    """A size that this pool cannot give; the message says why."""


def _classes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    classes, codes = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(codes == i) for i in range(len(classes))]
    return classes, codes, members


def check_size(labels: np.ndarray, size: int) -> None:
    n, k = len(labels), len(np.unique(labels))
    if size > n:
        raise ImpossibleSample(f"size {size} is larger than the train split ({n} examples)")
    if size < k:
        raise ImpossibleSample(f"size {size} is smaller than the number of classes ({k})")


class Sampler:
    name = "sampler"
    needs_features = False
    #: bumped when the same seed starts drawing other rows, so that stored cells of the old draws are not reused
    version = 1

    def check(self, labels: np.ndarray, size: int) -> None:
        check_size(labels, size)

    def sample(self, labels: np.ndarray, size: int, rng: np.random.Generator, features=None) -> np.ndarray:
        raise NotImplementedError


def _largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    counts = np.floor(shares).astype(int)
    leftover = total - counts.sum()
    order = np.lexsort((np.arange(len(shares)), -(shares - counts)))
    counts[order[:leftover]] += 1
    return counts


class RandomSampler(Sampler):
    """Stratified random sample: classes in their train-split proportions, at least 3 of each when the size allows."""

    name = "random"

    def __init__(self, min_per_class: int = 3):
        self.min_per_class = min_per_class

    def quotas(self, labels: np.ndarray, size: int) -> tuple[list[np.ndarray], np.ndarray]:
        _, _, members = _classes(labels)
        available = np.array([len(m) for m in members])
        k = len(members)
        floor = np.minimum(min(self.min_per_class, size // k), available)
        counts = np.minimum(np.maximum(_largest_remainder(size * available / available.sum(), size), floor), available)
        # lifting small classes to the floor overshoots: take the excess from the classes furthest above their share
        while counts.sum() > size:
            surplus = np.where(counts > floor, counts - size * available / available.sum(), -np.inf)
            counts[int(np.argmax(surplus))] -= 1
        while counts.sum() < size:
            room = np.where(counts < available, size * available / available.sum() - counts, -np.inf)
            counts[int(np.argmax(room))] += 1
        return members, counts

    def sample(self, labels, size, rng, features=None):
        self.check(labels, size)
        members, counts = self.quotas(labels, size)
        picks = [rng.choice(m, size=c, replace=False) for m, c in zip(members, counts) if c]
        return np.sort(np.concatenate(picks))


class BalancedSampler(Sampler):
    """size // classes examples of every class (as MTEB does); the remainder and any shortfall go to random other classes."""

    name = "balanced"

    def sample(self, labels, size, rng, features=None):
        self.check(labels, size)
        _, _, members = _classes(labels)
        k = len(members)
        available = np.array([len(m) for m in members])
        counts = np.minimum(np.full(k, size // k), available)
        while counts.sum() < size:
            open_classes = np.flatnonzero(counts < available)
            extra = min(size - counts.sum(), len(open_classes))
            counts[rng.choice(open_classes, size=extra, replace=False)] += 1
        picks = [rng.choice(m, size=c, replace=False) for m, c in zip(members, counts) if c]
        return np.sort(np.concatenate(picks))


def _unit_rows(features) -> np.ndarray | sp.csr_matrix:
    X = features
    if not sp.issparse(X):
        X = np.asarray(X, dtype=np.float32)
        if X.ndim == 3:  # (n, layers, d): the last layer stands for the example
            X = X[:, -1, :]
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms == 0, 1, norms)
    from sklearn.preprocessing import normalize

    return normalize(sp.csr_matrix(X, dtype=np.float32))


def _similarities(X, row: int) -> np.ndarray:
    product = X @ X[row].T
    return np.asarray(product.todense()).ravel() if sp.issparse(product) else np.asarray(product).ravel()


class _GreedyDiversity(Sampler):
    """Greedy selection on the train pool's unit-normalised features.

    Starts from one random example of every class (so every class is present), then adds
    the example that ``_closeness`` ranks most distant from everything chosen so far. Ties
    (closeness within ``TIE_TOLERANCE``, float32 noise) are broken at random with the sample's
    own seeded generator: on sparse features such as tf-idf most of the pool shares no term
    with what is chosen (closeness exactly 0), and taking the first of them in file order
    drew most picks from the top of the file (98% of 100 picks from MPQA's first 10%).
    """

    needs_features = True
    version = 2  # 1 broke ties by file order
    TIE_TOLERANCE = 1e-6

    def sample(self, labels, size, rng, features=None):
        self.check(labels, size)
        if features is None:
            raise ValueError(f"sampler {self.name!r} needs the features of the train pool")
        X = _unit_rows(features)
        _, _, members = _classes(labels)
        chosen = [int(rng.choice(m)) for m in members]
        closeness = np.full(X.shape[0], -np.inf)
        for row in chosen:
            closeness = np.maximum(closeness, self._closeness(X, row))
        taken = np.zeros(X.shape[0], dtype=bool)
        taken[chosen] = True
        while len(chosen) < size:
            candidates = np.where(taken, np.inf, closeness)
            ties = np.flatnonzero(candidates <= candidates.min() + self.TIE_TOLERANCE)
            row = int(ties[0]) if len(ties) == 1 else int(rng.choice(ties))
            chosen.append(row)
            taken[row] = True
            closeness = np.maximum(closeness, self._closeness(X, row))
        return np.sort(np.asarray(chosen))


class KCenterSampler(_GreedyDiversity):
    """k-center greedy (farthest-first traversal): each pick is the pool point farthest from its nearest chosen point."""

    name = "kcenter"

    @staticmethod
    def _closeness(X, row):
        # for unit vectors, squared distance = 2 - 2 cos: the nearest chosen point has the largest cosine
        return _similarities(X, row)


class OrthogonalSampler(_GreedyDiversity):
    """Each pick is the pool point most orthogonal to everything chosen (smallest largest |cosine|)."""

    name = "orthogonal"

    @staticmethod
    def _closeness(X, row):
        return np.abs(_similarities(X, row))


class Resampler:
    name = "resampler"

    def resample(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class NoResampling(Resampler):
    """The training sample as drawn."""

    name = "none"

    def resample(self, labels, rng):
        return np.arange(len(labels))


class Oversample(Resampler):
    """Duplicate random examples of smaller classes until every class is as large as the largest."""

    name = "oversample"

    def resample(self, labels, rng):
        _, _, members = _classes(labels)
        largest = max(len(m) for m in members)
        parts = [np.concatenate([m, rng.choice(m, size=largest - len(m), replace=True)]) for m in members]
        return np.sort(np.concatenate(parts))


class Undersample(Resampler):
    """Keep a random subset of every class, as large as the smallest class."""

    name = "undersample"

    def resample(self, labels, rng):
        _, _, members = _classes(labels)
        smallest = min(len(m) for m in members)
        return np.sort(np.concatenate([rng.choice(m, size=smallest, replace=False) for m in members]))


SAMPLERS: Registry[Sampler] = Registry("sampler", "enso.samplers")
for _sampler, _aliases in ((RandomSampler(), ("stratified",)), (BalancedSampler(), ("per-class",)),
                           (KCenterSampler(), ("k-center",)), (OrthogonalSampler(), ())):
    SAMPLERS.register(_sampler.name, _sampler, aliases=_aliases)

RESAMPLERS: Registry[Resampler] = Registry("resampler", "enso.resamplers")
for _resampler, _aliases in ((NoResampling(), ()), (Oversample(), ("over",)), (Undersample(), ("under",))):
    RESAMPLERS.register(_resampler.name, _resampler, aliases=_aliases)

__all__ = ["RESAMPLERS", "SAMPLERS", "ImpossibleSample", "Resampler", "Sampler", "check_size"]
