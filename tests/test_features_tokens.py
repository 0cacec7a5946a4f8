"""Features per token (sequence labelling): per-word transformer vectors against a hand computation
on MiniLM, windows for long sentences, static vectors, the in-domain word-shape baseline fit on
training sentences only, and the cache's flat memory-mapped artifact with sentence offsets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from enso.data import Dataset
from enso.errors import ConfigError
from enso.features import FEATURIZERS, load_features, make_featurizer
from enso.features.per_token import WordShapeFeaturizer, token_feature_names, word_shape
from enso.tasks import Ragged
from enso.workspace import Workspace

# words MiniLM's WordPiece cuts into several pieces, so first and mean sub-word differ
SENTENCES = [
    ["EU", "rejects", "German", "antidisestablishmentarianism", "."],
    ["Peter", "Blackburnshire", "visited", "Llanfairpwllgwyngyll"],
    ["hello"],
]


@pytest.fixture(scope="module")
def hand():
    """MiniLM through transformers itself: the tokenizer with is_split_into_words and word_ids, the model's states."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from enso.features.transformer import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_folder()))
    model = AutoModel.from_pretrained(str(minilm_folder())).eval()

    def vectors(sentences, mode, layer=None):
        rows = []
        for words in sentences:
            encoded = tokenizer(words, is_split_into_words=True, return_tensors="pt")
            with torch.no_grad():
                output = model(**encoded, output_hidden_states=True)
            states = output.hidden_states[layer] if layer is not None else output.last_hidden_state
            word_ids = encoded.word_ids()
            for j in range(len(words)):
                positions = [i for i, w in enumerate(word_ids) if w == j]
                assert positions, f"{words[j]!r} has no sub-word"
                piece = states[0, positions]
                rows.append(piece[0] if mode == "first" else piece.mean(dim=0))
        return torch.stack(rows).numpy()

    vectors.tokenizer = tokenizer
    return vectors


@pytest.fixture(scope="module")
def minilm_first():
    return make_featurizer("minilm")


def test_minilm_pieces_differ_so_first_and_mean_can_be_told_apart(hand):
    pieces = hand.tokenizer(SENTENCES[0], is_split_into_words=True).word_ids()
    assert pieces.count(3) > 3  # antidisestablishmentarianism is several sub-words


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
@pytest.mark.parametrize("mode", ["first", "mean"])
def test_per_word_vectors_equal_the_hand_computation_on_minilm(hand, mode):
    featurizer = make_featurizer("minilm", {"subword": mode})
    X = featurizer.featurize_tokens(SENTENCES)
    assert X.shape == (10, 384) and X.dtype == np.float32
    np.testing.assert_allclose(X, hand(SENTENCES, mode), atol=2e-5)
    assert featurizer.stats()["subword"] == mode and featurizer.stats()["sentences_in_windows"] == 0


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_first_and_mean_differ_only_on_words_of_several_pieces(minilm_first):
    first = minilm_first.featurize_tokens(SENTENCES)
    mean = make_featurizer("minilm", {"subword": "mean"}).featurize_tokens(SENTENCES)
    assert np.allclose(first[9], mean[9], atol=1e-6)  # "hello": one piece
    assert not np.allclose(first[3], mean[3], atol=1e-3)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_layers_all_gives_every_layer_per_word(hand):
    X = make_featurizer("minilm", {"layers": "all"}).featurize_tokens(SENTENCES)
    assert X.shape == (10, 7, 384)
    for layer in (0, 3, 6):
        np.testing.assert_allclose(X[:, layer], hand(SENTENCES, "first", layer), atol=2e-5)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_sentence_longer_than_max_length_is_cut_into_windows_and_every_word_gets_a_vector(hand):
    words = ["the", "cat", "sat", "on", "the", "mat", "and", "then", "antidisestablishmentarianism", "ended"]
    featurizer = make_featurizer("minilm", {"max_length": 8})
    X = featurizer.featurize_tokens([words, ["short"]])
    assert X.shape == (11, 384) and np.all(np.abs(X).sum(axis=1) > 0)
    stats = featurizer.stats()
    assert stats["sentences_in_windows"] == 1 and stats["words_truncated"] == 1 and stats["windows"] > 2
    # the first window is words whose pieces fit in 8 - 2 positions, encoded on their own
    np.testing.assert_allclose(X[:6], hand([words[:6]], "first"), atol=2e-5)
    np.testing.assert_allclose(X[10], hand([["short"]], "first")[0], atol=2e-5)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_word_with_no_sub_word_is_encoded_as_the_unknown_token(hand, minilm_first):
    X = minilm_first.featurize_tokens([["a", "\u200b", "b"]])
    assert minilm_first.stats()["words_as_unknown"] == 1
    np.testing.assert_allclose(X, hand([["a", "[UNK]", "b"]], "first"), atol=2e-5)


