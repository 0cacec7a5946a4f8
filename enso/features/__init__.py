"""Featurizers: texts to feature matrices, cached per (featurizer identity, dataset content).

``FEATURIZERS`` maps names to featurizer classes (third-party ones through the
``enso.featurizers`` entry-point group). ``make_featurizer`` builds one cheaply and checks its
parameters; ``load_features`` reads or computes a dataset's features; ``featurize_config``
does every dataset x featurizer of an experiment.

A third-party featurizer subclasses ``enso.features.Featurizer``: parameters stored by
``__init__`` and declared in ``_parameter_constraints`` (``enso.params``); ``featurize(texts)``;
``tags = FeaturizerTags(in_domain=True)`` and ``fit(texts)`` if it learns from the train split;
``model_files()`` returning the sha256 of what it loads; ``tags = FeaturizerTags(source_model=True)``
and ``source_model_folder()`` if a fine-tuning target can take its model. It is registered
from its package::

    [project.entry-points."enso.featurizers"]
    my-encoder = "my_package.features:MyEncoder"
"""

from __future__ import annotations

from typing import Any

from enso.errors import ConfigError
from enso.features.base import Featurizer, FeaturizerTags
from enso.features.cache import (
    FeatureSet,
    featurize_config,
    featurizer_id,
    load_features,
    open_feature_file,
)
from enso.features.indomain import (
    Doc2VecFeaturizer,
    FastTextFeaturizer,
    Word2VecFeaturizer,
)
from enso.features.model_folder import ModelFolder, SourceModel
from enso.features.mpnet import MPNetFeaturizer
from enso.features.per_token import WordShapeFeaturizer
from enso.features.tfidf import TfidfFeaturizer
from enso.features.transformer import (
    HFEncoderFeaturizer,
    MiniLMFeaturizer,
    RandomEncoderFeaturizer,
)
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
FEATURIZERS.register("mpnet", MPNetFeaturizer, aliases=("all-mpnet-base-v2",))
FEATURIZERS.register("word-shape", WordShapeFeaturizer, aliases=("shape-affix",))


def make_featurizer(name: str, params: dict[str, Any] | None = None) -> Featurizer:
    """A featurizer by registered name with ``params``; ``ConfigError`` on an unknown name or bad value.

    Cheap: nothing is loaded until the featurizer is used. The parameters are checked by the
    featurizer's one validator (``_validate_params``: its declared constraints, then the checks
    across parameters), with a one-line error naming the featurizer and the parameter.
    """
    if params and "pair_encoding" in params:
        check_pair_encoding(name)
    featurizer = build(FEATURIZERS, name, params)
    featurizer.name = FEATURIZERS.canonical(name)
    validate_featurizer(featurizer)
    return featurizer


def cross_encoders() -> list[str]:
    """Registered featurizers that take ``pair_encoding`` (can encode a pair's two texts together)."""
    return [name for name, cls in FEATURIZERS.items() if getattr(cls, "cross_encodes", lambda: False)()]


def check_pair_encoding(name: str) -> None:
    """``ConfigError`` (one line) when featurizer ``name`` takes no ``pair_encoding``, naming those that do."""
    canonical = FEATURIZERS.canonical(name)
    factory = FEATURIZERS.get(canonical)
    if getattr(factory, "cross_encodes", lambda: False)():
        return
    raise ConfigError(f"featurizer {canonical!r} takes no pair_encoding: it encodes each text on its own and cannot "
                      f"encode a pair's two texts together; drop pair_encoding from its entry, or cross-encode with "
                      f"a transformer encoder ({', '.join(cross_encoders())})")


def validate_featurizer(featurizer: Featurizer) -> Featurizer:
    """``featurizer`` if its parameters pass its validator; else ``ConfigError`` naming it and the parameter."""
    try:
        featurizer._validate_params()
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad parameters for featurizer {featurizer.name!r}: {exc}") from exc
    return featurizer


__all__ = ["FEATURIZERS", "FeatureSet", "Featurizer", "FeaturizerTags", "ModelFolder", "SourceModel",
           "check_pair_encoding", "cross_encoders", "featurize_config", "featurizer_id", "load_features", "make_featurizer", "open_feature_file",
           "validate_featurizer"]
