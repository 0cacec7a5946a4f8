"""The ``mteb`` protocol: MTEB's classification evaluation, reproduced exactly.

MTEB's ``AbsTaskClassification`` keeps one list of train indices and, before each of its
``n_experiments`` draws, reshuffles that list in place with a fresh ``RandomState(seed)``; it
then walks the list and takes the first ``samples_per_label`` examples of every label. Because
the list carries over, every draw differs although the seed does not. Each draw fits
scikit-learn's ``LogisticRegression(max_iter=..., random_state=seed)`` on the draw's rows in the
order they were taken, and scores it on the whole test split. The config's targets and
samplers are not used (a warning says so), nor is a given dev split (MTEB trains on train and
scores its evaluation split). Any change here must keep MTEB's published per-draw
accuracies (Banking77: 0.798052, 0.801623, ...) to the last digit.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from enso.params import Integer
from enso.protocols.base import SEED, Draw, Protocol

log = logging.getLogger(__name__)


class MTEBProtocol(Protocol):
    name = "mteb"
    feature_precision = "fp32"  # the published numbers it reproduces are fp32 features
    description = "MTEB classification: k examples per label, 10 draws, scikit-learn logistic regression"
    defaults: ClassVar[dict[str, Any]] = {"samples_per_label": 8, "n_experiments": 10, "seed": 42, "max_iter": 100}
    _parameter_constraints: ClassVar = {"samples_per_label": Integer(1), "n_experiments": Integer(1),
                                        "max_iter": Integer(1), "seed": SEED}
    ignored_keys: ClassVar[dict[str, str]] = {
        key: "it draws protocol_options.samples_per_label examples per label, protocol_options.n_experiments times"
        for key in ("train_sizes", "resamples", "samplers")} | {
        "resamplers": "it fits on each draw as drawn"}

    @staticmethod
    def target(options: dict[str, Any]):
        from enso.config import Spec

        return Spec("sklearn.linear_model:LogisticRegression",
                    {"max_iter": int(options["max_iter"]), "random_state": int(options["seed"])})

    @staticmethod
    def draws(labels: list, options: dict[str, Any]) -> list[list[int]]:
        """Pool positions of each draw, in the order MTEB takes them."""
        k, seed = int(options["samples_per_label"]), int(options["seed"])
        idxs = list(range(len(labels)))
        out = []
        for _ in range(int(options["n_experiments"])):
            np.random.RandomState(seed).shuffle(idxs)
            counter: dict[Any, int] = {}
            picked = []
            for i in idxs:
                if counter.get(labels[i], 0) < k:
                    picked.append(i)
                    counter[labels[i]] = counter.get(labels[i], 0) + 1
            out.append(picked)
        return out

    def build(self, config, dataset, plan) -> None:
        from enso.config import Spec

        options = self.check_options(config.protocol_options)
        if config.targets != [Spec("logreg")] and dataset.name == config.datasets[0]:
            log.warning("protocol mteb fits MTEB's LogisticRegression(max_iter=%d); the config's targets are not used",
                        options["max_iter"])
        pool = dataset.split_index("train")
        test = np.asarray(dataset.split_index("test"), dtype=np.int64)
        target = self.target(options)
        seed = int(options["seed"])
        for experiment, picked in enumerate(self.draws(dataset.strata[pool].tolist(), options)):
            rows = pool[np.asarray(picked, dtype=np.int64)]
            draw = Draw(dataset.name, "mteb", len(rows), experiment, seed, rows=rows)
            for featurizer in config.featurizers:
                plan.add_cell(dataset=dataset, featurizer=featurizer, target=target, sampler="mteb",
                              resampler="none", train_size=len(rows), resample=experiment, seed=seed, draw=draw,
                              test_rows=test, options=options)
