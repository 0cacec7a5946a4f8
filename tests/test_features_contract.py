"""The interface every featurizer keeps: tags that say what it does, parameters declared once, a model folder.

Tags are read from the class (nothing built) and checked against what the featurizer really
does on a few texts; every parameter is declared in ``_parameter_constraints`` and checked by
the one validator, never by ``__init__``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from enso.errors import ConfigError
from enso.features import (
    FEATURIZERS,
    Featurizer,
    FeaturizerTags,
    SourceModel,
    make_featurizer,
)
from enso.features.transformer import minilm_folder

TEXTS = ["the film was good", "the film was bad", "a good story told well", "a bad story told badly"] * 2


@pytest.fixture(scope="module")
def vector_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vectors") / "vec.txt"
    path.write_text("4 3\nthe 0.1 0.2 0.3\nfilm 0.5 -0.1 0.0\ngood -0.3 0.2 0.1\nbad 0.3 0.3 -0.2\n")
    return str(path)


def required(name: str, vector_file: str) -> dict:
    """The parameters a featurizer cannot do without (a file or a model folder)."""
    return {"static-vectors": {"path": vector_file}, "hf-encoder": {"path": str(minilm_folder())}}.get(name, {})


#: Small settings so the gensim featurizers train in milliseconds on eight texts.
QUICK = {"word2vec": {"min_count": 1, "epochs": 1}, "fasttext": {"min_count": 1, "epochs": 1, "bucket": 1000},
         "doc2vec": {"min_count": 1, "epochs": 1}}
#: Featurizers cheap enough to run here; the transformer ones run in test_features_transformers.
RUN_HERE = ["tfidf", "glove-6b-50d", "static-vectors", "word2vec", "fasttext", "doc2vec"]


@pytest.mark.parametrize("name", FEATURIZERS.names())
def test_every_featurizer_declares_each_parameter_once_and_init_only_stores(name, vector_file):
    cls = FEATURIZERS.get(name)
    assert issubclass(cls, Featurizer) and isinstance(cls.tags, FeaturizerTags)
    assert set(cls._parameter_constraints) == set(cls.param_names()), "each parameter is declared, and only those"
    base = required(name, vector_file)
    for param in cls.param_names():
        params = {**base, param: "no-such-value"}
        built = cls(**params)  # __init__ stores whatever it is given
        assert getattr(built, param) == "no-such-value"
        with pytest.raises(ConfigError, match=rf"^bad parameters for featurizer '{name}': {param}\b"):
            make_featurizer(name, params)
    made = make_featurizer(name, base)
    assert made.get_params() == {**cls.param_defaults(), **base}


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
@pytest.mark.parametrize("name", RUN_HERE)
def test_tags_and_output_ndim_say_what_the_featurizer_does(name, vector_file):
    featurizer = make_featurizer(name, {**required(name, vector_file), **QUICK.get(name, {})})
    tags = FEATURIZERS.get(name).tags
    if tags.in_domain:  # it learns from the train split: nothing to featurize with before fit
        with pytest.raises(RuntimeError, match="fit"):
            featurizer.featurize(TEXTS)
        featurizer.fit(TEXTS)
    X = featurizer.featurize(TEXTS)
    assert sp.issparse(X) == tags.sparse
    assert (2 if sp.issparse(X) else np.ndim(X)) == featurizer.output_ndim() and X.shape[0] == len(TEXTS)
    # word vectors also give one row per token (sequence labelling); the in-domain and tf-idf ones per text only
    assert tags.units == (("text", "token") if name in ("glove-6b-50d", "static-vectors") else ("text",))
    assert not tags.source_model
    with pytest.raises(ConfigError, match=f"featurizer '{name}' has no model folder a fine-tuning target can take; "
                                          "name one of minilm, hf-encoder, random-encoder"):
        featurizer.source_model_folder()


def test_output_ndim_follows_the_parameters_without_loading_anything():
    for name in ("minilm", "random-encoder"):
        assert make_featurizer(name, {}).output_ndim() == 2
        all_layers = make_featurizer(name, {"layers": "all"})
        assert all_layers.output_ndim() == 3 and getattr(all_layers, "loaded_", None) is None
    assert make_featurizer("hf-encoder", {"path": str(minilm_folder()), "layers": "all"}).output_ndim() == 3


def test_the_encoders_have_a_model_folder_a_fine_tuning_target_can_take(tmp_path):
    assert [n for n, c in FEATURIZERS.items() if c.tags.source_model] == ["minilm", "hf-encoder", "random-encoder", "mpnet"]
    minilm = make_featurizer("minilm", {"device": "cpu"})
    source = minilm.source_model_folder()
    assert source.featurizer == "minilm" and source.random_seed is None
    assert source.root == str(minilm_folder().resolve()) and source.transformer == source.root
    assert source.files == minilm.model_files() and "model.safetensors" in source.files
    assert source.settings == {"pooling": "mean", "normalize": True, "max_length": 256}
    assert SourceModel.from_dict(json.loads(json.dumps(source.to_dict()))) == source, "travels to a worker as JSON"
    assert source.folder().root == minilm_folder()

    # the identity is the content, not the place: a copy of the folder is the same source
    copy = tmp_path / "copy"
    for path in minilm_folder().rglob("*"):
        if path.is_file():
            (copy / path.relative_to(minilm_folder())).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(minilm_folder())).symlink_to(path)
    other = make_featurizer("hf-encoder", {"path": str(copy), "max_length": 128}).source_model_folder()
    assert other.root == str(copy.resolve()) and other.files == source.files
    assert other.settings == {**source.settings, "max_length": 128}
    assert other.identity()["files"] == source.identity()["files"] and other.identity() != source.identity()

    random = make_featurizer("random-encoder", {"seed": 7}).source_model_folder()
    assert random.random_seed == 7 and "model.safetensors" not in random.files and "vocab.txt" in random.files


def test_a_fine_tuning_targets_source_must_name_a_featurizer_with_a_model_folder():
    from enso.targets.base import SourceFeaturizer

    SourceFeaturizer().check("source", "minilm")
    SourceFeaturizer().check("source", "All-MiniLM-L6-v2")
    with pytest.raises(ValueError, match="source: featurizer 'tfidf' has no model folder"):
        SourceFeaturizer().check("source", "tfidf")
    with pytest.raises(ValueError, match="source: unknown featurizer 'minlm'; did you mean 'minilm'"):
        SourceFeaturizer().check("source", "minlm")


def test_a_plugin_that_sets_the_old_tag_attributes_keeps_its_meaning():
    with pytest.warns(DeprecationWarning, match=r"declare tags = FeaturizerTags\(in_domain=True, sparse=True\)"):
        class OldStyle(Featurizer):  # written against the interface before FeaturizerTags
            in_domain = True
            sparse = True

    assert OldStyle.tags == FeaturizerTags(in_domain=True, sparse=True)
    assert not hasattr(OldStyle, "sparse")  # the tags are the one place it is said
    assert Featurizer.tags == FeaturizerTags()
