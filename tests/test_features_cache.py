"""Feature artifacts: names and parameters checked first, cache hits, new artifacts on change, corruption."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse

from enso.errors import ConfigError, EnsoError, UnknownNameError
from enso.features import FEATURIZERS, load_features, make_featurizer, open_feature_file
from enso.features.tfidf import TfidfFeaturizer
from enso.store import Reuse
from tests.features_helpers import dataset_from_rows, sst2_dataset


@pytest.fixture(scope="module")
def sst2(shared_datasets):
    return sst2_dataset(shared_datasets, n_train=400, n_test=150)


def test_unknown_featurizer_is_a_config_error_naming_the_closest():
    with pytest.raises(UnknownNameError, match=r"unknown featurizer 'minlm'; did you mean 'minilm'\?") as info:
        make_featurizer("minlm", {})
    assert "tfidf" in str(info.value) and isinstance(info.value, ConfigError)


@pytest.mark.parametrize("name, params, message", [
    ("tfidf", {"ngrams": 2}, "'ngrams'; did you mean 'ngram_m"),
    ("tfidf", {"ngram_max": 0}, "ngram_max must be an integer"),
    ("tfidf", {"ngram_min": 3, "ngram_max": 2}, "ngram_max must be an integer >= 3"),
    ("minilm", {"precision": "fp8"}, "precision must be one of"),
    ("minilm", {"layers": "some"}, "layers must be one of"),
    ("hf-encoder", {}, "path"),
    ("random-encoder", {"seed": -1}, "seed must be"),
    ("tfidf", {"smooth_idf": "yes"}, "smooth_idf must be true or false, got 'yes'"),
    ("word2vec", {"lowercase": 1}, "lowercase must be true or false, got 1"),
    ("doc2vec", {"dbow_words": "false"}, "dbow_words must be true or false"),
])
def test_bad_parameters_are_refused(name, params, message):
    with pytest.raises(ConfigError, match=message):
        make_featurizer(name, params)


def test_bad_parameter_is_refused_before_any_work(sst2, workspace):
    with pytest.raises(ConfigError):
        load_features({"name": "tfidf", "min_df": "two"}, sst2, workspace)
    assert not workspace.featurizers.exists()


def test_making_a_featurizer_loads_nothing_heavy():
    code = ("import sys; from enso.features import make_featurizer; "
            "f = make_featurizer('minilm', {'layers': 'all'}); make_featurizer('tfidf', {}); "
            "print(f.name, sorted(m for m in ('torch', 'transformers', 'sklearn', 'gensim', 'pandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "minilm []"


def test_registry_lists_the_builtins_and_resolves_aliases():
    assert {"tfidf", "minilm", "hf-encoder", "random-encoder"} <= set(FEATURIZERS.names())
    assert make_featurizer("All-MiniLM-L6-v2", {}).name == "minilm"
    assert make_featurizer("TFIDF", {}).name == "tfidf"


def test_tfidf_features_are_sparse_rows_in_dataset_order(sst2, workspace):
    features = load_features("tfidf", sst2, workspace)
    X = features.X
    assert scipy.sparse.issparse(X) and X.format == "csr" and X.dtype == np.float32
    assert X.shape[0] == len(sst2)
    assert features.path.name == "features.npz"
    assert features.path.parent.parent.name == features.featurizer_id
    assert features.path.parent.name == sst2.content_hash[:16]
    reference = TfidfFeaturizer().fit([sst2.texts[i] for i in sst2.split_index("train")])
    expected = reference.featurize(sst2.texts)
    assert abs(X - expected).max() == 0
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-5)
    meta = features.manifest["meta"]
    assert meta["fit_rows"] == 400 and meta["fit_split"] == "train"
    assert meta["shape"] == list(X.shape) and meta["dataset"] == "SST2"
    assert features.manifest["params"]["ngram_max"] == 2


def test_second_run_is_a_cache_hit_that_fits_nothing(sst2, workspace, monkeypatch):
    first = load_features("tfidf", sst2, workspace)
    assert not first.cached
    stamp = first.path.stat().st_mtime_ns

    def no_fit(self, texts):
        raise AssertionError("a cached featurizer was fit again")

    monkeypatch.setattr(TfidfFeaturizer, "fit", no_fit)
    second = load_features({"name": "tfidf", "ngram_max": 2}, sst2, workspace)  # the default, spelt out
    assert second.cached and second.path == first.path and second.path.stat().st_mtime_ns == stamp
    assert second.featurizer_id == first.featurizer_id


def test_recompute_recomputes(sst2, workspace):
    first = load_features("tfidf", sst2, workspace)
    again = load_features("tfidf", sst2, workspace, reuse=Reuse.RECOMPUTE)
    assert not again.cached and again.path == first.path
    assert abs(again.X - first.X).max() == 0
    assert not load_features("tfidf", sst2, workspace, reuse="recompute").cached


def test_only_cached_reads_what_is_stored_and_names_the_command_for_what_is_not(workspace):
    dataset = dataset_from_rows("cached", ["good film", "bad film", "a good story", "a bad story"], ["good"])
    with pytest.raises(EnsoError) as info:
        load_features("tfidf", dataset, workspace, reuse=Reuse.ONLY_CACHED, command="enso featurize mine")
    message = str(info.value)
    assert "features tfidf on cached" in message and "`enso featurize mine`" in message and "\n" not in message
    assert not list(workspace.featurizers.rglob("manifest.json")), "only-cached computed nothing"
    stored = load_features("tfidf", dataset, workspace)
    again = load_features("tfidf", dataset, workspace, reuse="only-cached")
    assert again.cached and again.path == stored.path
    with pytest.raises(EnsoError, match="fitted on the given rows"):
        load_features("tfidf", dataset, workspace, reuse=Reuse.ONLY_CACHED, fit_rows=np.array([0, 1, 4]))


def test_a_featurizer_changed_after_it_was_built_is_checked_before_any_work(workspace):
    dataset = dataset_from_rows("changed", ["good film", "bad film"], ["good"])
    featurizer = make_featurizer("tfidf", {}).set_params(ngram_min=3)  # ngram_max (2) is now below it
    assert featurizer.ngram_min == 3, "set_params only stores"
    with pytest.raises(ConfigError, match="bad parameters for featurizer 'tfidf': ngram_max must be an integer >= 3"):
        load_features("tfidf", dataset, workspace, featurizer=featurizer)
    assert not workspace.featurizers.exists()
    with pytest.raises(ValueError, match="no parameter 'ngrams'"):
        featurizer.set_params(ngrams=2)


def test_parameter_or_dataset_change_makes_a_new_artifact(sst2, shared_datasets, workspace):
    base = load_features("tfidf", sst2, workspace)
    unigrams = load_features({"name": "tfidf", "ngram_max": 1}, sst2, workspace)
    assert unigrams.featurizer_id != base.featurizer_id and not unigrams.cached
    assert unigrams.X.shape[1] < base.X.shape[1]
    other = sst2_dataset(shared_datasets, n_train=401, n_test=150)
    changed = load_features("tfidf", other, workspace)
    assert changed.featurizer_id == base.featurizer_id and not changed.cached
    assert changed.path.parent != base.path.parent
    assert load_features("tfidf", sst2, workspace).cached  # the old ones are still there and valid
    assert load_features({"name": "tfidf", "ngram_max": 1}, sst2, workspace).cached


def test_corrupted_feature_file_is_detected_and_recomputed(sst2, workspace, caplog):
    first = load_features("tfidf", sst2, workspace)
    expected = first.X.copy()
    data = bytearray(first.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(first.path, 0o644)
    first.path.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="enso"):
        again = load_features("tfidf", sst2, workspace)
    assert not again.cached
    assert "sha256" in caplog.text
    assert abs(again.X - expected).max() == 0


def test_truncated_feature_file_is_recomputed(sst2, workspace):
    first = load_features("tfidf", sst2, workspace)
    with open(first.path, "r+b") as handle:
        handle.truncate(100)
    assert not load_features("tfidf", sst2, workspace).cached


def test_failure_midway_leaves_no_artifact_and_keeps_the_old_one(sst2, workspace):
    good = load_features("tfidf", sst2, workspace)

    class Broken(TfidfFeaturizer):
        def featurize(self, texts):
            raise RuntimeError("disk on fire")

    broken = Broken()
    broken.name = "tfidf"
    with pytest.raises(RuntimeError, match="disk on fire"):
        load_features("tfidf", sst2, workspace, reuse=Reuse.RECOMPUTE, featurizer=broken)
    assert load_features("tfidf", sst2, workspace).cached
    # Nothing but the good artifact (and the lock file beside it, which stays by design).
    assert [p.name for p in good.path.parent.parent.iterdir() if not p.name.endswith(".lock")] == \
        [good.path.parent.name]


def test_blank_texts_are_zero_rows_and_counted(workspace):
    dataset = dataset_from_rows("blank", ["good movie", "bad movie", "", "fine"], ["   ", "good"])
    features = load_features("tfidf", dataset, workspace)
    X = features.X.toarray()
    assert not X[2].any() and not X[4].any() and X[5].any()
    assert features.manifest["meta"]["empty_texts"] == 2


def test_feature_files_never_unpickle(tmp_path):
    evil = tmp_path / "features.npz"
    np.savez(evil, format=np.array("csr"), shape=np.array([1, 1]), data=np.array([object()], dtype=object),
             indices=np.array([0]), indptr=np.array([0, 1]))
    with pytest.raises(ValueError, match="pickle"):
        open_feature_file(evil)
    dense = tmp_path / "features.npy"
    np.save(dense, np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        open_feature_file(dense)


_TWO_RUNS = r"""
import pathlib, sys, time
barrier, me, shared, root, repo = (pathlib.Path(a) for a in sys.argv[1:6])
sys.path.append(str(repo))
from enso.features import load_features
from enso.features.tfidf import TfidfFeaturizer
from enso.workspace import Workspace
from tests.features_helpers import sst2_dataset

