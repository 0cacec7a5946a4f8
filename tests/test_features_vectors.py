"""Word-vector featurizers: GloVe, any vector file, and word2vec/fastText/doc2vec trained on the train split."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enso.errors import ConfigError
from enso.features import load_features, make_featurizer
from tests.features_helpers import dataset_from_rows, read_sst2, sst2_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def glove():
    return make_featurizer("glove-6b-50d", {}).prepare()


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_glove_is_the_mean_of_known_word_vectors_with_oov_share(glove, workspace):
    kv = glove.kv_
    dataset = dataset_from_rows("glove", ["The king, and the queen!", "qwzxvb plorkt", "", "Don't go"],
                                ["a fine film"])
    features = load_features("glove-6b-50d", dataset, workspace)
    X = np.asarray(features.X)
    assert X.shape == (5, 50)
    words = ["the", "king", ",", "and", "the", "queen", "!"]
    assert np.allclose(X[0], np.mean([kv[w] for w in words], axis=0), atol=1e-6)
    assert np.allclose(X[3], np.mean([kv["do"], kv["n't"], kv["go"]], axis=0), atol=1e-6)
    assert not X[1].any() and not X[2].any()
    meta = features.manifest["meta"]
    assert meta["oov_tokens"] == 2 and meta["tokens"] == 7 + 2 + 3 + 3
    assert meta["oov_share"] == pytest.approx(2 / 15, abs=1e-6)
    assert meta["texts_without_vectors"] == 2 and meta["empty_texts"] == 1
    assert set(features.manifest["inputs"]["models"]) == {"glove_6B_index.parquet", "glove_6B_50d_emb.npy"}


def test_glove_oov_share_on_real_sentences_is_small(glove, shared_datasets):
    texts, _ = read_sst2(shared_datasets, "stsa.binary.dev")
    glove.featurize(texts[:300])
    assert 0 < glove.stats()["oov_share"] < 0.05


@pytest.fixture(scope="module")
def small_vectors(glove, tmp_path_factory):
    """The first 5,000 GloVe vectors written in each file format gensim reads."""
    from gensim.models import KeyedVectors

    folder = tmp_path_factory.mktemp("vectors")
    kv = KeyedVectors(50)
    kv.add_vectors(glove.kv_.index_to_key[:5000], np.asarray(glove.kv_.vectors[:5000]))
    kv.save_word2vec_format(str(folder / "w2v.txt"), binary=False)
    kv.save_word2vec_format(str(folder / "w2v.bin"), binary=True)
    kv.save_word2vec_format(str(folder / "glove.txt"), binary=False, write_header=False)
    return folder


@pytest.mark.parametrize("filename, fmt", [("w2v.txt", "word2vec"), ("w2v.bin", "word2vec-binary"),
                                           ("glove.txt", "glove")])
def test_static_vectors_reads_each_format_and_matches_glove(small_vectors, glove, shared_datasets, filename, fmt):
    texts, _ = read_sst2(shared_datasets, "stsa.binary.dev")
    texts = texts[:100]
    featurizer = make_featurizer("static-vectors", {"path": str(small_vectors / filename)})
    assert featurizer.identity()["params"]["format"] == fmt
    X = featurizer.featurize(texts)
    limited = make_featurizer("glove-6b-50d", {})
    limited.kv_ = featurizer.kv_
    assert np.allclose(X, limited.featurize(texts), atol=1e-5)
    glove.featurize(texts)
    assert featurizer.stats()["oov_share"] > glove.stats()["oov_share"]  # 5,000 of 400,000 words


def test_static_vectors_identity_is_the_file_content_not_its_place(small_vectors, tmp_path):
    copy = tmp_path / "renamed.txt"
    copy.write_bytes((small_vectors / "w2v.txt").read_bytes())
    a = make_featurizer("static-vectors", {"path": str(small_vectors / "w2v.txt")}).identity()
    b = make_featurizer("static-vectors", {"path": str(copy)}).identity()
    assert a["params"] == b["params"] and list(a["models"].values()) == list(b["models"].values())


def test_static_vectors_reads_fasttext_binaries_with_subword_vectors(tmp_path, shared_datasets):
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    texts, _ = read_sst2(shared_datasets, "stsa.binary.train")
    sentences = [t.split() for t in texts[:500]]
    model = FastText(sentences, vector_size=16, min_count=2, epochs=1, bucket=5000, workers=1, seed=1)
    save_facebook_model(model, str(tmp_path / "model.bin"))
    featurizer = make_featurizer("static-vectors", {"path": str(tmp_path / "model.bin")})
    assert featurizer.identity()["params"]["format"] == "fasttext-binary"
    X = featurizer.featurize(["unseenwordzz", ""])
    assert X[0].any() and not X[1].any()
    assert featurizer.stats()["oov_share"] == 1.0


def test_static_vectors_missing_or_unreadable_files_are_clear_errors(tmp_path, shared_datasets, workspace):
    with pytest.raises(ConfigError, match="does not exist"):
        make_featurizer("static-vectors", {"path": str(tmp_path / "nope.vec")})
    bad = tmp_path / "bad.vec"
    bad.write_text("3 50\nnot vectors at all\n")
    dataset = sst2_dataset(shared_datasets, 10, 5)
    from enso.errors import EnsoError
    with pytest.raises(EnsoError, match="cannot read .* as word2vec vectors"):
        load_features({"name": "static-vectors", "path": str(bad)}, dataset, workspace)
    assert not any(workspace.featurizers.rglob("manifest.json"))


TRAIN = ["the film was good", "the film was bad", "a good story told well", "a bad story told badly"] * 3
TEST = ["zyzzyva quokka", "good film zyzzyva"]


@pytest.mark.parametrize("name", ["tfidf", "word2vec", "fasttext", "doc2vec"])
def test_in_domain_featurizers_see_only_the_train_split(name, workspace, monkeypatch):
    dataset = dataset_from_rows("leak", TRAIN, TEST)
    featurizer = make_featurizer(name, {} if name == "tfidf" else {"min_count": 1, "epochs": 2})
    seen = []
    fit = type(featurizer).fit

    def spy(self, texts):
        seen.append(list(texts))
        return fit(self, texts)

    monkeypatch.setattr(type(featurizer), "fit", spy)
    features = load_features({"name": name}, dataset, workspace, featurizer=featurizer)
    assert seen == [TRAIN]
    X = features.X.toarray() if hasattr(features.X, "toarray") else np.asarray(features.X)
    if name != "fasttext":  # fastText builds vectors for unseen words from their character n-grams
        assert not X[len(TRAIN)].any(), "a test-only text got features: test words leaked into fit"
    assert X[len(TRAIN) + 1].any()
    if name == "tfidf":  # one column per n-gram of the train split, none from the test split
        vocabulary = featurizer.vectorizer_.vocabulary_
        assert features.X.shape[1] == len(vocabulary) == 18 and "zyzzyva" not in vocabulary
    else:
        vocabulary = featurizer.model_.wv.key_to_index
        assert "zyzzyva" not in vocabulary and "quokka" not in vocabulary and "film" in vocabulary
        assert features.manifest["meta"]["oov_tokens"] == 3


def test_word2vec_algorithms_differ_and_are_reproducible(shared_datasets):
    texts, _ = read_sst2(shared_datasets, "stsa.binary.train")
    texts = texts[:400]
    skipgram = make_featurizer("word2vec", {"epochs": 2}).fit(texts).featurize(texts[:20])
    again = make_featurizer("word2vec", {"epochs": 2}).fit(texts).featurize(texts[:20])
    cbow = make_featurizer("word2vec", {"epochs": 2, "algorithm": "cbow"}).fit(texts).featurize(texts[:20])
    assert np.array_equal(skipgram, again)
    assert not np.allclose(skipgram, cbow)


def test_doc2vec_rows_do_not_depend_on_their_neighbours(shared_datasets):
    texts, _ = read_sst2(shared_datasets, "stsa.binary.train")
    doc2vec = make_featurizer("doc2vec", {"epochs": 3}).fit(texts[:300])
    together = doc2vec.featurize(texts[:10])
    alone = doc2vec.featurize([texts[7]])
    assert np.array_equal(together[7], alone[0])
    assert np.abs(together).sum(axis=1).min() > 0


_SCRIPT = """
import hashlib, json, sys
import numpy as np
from enso.features import make_featurizer
from tests.features_helpers import read_sst2
from pathlib import Path
texts, _ = read_sst2(Path(sys.argv[1]), "stsa.binary.train")
texts = texts[:300]
out = {}
for name, params in [("word2vec", {"epochs": 2}), ("word2vec", {"epochs": 2, "algorithm": "cbow"}),
                     ("fasttext", {"epochs": 1, "bucket": 20000}), ("doc2vec", {"epochs": 2})]:
    X = make_featurizer(name, params).fit(texts).featurize(texts[:50] + ["unseenzz words"])
    out[name + str(params)] = hashlib.sha256(np.ascontiguousarray(X, dtype=np.float32).tobytes()).hexdigest()
print(json.dumps(out))
"""


@pytest.mark.slow
def test_gensim_featurizers_give_identical_vectors_under_any_pythonhashseed(shared_datasets):
    digests = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", _SCRIPT, str(shared_datasets)], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        digests.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert digests[0] == digests[1]
    assert len(set(digests[0].values())) == 4
