"""The ``senteval`` protocol: SentEval's transfer-task evaluation with logistic regression.

SentEval (Conneau & Kiela 2018, ``senteval/tools/validation.py``) evaluates a dataset one of
three ways, by what splits the dataset gives; this protocol picks the same way for every
dataset, so that a new dataset is evaluated by the rule its splits call for:

- **No given test split** (CR, MR, MPQA, SUBJ; SentEval's ``InnerKFoldClassifier``): outer
  ``StratifiedKFold(folds, shuffle=True, random_state=seed)`` over all rows; in each outer
  fold C is chosen from ``Cs`` (2^-2 .. 2^3) by an inner ``StratifiedKFold(inner_folds,
  shuffle=True, random_state=seed)`` on the fold's training part, refit on that whole part,
  scored on the held-out fold. All folds are one configuration labelled with one training
  size, ``round(len(dataset) * (folds - 1) / folds)`` (each cell's ``n_train`` keeps its
  fold's real count), so the report shows the 10-fold mean SentEval publishes. In-domain
  featurizers (tf-idf, word2vec, ...) are fitted per outer fold on that fold's training part
  (``fit_rows``): no held-out text reaches their vocabulary.
- **A given train and test split, no dev** (TREC, MRPC; SentEval's ``KFoldClassifier``):
  C is chosen from ``kfold_Cs`` (2^-1 .. 2^5) by ``StratifiedKFold(inner_folds, shuffle=True,
  random_state=seed)`` on the train split, refit on the whole train split, scored on test.
- **A given dev split** (SST2 as SentEval runs it, SICK-E with its trial set as dev; SentEval's
  ``SplitClassifier``): C is chosen from ``Cs`` on the dev split (``validation_rows``: the
  target fits on train and scores on dev), the final model is fitted on the train split only,
  and scored on test. Dev rows never enter a training fit.

Sentence pairs (``pair-classification``: ``SICK``, ``MRPC``) take the same rules over pairs: SICK-E
chooses C on its 500 trial pairs, fits on the 4,500 train pairs and scores the 4,927 test pairs; MRPC
chooses C by inner CV on its 4,076 train pairs and scores the 1,725 test pairs. SentEval feeds the
classifier ``[|a - b|, a * b]`` (``senteval/sick.py``, ``mrpc.py``: ``np.c_[np.abs(A - B), A * B]``); the
pair combination is the featurizer entry's ``pair_features`` (enso's default is InferSent's
``[a, b, |a - b|, a * b]``), so SentEval's own is ``{ name = "minilm", pair_features = ["absdiff",
"product"] }``; an entry without it is run with the default and the protocol says so in the log. In-domain
featurizers are fitted on both texts of the training pairs only.

``SST2`` is resolved to ``SST2Phrases`` (``resolve_datasets``): SentEval's SST-2 trains on the
67,349 phrases of ``sentiment-train``, chooses C on the 872 dev sentences and scores the 1,821
test sentences; the 6,920-sentence ``SST2`` record would be a different task under its name.

``cv_datasets`` (``"auto"`` or a list of names) says which datasets are cross-validated:
``"auto"`` takes those whose test split enso made (a stratified split on the dataset card).

C is chosen by accuracy, as SentEval does, whatever the experiment's ``selection_metric``.
Where enso differs from SentEval's code, knowingly: folds are drawn over enso's row order
(SentEval first sorts each task's examples by length, so its fold membership differs although
the procedure is the same), the classifier is enso's ``logreg`` target (L-BFGS, multinomial;
SentEval's sklearn path takes the installed scikit-learn's default ``LogisticRegression``). Ties
between grid points follow SentEval's rule, not enso's (``ties = "senteval"``: accuracies
rounded to two decimals of a percent, the first best, i.e. the smallest C). SentEval's own default is
``kfold = 5``; its published results use 10, as these defaults do.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from enso.errors import ConfigError
from enso.params import Constraint, Integer
from enso.protocols.base import SEED, Draw, PositiveList, Protocol, Skip

log = logging.getLogger(__name__)

#: Dataset card values saying the test split was made by enso rather than given by the dataset.
DERIVED_SPLIT_MARKERS = ("derived", "generated", "stratified", "enso", "made", "random")

#: SentEval's sklearn C grids: ``[2**t for t in range(-2, 4)]`` (InnerKFold, Split) and ``range(-1, 6)`` (KFold).
INNER_KFOLD_CS = [2.0 ** t for t in range(-2, 4)]
KFOLD_CS = [2.0 ** t for t in range(-1, 6)]

#: SentEval's combination of a sentence pair's two vectors (its SICK-E and MRPC tasks): [|a - b|, a * b]
SENTEVAL_PAIR_FEATURES = ["absdiff", "product"]

#: How each kind of dataset is evaluated: the sampler name its cells carry.
CV, GIVEN_TEST, GIVEN_DEV = "senteval-cv", "senteval-split", "senteval-dev"


class DatasetChoice(Constraint):
    """``"auto"`` or a list of dataset names."""

    def check(self, name: str, value: Any) -> None:
        if value != "auto" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        return "\"auto\" or a list of dataset names"


def derived_test_split(dataset) -> bool:
    """Whether the dataset card says enso drew the test split (rather than the source giving it)."""
    card = dataset.card or {}
    for key in ("test_split", "split"):
        value = card.get(key)
        if isinstance(value, str):
            value = value.lower()
            return not value.startswith("given") and any(marker in value for marker in DERIVED_SPLIT_MARKERS)
    return False


class SentEvalProtocol(Protocol):
    name = "senteval"
    feature_precision = "fp32"  # the published numbers it reproduces are fp32 features
    description = ("SentEval: 10-fold CV where no test split is given, C by inner CV or on a given dev split, "
                   "logistic regression")
    defaults: ClassVar[dict[str, Any]] = {"folds": 10, "inner_folds": 10, "Cs": INNER_KFOLD_CS, "kfold_Cs": KFOLD_CS,
                                          "seed": 1111, "cv_datasets": "auto"}
    _parameter_constraints: ClassVar = {"folds": Integer(2), "inner_folds": Integer(2), "seed": SEED,
                                        "Cs": PositiveList(), "kfold_Cs": PositiveList(),
                                        "cv_datasets": DatasetChoice()}
    ignored_keys: ClassVar[dict[str, str]] = {key: "it trains on the whole train split or on each of "
                                              "protocol_options.folds cross-validation folds" for key in
                                              ("train_sizes", "resamples", "samplers", "resamplers")}
    #: datasets SentEval runs on other files than the enso record of the same name
    replacements: ClassVar[dict[str, tuple[str, str]]] = {
        "SST2": ("SST2Phrases", "SentEval trains SST-2 on the 67,349 training phrases and chooses C on dev"),
    }

    def resolve_datasets(self, names: list[str]) -> list[str]:
        from enso.data import DATASETS

        canonical = [DATASETS.canonical(name) if name in DATASETS else name for name in names]
        out: list[str] = []
        for name, known in zip(names, canonical):
            if known in self.replacements:
                replacement, why = self.replacements[known]
                if replacement in canonical:
                    raise ConfigError(f"datasets: protocol senteval runs {name} on {replacement}, which is listed "
                                      "too; list one of them")
                log.info("protocol senteval runs %s on %s: %s", name, replacement, why)
                name = replacement
            out.append(name)
        return out

    def kind(self, dataset, options: dict[str, Any]) -> str:
        """How ``dataset`` is evaluated: ``CV``, ``GIVEN_TEST`` or ``GIVEN_DEV``."""
        chosen = options["cv_datasets"]
        cross_validated = dataset.name in chosen if isinstance(chosen, list) else derived_test_split(dataset)
        if cross_validated:
            return CV
        return GIVEN_DEV if len(dataset.split_index("dev")) else GIVEN_TEST

    @staticmethod
    def target(Cs: list[float], options: dict[str, Any]):
        from enso.config import Spec

        # SentEval picks C by accuracy (clf.score) whatever the experiment reports, so scoring is pinned
        # here, and by its rule: regs[np.argmax(round(100 * score, 2))], the smallest C among rounded ties
        return Spec("logreg", {"Cs": sorted(float(c) for c in Cs), "cv": int(options["inner_folds"]),
                               "random_state": int(options["seed"]), "scoring": "accuracy", "ties": "senteval"})

    @staticmethod
    def in_domain(featurizer) -> bool:
        from enso.features import FEATURIZERS

        return FEATURIZERS.get(featurizer.name).tags.in_domain

    def build(self, config, dataset, plan) -> None:
        from enso.config import Spec

        options = self.check_options(config.protocol_options)
        seed = int(options["seed"])
        if config.targets != [Spec("logreg")] and dataset.name == config.datasets[0]:
            log.warning("protocol senteval fits SentEval's logistic regression (C from a fixed grid); "
                        "the config's targets are not used")
        kind = self.kind(dataset, options)
        if "pair_features" in dataset.task.option_defaults:
            plain = [f.label for f in config.featurizers if "pair_features" not in (getattr(f, "options", None) or {})]
            if plain:
                log.info("protocol senteval on %s: %s combine pairs as %s (enso's default); SentEval's is "
                         "pair_features = %s", dataset.name, ", ".join(plain),
                         dataset.task.option_defaults["pair_features"], SENTEVAL_PAIR_FEATURES)

        def add(draw, size, fold, test_rows, target, fit_rows=None, validation_rows=None):
            for featurizer in config.featurizers:
                plan.add_cell(dataset=dataset, featurizer=featurizer, target=target, sampler=kind, resampler="none",
                              train_size=size, resample=fold, seed=seed, draw=draw, test_rows=test_rows,
                              options=options, fit_rows=fit_rows if self.in_domain(featurizer) else None,
                              validation_rows=validation_rows)

        if kind == CV:
            from sklearn.model_selection import StratifiedKFold

            folds = int(options["folds"])
            labels = dataset.strata  # the label (classification, pairs); folds stratify on it
            largest = int(np.unique(labels, return_counts=True)[1].max()) if len(labels) else 0
            if largest < folds:  # StratifiedKFold cannot split it (a smaller class just misses some folds)
                plan.skipped.append(Skip(dataset.name, kind, 0, f"every class has fewer than folds={folds} "
                                                                "examples"))
                return
            rows = np.arange(len(dataset), dtype=np.int64)
            size = round(len(dataset) * (folds - 1) / folds)
            target = self.target(options["Cs"], options)
            splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
            for fold, (train, test) in enumerate(splitter.split(rows, labels)):
                draw = Draw(dataset.name, kind, len(train), fold, seed, rows=rows[train])
                add(draw, size, fold, rows[test], target, fit_rows=rows[train])
            return

        train = np.asarray(dataset.split_index("train"), dtype=np.int64)
        test = np.asarray(dataset.split_index("test"), dtype=np.int64)
        if len(test) == 0 or len(train) == 0:
            missing = "test" if len(test) == 0 else "train"
            plan.skipped.append(Skip(dataset.name, kind, 0, f"the dataset has no {missing} split; list it in "
                                                            "protocol_options.cv_datasets to cross-validate it"))
            return
        draw = Draw(dataset.name, kind, len(train), 0, seed, rows=train)
        if kind == GIVEN_DEV:
            dev = np.asarray(dataset.split_index("dev"), dtype=np.int64)
            add(draw, len(train), 0, test, self.target(options["Cs"], options), validation_rows=dev)
        else:
            add(draw, len(train), 0, test, self.target(options["kfold_Cs"], options))