class SlowTfidf(TfidfFeaturizer):
    def fit(self, texts):
        (barrier / f"fit-{me}").touch()  # one file per process that computes
        time.sleep(1.0)  # a slow fit: the other run checks the cache meanwhile
        return super().fit(texts)

featurizer = SlowTfidf()
featurizer.name = "tfidf"
dataset = sst2_dataset(shared, n_train=300, n_test=100)
(barrier / f"arrived-{me}").touch()
deadline = time.time() + 30
while len(list(barrier.glob("arrived-*"))) < 2 and time.time() < deadline:
    time.sleep(0.01)
features = load_features("tfidf", dataset, Workspace(root), featurizer=featurizer, progress=False)
print(features.cached, features.path)
"""


@pytest.mark.slow
def test_two_processes_compute_an_artifact_once(shared_datasets, workspace, tmp_path):
    from pathlib import Path

    barrier = tmp_path / "barrier"
    barrier.mkdir()
    repo = Path(__file__).resolve().parents[1]
    procs = [subprocess.Popen([sys.executable, "-c", _TWO_RUNS, str(barrier), str(i), str(shared_datasets),
                               str(workspace.root), str(repo)], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outcomes = [(proc.wait(timeout=120), proc.stdout.read(), proc.stderr.read()) for proc in procs]
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    assert len(list(barrier.glob("fit-*"))) == 1  # one computed, the other waited and read it
    printed = sorted(out.split() for _, out, _ in outcomes)
    assert [cached for cached, _ in printed] == ["False", "True"]
    assert printed[0][1] == printed[1][1]


# ---- one streaming writer for texts, pairs and tokens --------------------------------------------------


class _Lengths:
    """A toy dense featurizer (no model): per text its length and word count; a pair is one row of both texts'."""

    name = "toy-lengths"

    def __new__(cls):
        from enso.features.base import Featurizer

        class Toy(Featurizer):
            name = "toy-lengths"
            _parameter_constraints: dict = {}

            def __init__(self, pair_encoding: str = "separate"):
                self.pair_encoding = pair_encoding

            def featurize(self, texts):
                return np.asarray([[len(t), len(t.split())] for t in texts], dtype=np.float32)

            def featurize_pairs_into(self, pairs, allocate, progress=None):
                out = allocate((len(pairs), 3))
                out[:] = [[len(a), len(b), len(set(a.split()) & set(b.split()))] for a, b in pairs]
                if progress:
                    progress(len(pairs))
                return out

        return Toy


