"""Featurizers: texts to feature matrices, cached per (featurizer identity, dataset content).

``FEATURIZERS`` maps names to featurizer classes (third-party ones through the
``enso.featurizers`` entry-point group). ``make_featurizer`` builds one cheaply and checks its
parameters; ``load_features`` reads or computes a dataset's features; ``featurize_config``
does every dataset x featurizer of an experiment.

A third-party featurizer subclasses ``enso.features.Featurizer`` (parameters in ``__init__``,
``featurize(texts)``; ``in_domain = True`` and ``fit(texts)`` if it learns from the train split;
``model_files()`` returning the sha256 of what it loads) and is registered from its package::

    [project.entry-points."enso.featurizers"]
    my-encoder = "my_package.features:MyEncoder"
"""

from __future__ import annotations

from typing import Any

from enso.features.base import Featurizer
from enso.features.cache import FeatureSet, featurize_config, featurizer_id, load_features, open_feature_file
from enso.features.indomain import Doc2VecFeaturizer, FastTextFeaturizer, Word2VecFeaturizer
from enso.features.tfidf import TfidfFeaturizer
from enso.features.transformer import HFEncoderFeaturizer, MiniLMFeaturizer, RandomEncoderFeaturizer
from enso.features.vectors import GloveFeaturizer, StaticVectorsFeaturizer
from enso.registry import Registry, build

FEATURIZERS: Registry[type[Featurizer]] = Registry("featurizer", "enso.featurizers")

FEATURIZERS.register("tfidf", TfidfFeaturizer)
FEATURIZERS.register("glove-6b-50d", GloveFeaturizer, aliases=("glove",))
FEATURIZERS.register("static-vectors", StaticVectorsFeaturizer)
FEATURIZERS.register("word2vec", Word2VecFeaturizer)
FEATURIZERS.register("fasttext", FastTextFeaturizer)
FEATURIZERS.register("doc2vec", Doc2VecFeaturizer)
FEATURIZERS.register("minilm", MiniLMFeaturizer, aliases=("all-MiniLM-L6-v2",))
FEATURIZERS.register("hf-encoder", HFEncoderFeaturizer)
FEATURIZERS.register("random-encoder", RandomEncoderFeaturizer)


def make_featurizer(name: str, params: dict[str, Any] | None = None) -> Featurizer:
    """A featurizer by registered name with ``params``; ``ConfigError`` on an unknown name or bad value.

    Cheap: nothing is loaded until the featurizer is used.
    """
    featurizer = build(FEATURIZERS, name, params)
    featurizer.name = FEATURIZERS.canonical(name)
    return featurizer


__all__ = ["FEATURIZERS", "FeatureSet", "Featurizer", "featurize_config", "featurizer_id", "load_features",
           "make_featurizer", "open_feature_file"]