def test_subword_at_its_default_leaves_the_identity_and_every_stored_feature_as_before():
    plain = make_featurizer("minilm").identity()
    assert "subword" not in plain["params"]
    assert make_featurizer("minilm", {"subword": "first"}).identity() == plain
    assert make_featurizer("minilm", {"subword": "mean"}).identity()["params"]["subword"] == "mean"
    with pytest.raises(ConfigError, match="subword"):
        make_featurizer("minilm", {"subword": "last"})
    assert "token" in FEATURIZERS.get("minilm").tags.units and "token" in FEATURIZERS.get("glove").tags.units
    assert FEATURIZERS.get("tfidf").tags.units == ("text",)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_static_vectors_give_each_words_vector_and_zero_for_unknown_words():
    glove = make_featurizer("glove")
    X = glove.featurize_tokens([["The", "Cat"], ["qwzxv", "cat"]])
    kv = glove.kv_
    assert X.shape == (4, 50)
    np.testing.assert_array_equal(X[0], kv.get_vector("the"))
    np.testing.assert_array_equal(X[1], X[3])
    assert not X[2].any() and glove.stats()["oov_tokens"] == 1 and glove.stats()["oov_vector"] == "zero"


# -- the in-domain baseline -----------------------------------------------------------------------


def test_word_shapes_affixes_and_context():
    assert word_shape("Blackburn") == "Xxx" and word_shape("1996-08-22") == "dd-dd-dd" and word_shape("EU") == "XX"
    names = token_feature_names(["Peter", "runs"], window=1, affix_length=2, lowercase=True)
    assert {"w=peter", "shape=Xxx", "pre1=p", "pre2=pe", "suf2=er", "title", "first_word", "w-1=<s>",
            "w+1=runs", "shape+1=xx"} <= set(names[0])
    assert {"w+1=</s>", "w-1=peter"} <= set(names[1]) and "title" not in names[1]


def sentence_dataset(rows=None) -> Dataset:
    rows = rows or [
        (["John", "lives", "in", "Paris"], ["B-PER", "O", "O", "B-LOC"], "train"),
        (["Mary", "left"], ["B-PER", "O"], "train"),
        (["Anna", "saw", "Rome"], ["B-PER", "O", "B-LOC"], "train"),
        (["Zoltan", "met", "Quimper"], ["B-PER", "O", "B-LOC"], "test"),
        (["it", "rains"], ["O", "O"], "test"),
    ]
    return Dataset.from_frame("Toy", pd.DataFrame(rows, columns=["tokens", "tags", "split"]),
                              task="sequence-labelling")


def test_word_shape_is_fit_on_the_training_sentences_only_and_stored_sparse_with_offsets(tmp_path, monkeypatch):
    seen = []
    original = WordShapeFeaturizer.fit_tokens

    def spy(self, token_lists):
        seen.append([list(t) for t in token_lists])
        return original(self, token_lists)

    monkeypatch.setattr(WordShapeFeaturizer, "fit_tokens", spy)
    dataset = sentence_dataset()
    featurizer = make_featurizer("word-shape")
    features = load_features("word-shape", dataset, Workspace(tmp_path), featurizer=featurizer, progress=False)
    assert seen == [[["John", "lives", "in", "Paris"], ["Mary", "left"], ["Anna", "saw", "Rome"]]]
    vocabulary = featurizer.vocabulary_
    assert "w=john" in vocabulary and "w=zoltan" not in vocabulary and "w=quimper" not in vocabulary
    assert not any("zoltan" in name or "rains" in name for name in vocabulary)
    assert features.units == "token" and features.path.name == "features.npz"
    assert features.offsets.tolist() == [0, 4, 6, 9, 12, 14]
    X = features.X
    assert X.shape == (14, len(vocabulary)) and X.format == "csr"
    # "Zoltan" (test only) still has its shape, affixes and context columns; its own word is no column
    row = X[9].toarray().ravel()
    assert row[vocabulary["shape=Xxx"]] == 1 and row[vocabulary["first_word"]] == 1
    ragged = features.ragged()
    assert isinstance(ragged, Ragged) and ragged[[4]].values.shape == (2, len(vocabulary))
    assert features.manifest["meta"]["fit_rows"] == 3 and features.manifest["meta"]["tokens"] == 14
    with pytest.raises(ConfigError, match="per token only"):
        featurizer.featurize(["a text"])