def _npy_bytes(X) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(X, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def test_the_one_writer_stores_exactly_the_featurizers_rows_for_texts_pairs_and_tokens(tmp_path):
    """Texts, cross-encoded pairs and per-token rows go through one writer; each file is byte for byte the
    featurizer's rows as ``np.save`` writes them (the sha256 of the word-shape file is the one the two
    separate writers stored before they were merged)."""
    import hashlib

    import pandas as pd

    from enso.config import Spec
    from enso.data import Dataset
    from enso.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    toy = _Lengths()
    texts = dataset_from_rows("Texts", ["a b c", "dd ee", "f", "a b c"], ["gg hh ii jj"])
    stored = load_features(Spec("toy-lengths"), texts, workspace, featurizer=toy(), progress=False)
    assert stored.path.read_bytes() == _npy_bytes(toy().featurize(texts.texts))
    pairs = Dataset.from_frame("Pairs", pd.DataFrame({
        "text_a": ["a b", "c d", "a b", "c d"], "text_b": ["b c", "d d e", "b c", "a b"],
        "label": ["x", "y", "x", "y"], "split": ["train", "train", "test", "test"]}), task="pair-classification")
    cross = load_features(Spec("toy-lengths", {"pair_encoding": "cross"}), pairs, workspace,
                          featurizer=toy(pair_encoding="cross"), progress=False)
    assert cross.units == "pair" and cross.manifest["meta"]["units"] == "pair"
    assert cross.path.read_bytes() == _npy_bytes([[3, 3, 1], [3, 5, 1], [3, 3, 0]])
    separate = load_features(Spec("toy-lengths"), pairs, workspace, featurizer=toy(), progress=False)
    assert separate.units == "text" and separate.shape == (4, 2) and separate.path.parent != cross.path.parent
    # tokens: dense word-shape rows and their offsets, exactly as the per-token writer stored them
    sentences = Dataset.from_frame("Toy", pd.DataFrame([
        (["John", "lives", "in", "Paris"], ["B-PER", "O", "O", "B-LOC"], "train"),
        (["Mary", "left"], ["B-PER", "O"], "train"),
        (["Zoltan", "met", "Quimper"], ["B-PER", "O", "B-LOC"], "test")], columns=["tokens", "tags", "split"]),
        task="sequence-labelling")
    spec = Spec("word-shape", {"dense": True, "max_features": 64})
    tokens = load_features(spec, sentences, workspace, progress=False)
    shape = make_featurizer(spec.name, spec.params).fit_tokens(sentences.units.items[:2])
    assert tokens.path.read_bytes() == _npy_bytes(shape.featurize_tokens(sentences.units.items))
    assert hashlib.sha256(tokens.path.read_bytes()).hexdigest()[:16] == "076481422c5415dd"
    np.testing.assert_array_equal(tokens.offsets, [0, 4, 6, 9])
    # sparse tokens and sparse texts: the CSR arrays of the featurizer's rows
    sparse = load_features(Spec("word-shape"), sentences, workspace, progress=False)
    expected = make_featurizer("word-shape", {}).fit_tokens(sentences.units.items[:2]).featurize_tokens(
        sentences.units.items)
    assert (sparse.X != scipy.sparse.csr_matrix(expected)).nnz == 0 and sparse.X.shape == expected.shape
    tfidf = load_features(Spec("tfidf"), texts, workspace, progress=False)
    fitted = TfidfFeaturizer().fit(texts.units.for_rows(texts.split_index("train")))
    np.testing.assert_array_equal(tfidf.X.toarray(), fitted.featurize(texts.texts).toarray())
