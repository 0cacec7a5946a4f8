"""Featurizer identities are pinned: a restructure must not move any feature artifact.

``featurizer_id`` names every artifact folder and its identity is in every artifact key and
cell key, so a changed id silently recomputes features and every cell made from them. The
values below are what the code gave at 7827c55 (before the tags and declared parameters of
issue 11), with ``device = "cpu"`` where the device decides the precision.
"""

from __future__ import annotations

import pytest

from enso.features import FEATURIZERS, featurizer_id, make_featurizer
from enso.features.transformer import minilm_folder

#: (name, parameters, id); "<minilm>" is the MiniLM folder, "<vectors>" the file ``VECTORS`` writes
PINNED = [
    ('tfidf', {}, 'tfidf-4abea9db7dc4'),
    ('tfidf', {'ngram_max': 1}, 'tfidf-e46529359cff'),
    ('tfidf', {'max_features': 1000, 'min_df': 2}, 'tfidf-1229f88b2da7'),
    ('tfidf', {'norm': None, 'sublinear_tf': False}, 'tfidf-2b39b62eb8d3'),
    ('tfidf', {'max_df': 0.9, 'ngram_max': 3, 'ngram_min': 1}, 'tfidf-3ec37c63c10b'),
    ('glove-6b-50d', {}, 'glove-6b-50d-3d45e9ffc880'),
    ('glove', {}, 'glove-6b-50d-3d45e9ffc880'),
    ('static-vectors', {'path': '<vectors>'}, 'static-vectors-d81c7392b905'),
    ('static-vectors', {'format': 'word2vec', 'limit': 100, 'lowercase': True, 'path': '<vectors>'}, 'static-vectors-806201c425cd'),
    ('word2vec', {}, 'word2vec-f9e4319db991'),
    ('word2vec', {'algorithm': 'cbow'}, 'word2vec-bb7b3e6bb700'),
    ('word2vec', {'epochs': 2, 'min_count': 1}, 'word2vec-0e29afab816a'),
    ('fasttext', {}, 'fasttext-bd827416d599'),
    ('fasttext', {'bucket': 20000, 'epochs': 1}, 'fasttext-fbaabf05fd78'),
    ('doc2vec', {}, 'doc2vec-c484036b06bc'),
    ('doc2vec', {'algorithm': 'pv-dm', 'infer_epochs': 5}, 'doc2vec-f4c3d574fb6b'),
    ('doc2vec', {'epochs': 2}, 'doc2vec-96b4281df093'),
    ('minilm', {'device': 'cpu'}, 'minilm-c8048f7b9aea'),
    ('minilm', {'batch_size': 7, 'device': 'cpu'}, 'minilm-c8048f7b9aea'),
    ('minilm', {'device': 'cpu', 'layers': 'all'}, 'minilm-f88f2c08ee8b'),
    ('minilm', {'precision': 'bf16'}, 'minilm-e873ba527229'),
    ('minilm', {'precision': 'fp32'}, 'minilm-c8048f7b9aea'),
    ('minilm', {'device': 'cpu', 'max_length': 128}, 'minilm-37c41bbed4e2'),
    ('hf-encoder', {'device': 'cpu', 'path': '<minilm>'}, 'hf-encoder-f2491f10dacb'),
    ('hf-encoder', {'device': 'cpu', 'path': '<minilm>', 'pooling': 'cls'}, 'hf-encoder-5953ad7156f7'),
    ('hf-encoder', {'device': 'cpu', 'normalize': False, 'path': '<minilm>'}, 'hf-encoder-1f05fff694fb'),
    ('hf-encoder', {'device': 'cpu', 'layers': 'all', 'path': '<minilm>'}, 'hf-encoder-daeb06599cdc'),
    ('hf-encoder', {'max_length': 64, 'path': '<minilm>', 'precision': 'bf16'}, 'hf-encoder-f9ad86cf0c79'),
    ('random-encoder', {'device': 'cpu'}, 'random-encoder-a6ef91bc3e80'),
    ('random-encoder', {'device': 'cpu', 'seed': 1}, 'random-encoder-b3d5eeecb90d'),
    ('random-encoder', {'device': 'cpu', 'layers': 'all'}, 'random-encoder-1154a0a2a8d4'),
    # issue 13: per-token features; subword at its default leaves minilm's ids above as they were
    ('minilm', {'device': 'cpu', 'subword': 'first'}, 'minilm-c8048f7b9aea'),
    ('minilm', {'device': 'cpu', 'subword': 'mean'}, 'minilm-8484db3a7efb'),
    ('word-shape', {}, 'word-shape-877b491f4a00'),
    ('word-shape', {'window': 2}, 'word-shape-edf18054d637'),
    ('word-shape', {'dense': True, 'max_features': 1000}, 'word-shape-cf797fe7b59f'),
]
#: A word2vec text file named ``vec.txt`` (the name is part of the identity: ``models`` holds it)
VECTORS = "3 4\nthe 0.1 0.2 0.3 0.4\nfilm 0.5 -0.1 0.0 0.25\ngood -0.3 0.2 0.1 0.9\n"


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    path = tmp_path_factory.mktemp("vectors") / "vec.txt"
    path.write_text(VECTORS)
    return str(path)


def _params(params, vectors):
    places = {"<minilm>": str(minilm_folder()), "<vectors>": vectors}
    return {k: places.get(v, v) if isinstance(v, str) else v for k, v in params.items()}


@pytest.mark.parametrize("name, params, expected", PINNED, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PINNED)])
def test_featurizer_ids_are_those_of_the_code_before_the_restructure(name, params, expected, vectors):
    assert featurizer_id(make_featurizer(name, _params(params, vectors))) == expected


def test_every_registered_featurizer_has_a_pinned_id():
    pinned = {FEATURIZERS.canonical(name) for name, _, _ in PINNED}
    fetched_on_first_use = {"mpnet"}  # its id is pinned in tests/test_features_mpnet.py (slow: fetches 440 MB)
    assert pinned | fetched_on_first_use == set(FEATURIZERS.names())