def test_dense_word_shape_keeps_the_most_frequent_features_and_equals_the_sparse_rows(tmp_path):
    dataset = sentence_dataset()
    sparse = make_featurizer("word-shape", {"max_features": 12})
    dense = make_featurizer("word-shape", {"max_features": 12, "dense": True})
    assert sparse.tags.sparse and not dense.tags.sparse and FEATURIZERS.get("word-shape").tags.sparse
    ws = Workspace(tmp_path)
    S = load_features("word-shape", dataset, ws, featurizer=sparse, progress=False).X
    D = load_features("word-shape", dataset, ws, featurizer=dense, progress=False).X
    assert isinstance(D, np.memmap) and D.shape == S.shape == (14, 12)
    np.testing.assert_array_equal(D, S.toarray())
    assert "bias" in dense.vocabulary_ and "first_word" in dense.vocabulary_  # on every token / every sentence
    with pytest.raises(ConfigError, match="dense word-shape features need max_features <= 4096"):
        make_featurizer("word-shape", {"dense": True})


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_minilm_token_features_are_stored_flat_memory_mapped_and_cached(tmp_path, minilm_first):
    dataset = sentence_dataset()
    ws = Workspace(tmp_path)
    features = load_features("minilm", dataset, ws, progress=False)
    assert not features.cached and features.units == "token"
    X = features.X
    assert isinstance(X, np.memmap) and X.shape == (14, 384) and not X.flags.writeable
    assert np.array_equal(features.offsets, dataset.layout.offsets)
    np.testing.assert_allclose(X[9:12], minilm_first.featurize_tokens([["Zoltan", "met", "Quimper"]]), atol=1e-5)
    again = load_features("minilm", dataset, ws, progress=False)
    assert again.cached and again.path == features.path
    files = set(features.manifest["files"])
    assert {"features.npy", "offsets.npy"} <= files
    meta = features.manifest["meta"]
    assert meta["rows"] == 5 and meta["tokens"] == 14 and meta["tokens_per_second"] > 0
    cell = dataset.target_input(X, np.array([3, 0]))
    assert cell.offsets.tolist() == [0, 3, 7] and np.array_equal(cell.values, np.concatenate([X[9:12], X[0:4]]))


def test_a_featurizer_without_token_units_on_a_sequence_dataset_is_one_config_error_before_work(tmp_path):
    dataset = sentence_dataset()
    ws = Workspace(tmp_path)
    with pytest.raises(ConfigError, match=r"featurizer tfidf gives text features, but dataset Toy "
                                          r"\(sequence-labelling\) needs a vector per token"):
        load_features("tfidf", dataset, ws, progress=False)
    assert not (ws.featurizers).exists() or not any(ws.featurizers.rglob("features.*"))
    classification = Dataset.from_frame("Texts", pd.DataFrame({"text": ["a b", "c d"], "label": ["x", "y"],
                                                               "split": ["train", "test"]}))
    with pytest.raises(ConfigError, match="needs a vector per text"):
        load_features("word-shape", classification, ws, progress=False)


def test_the_engine_refuses_a_text_featurizer_for_a_sequence_dataset_at_planning(monkeypatch):
    from enso.config import Spec
    from enso.engine import checks

    monkeypatch.setattr(checks, "target_facts", lambda target: {
        "input": "features", "accepts_sparse": True, "input_ndim": 2, "tasks": ("sequence-labelling",),
        "proba": True})
    dataset = sentence_dataset()
    with pytest.raises(ConfigError, match="featurizer tfidf gives text features, but dataset Toy"):
        checks.check_combination(dataset, Spec("tfidf"), Spec("crf"))
    checks.check_combination(dataset, Spec("minilm"), Spec("crf"))  # token units: fine
    checks.check_combination(dataset, Spec("word-shape"), Spec("crf"))


# -- the real files ---------------------------------------------------------------------------------

_RSS_SCRIPT = """
import json, resource, sys, time
from pathlib import Path
from enso.data import load_dataset
from enso.features import load_features
from enso.workspace import Workspace
ws = Workspace(Path(sys.argv[1]))
dataset = load_dataset(sys.argv[2], ws, max_examples=int(sys.argv[4]))
started = time.perf_counter()
features = load_features(sys.argv[3], dataset, ws, progress=False)
X = features.X
print(json.dumps({"seconds": time.perf_counter() - started, "shape": list(X.shape), "memmap": type(X).__name__,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "tokens": int(features.offsets[-1]), "sentences": len(features.offsets) - 1,
                  "dataset_tokens": int(dataset.units.feature_rows)}))
"""


