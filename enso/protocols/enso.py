"""The ``enso`` protocol: learning curves over training sizes, resampled, on the dataset's test split.

For every sampler, training size and resample, a sample of that size is drawn from the train
split with a seed derived from what it is (``derive_seed(seed, dataset, sampler, size,
resample)``), and every featurizer x target x resampler is fitted on it and scored on the
whole test split. Label-only samplers share one sample across featurizers (paired
comparisons); samplers that look at features draw one per featurizer. A size the train split
cannot give is skipped with the reason. In-domain featurizers learn from the train split
(``fit_rows`` left unset), never from test rows; a given dev split is not used. A target fitted
on texts (fine-tuning) pairs only with the featurizer whose model it takes
(``featurizer_target_pairs``), on the same samples as the frozen targets.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from enso.protocols.base import Draw, Protocol, Skip, featurizer_target_pairs
from enso.sampling import SAMPLERS, ImpossibleSample
from enso.seeds import derive_seed


class EnsoProtocol(Protocol):
    name = "enso"
    description = "learning curves: samples of each train size from the train split, scored on the test split"
    defaults: ClassVar[dict[str, Any]] = {}

    def build(self, config, dataset, plan) -> None:
        pool = dataset.split_index("train")
        test = dataset.split_index("test")
        if len(test) == 0:
            plan.skipped.append(Skip(dataset.name, "*", 0, "the dataset has no test split"))
            return
        labels = dataset.strata[pool]  # what samplers draw by: the label, or a sequence task's stratum
        options = self.check_options(config.protocol_options)
        pairs = featurizer_target_pairs(config)
        for sampler_name in config.samplers:
            sampler = SAMPLERS.get(sampler_name)
            for size in config.train_sizes:
                try:
                    sampler.check(labels, size)
                except ImpossibleSample as exc:
                    plan.skipped.append(Skip(dataset.name, sampler_name, size, str(exc)))
                    continue
                for resample in range(config.resamples):
                    seed = derive_seed(config.seed, dataset.name, sampler_name, size, resample)
                    shared = None if sampler.needs_features else Draw(dataset.name, sampler_name, size, resample, seed)
                    draws = {}
                    for featurizer, target in pairs:
                        if featurizer.id not in draws:
                            draws[featurizer.id] = shared or Draw(dataset.name, sampler_name, size, resample, seed,
                                                                  featurizer)
                        draw = draws[featurizer.id]
                        for resampler in config.resamplers:
                            plan.add_cell(dataset=dataset, featurizer=featurizer, target=target,
                                          sampler=sampler_name, resampler=resampler, train_size=size,
                                          resample=resample, seed=seed, draw=draw,
                                          test_rows=np.asarray(test, dtype=np.int64), options=options)