@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
@pytest.mark.slow
def test_minilm_on_wnut17_stays_memory_mapped_with_a_small_peak_rss(sequence_root, tmp_path):
    """The featurize stage on 1,000 real WNUT-17 sentences in a fresh process: every token a row, memory-mapped,
    RSS far under 3 GB (the full CoNLL-2003 measurement is in docs/sequence-labelling.md)."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "datasets").symlink_to(sequence_root / "datasets", target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", _RSS_SCRIPT, str(root), "WNUT17", "minilm", "1000"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["sentences"] == 1000 and found["shape"] == [found["dataset_tokens"], 384]
    assert found["memmap"] == "memmap" and found["peak_rss_mb"] < 3000, found


def test_a_sequence_experiment_runs_end_to_end_on_word_shape_features(tmp_path):
    """Own CoNLL file -> word-shape token features (memory-mapped flat rows) -> token-logreg cells -> span F1 rows."""
    from enso.components import load_config
    from enso.data.conll import import_conll
    from enso.engine import run_experiment
    from tests.tiny import write_config

    people, places = ["Anna", "Bruno", "Carla", "Dmitri", "Elena", "Farid"], ["Paris", "Oslo", "Rome", "Lima"]
    lines = []
    for i in range(40):
        if i % 2:
            lines += [f"{people[i % 6]} B-PER", "visited O", f"{places[i % 4]} B-LOC", ". O", ""]
        else:
            lines += ["it O", "was O", "quiet O", ""]
    path = tmp_path / "toy.conll"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    import_conll(path, ws, name="ToyNER", test_fraction=0.25)
    write_config(ws, "toy-ner", """
        datasets = ["ToyNER"]
        featurizers = [{ name = "word-shape", dense = true, max_features = 300 }]
        targets = [{ name = "token-logreg", C = 1.0 }]
        train_sizes = [10]
        resamples = 2
        metrics = ["span_f1", "token_accuracy"]
        resamplers = ["none"]
        seed = 0
    """)
    results = run_experiment(load_config("toy-ner", ws), ws, jobs=1)
    assert set(results["metric"]) >= {"span_f1", "token_accuracy", "span_f1:PER", "span_f1:LOC"}
    f1 = results[results["metric"] == "span_f1"]
    assert len(f1) == 2 and (f1["n_train"] == 10).all() and (f1["value"] > 0.5).all()
    stored = list(ws.featurizers.rglob("offsets.npy"))
    assert len(stored) == 1 and isinstance(np.load(stored[0].parent / "features.npy", mmap_mode="r"), np.memmap)


def test_enso_featurize_with_a_text_featurizer_on_a_sequence_dataset_prints_one_error_line(tmp_path):
    from enso.data.conll import import_conll
    from tests.cli import enso
    from tests.tiny import write_config

    path = tmp_path / "toy.conll"
    path.write_text("".join(f"Ann{i} B-PER\nsings O\n\nit O\nrains O\n\n" for i in range(6)), encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    import_conll(path, ws, name="ToyNER")
    write_config(ws, "bad", """
        datasets = ["ToyNER"]
        featurizers = ["word-shape", "tfidf"]
        targets = ["crf"]
        train_sizes = [2]
        metrics = ["span_f1"]
        resamplers = ["none"]
    """)
    ran = enso("featurize", "bad", root=ws)
    assert ran.code == 2 and ran.errors == [
        "error: featurizer tfidf gives text features, but dataset ToyNER (sequence-labelling) needs a vector per "
        "token; choose a featurizer with 'token' units (e.g. minilm, glove-6b-50d or word-shape)"], ran.output
    assert not any(ws.featurizers.rglob("features.*"))  # word-shape, listed first, was not computed either


def test_window_batches_take_more_short_windows_and_every_window_once():
    from enso.features.per_token import window_batches

    lengths = np.array([100, 90, 5, 5, 5, 3, 3, 2] * 100)
    batches = window_batches(lengths, 32)
    assert [len(b) for b in batches] == [32] * 7 + [256, 256, 64]
    assert sorted(np.concatenate(batches).tolist()) == list(range(800))
    assert all(lengths[b].max() == lengths[b[0]] for b in batches)  # longest first within each batch
