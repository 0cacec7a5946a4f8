"""minilm, hf-encoder and random-encoder: agreement with sentence-transformers, layers, blanks, precision."""

from __future__ import annotations

import json

import numpy as np
import pytest

from enso.features import load_features, make_featurizer
from enso.features.transformer import minilm_folder
from tests.features_helpers import dataset_from_rows, read_sst2, sst2_dataset


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return (a * b).sum(axis=-1)


@pytest.fixture(scope="module")
def sentences(shared_datasets) -> list[str]:
    texts, _ = read_sst2(shared_datasets, "stsa.binary.test")
    return texts[:1000]


@pytest.fixture(scope="module")
def minilm():
    return make_featurizer("minilm", {"device": "cpu"}).prepare()


@pytest.fixture(scope="module")
def minilm_vectors(minilm, sentences) -> np.ndarray:
    return np.array(minilm.featurize(sentences))


@pytest.mark.slow
def test_minilm_matches_sentence_transformers_on_1000_real_sentences(minilm_vectors, sentences):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_folder()), device="cpu").encode(
        sentences, batch_size=64, convert_to_numpy=True)
    assert minilm_vectors.shape == reference.shape == (1000, 384)
    agreement = cosines(minilm_vectors, reference)
    assert agreement.min() >= 0.9999, f"worst cosine {agreement.min():.6f}"
    assert np.allclose(np.linalg.norm(minilm_vectors, axis=1), 1.0, atol=1e-5)


def test_batch_size_and_order_do_not_change_the_vectors(minilm, minilm_vectors, sentences):
    picked = [sentences[i] for i in (5, 700, 3, 999, 42)]
    one_by_one = np.array(make_featurizer("minilm", {"device": "cpu", "batch_size": 1}).featurize(picked))
    assert cosines(one_by_one, minilm_vectors[[5, 700, 3, 999, 42]]).min() >= 0.99999


def test_blank_texts_give_zero_rows_counted_in_the_manifest(minilm_vectors, sentences, workspace):
    dataset = dataset_from_rows("blanks", [sentences[0], "", sentences[1], " \t "], [sentences[2], "\n"])
    features = load_features({"name": "minilm", "device": "cpu"}, dataset, workspace)
    X = np.asarray(features.X)
    assert features.manifest["meta"]["empty_texts"] == 3
    assert not X[[1, 3, 5]].any()
    assert cosines(X[[0, 2, 4]], minilm_vectors[:3]).min() >= 0.99999


def test_layers_all_stores_every_layer_mean_pooled(minilm_vectors, sentences, workspace):
    dataset = dataset_from_rows("layers", sentences[:30], sentences[30:40])
    features = load_features({"name": "minilm", "layers": "all", "device": "cpu"}, dataset, workspace)
    X = np.asarray(features.X)
    assert X.shape == (40, 7, 384) and X.dtype == np.float32
    assert X.ndim == make_featurizer("minilm", {"layers": "all"}).output_ndim()  # declared before any work
    assert cosines(X[:, -1], minilm_vectors[:40]).min() >= 0.99999  # last layer = the usual embedding
    assert cosines(X[:, 0], X[:, -1]).mean() < 0.9  # and the embeddings layer is something else
    plain = load_features({"name": "minilm", "device": "cpu"}, dataset, workspace)
    assert plain.featurizer_id != features.featurizer_id
    assert np.ndim(plain.X) == make_featurizer("minilm", {}).output_ndim() == 2


def test_bf16_agrees_with_fp32(minilm_vectors, sentences):
    half = np.array(make_featurizer("minilm", {"device": "cpu", "precision": "bf16"}).featurize(sentences[:200]))
    assert cosines(half, minilm_vectors[:200]).min() >= 0.999


def test_precision_is_part_of_the_identity_but_batch_size_is_not(shared_datasets, workspace):
    dataset = sst2_dataset(shared_datasets, n_train=20, n_test=10)
    fp32 = load_features({"name": "minilm", "device": "cpu"}, dataset, workspace)
    assert fp32.manifest["meta"]["precision"] == "fp32" and fp32.manifest["meta"]["device"] == "cpu"
    assert load_features({"name": "minilm", "device": "cpu"}, dataset, workspace, batch_size=3).cached
    bf16 = load_features({"name": "minilm", "device": "cpu"}, dataset, workspace, precision="bf16")
    assert not bf16.cached and bf16.featurizer_id != fp32.featurizer_id
    assert bf16.manifest["params"]["precision"] == "bf16"
    assert "model.safetensors" in fp32.manifest["inputs"]["models"]


def test_hf_encoder_on_the_minilm_folder_reads_its_sentence_transformers_config(minilm_vectors, sentences):
    encoder = make_featurizer("hf-encoder", {"path": str(minilm_folder()), "device": "cpu"})
    resolved = encoder.resolved()
    assert (resolved["pooling"], resolved["normalize"], resolved["max_length"]) == ("mean", True, 256)
    vectors = np.array(encoder.featurize(sentences[:50]))
    assert cosines(vectors, minilm_vectors[:50]).min() >= 0.99999
    cls = np.array(make_featurizer("hf-encoder", {"path": str(minilm_folder()), "pooling": "cls",
                                                  "device": "cpu"}).featurize(sentences[:50]))
    assert cosines(cls, minilm_vectors[:50]).mean() < 0.99


def test_hf_encoder_refuses_a_folder_without_a_model(tmp_path):
    from enso.errors import ConfigError

    with pytest.raises(ConfigError, match="config.json"):
        make_featurizer("hf-encoder", {"path": str(tmp_path)})
    with pytest.raises(ConfigError, match="more than the 512 positions"):
        make_featurizer("minilm", {"max_length": 1000}).identity()


def test_random_encoder_is_seeded_and_unlike_the_pretrained_model(minilm_vectors, sentences):
    texts = sentences[:40]
    a = np.array(make_featurizer("random-encoder", {"device": "cpu"}).featurize(texts))
    b = np.array(make_featurizer("random-encoder", {"device": "cpu"}).featurize(texts))
    c = np.array(make_featurizer("random-encoder", {"seed": 1, "device": "cpu"}).featurize(texts))
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert cosines(a, minilm_vectors[:40]).mean() < 0.5
    random_files = make_featurizer("random-encoder", {}).model_files()
    assert "model.safetensors" not in random_files and "vocab.txt" in random_files


_BARE = """
import runpy, sys
from enso.features import encoder
from enso.features.model_folder import ModelFolder
from enso.features.transformer import minilm_folder
sys.argv = ["featurize.py", "--help"]
try:
    runpy.run_path("benchmarks/featurize.py", run_name="__main__")
except SystemExit:
    pass
folder = ModelFolder.inspect(minilm_folder())
model = encoder.load_model(folder.transformer, "cpu", "fp32")
X, stats = encoder.encode(["a fine film", " "], model, encoder.load_tokenizer(folder.transformer, 256))
print(X.shape, stats["empty_texts"])
print(sorted(m for m in ("pandas", "sklearn", "gensim", "pyarrow", "click") if m in sys.modules))
"""


@pytest.mark.slow  # a fresh process loads torch and the model: about 7 s
def test_encoder_and_benchmark_need_no_pandas_sklearn_or_gensim():
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", _BARE], cwd=repo, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--precision" in result.stdout
    assert result.stdout.strip().splitlines()[-2:] == ["(2, 384) 1", "[]"]


def test_hf_encoder_identity_follows_the_model_files_that_are_loaded(tmp_path):
    source = minilm_folder()
    copy = tmp_path / "model"
    for path in source.rglob("*"):
        if path.is_file():
            target = copy / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    original = make_featurizer("hf-encoder", {"path": str(copy)})
    before = original.identity()
    assert before["models"] == make_featurizer("minilm", {}).model_files()
    (copy / "onnx").mkdir()
    (copy / "onnx" / "model.onnx").write_bytes(b"other runtime")
    (copy / "NOTES.md").write_text("notes")
    (copy / "pytorch_model.bin").write_bytes(b"not loaded: safetensors win")
    assert make_featurizer("hf-encoder", {"path": str(copy)}).identity() == before
    (copy / "1_Pooling" / "config.json").unlink()
    (copy / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    changed = make_featurizer("hf-encoder", {"path": str(copy)}).identity()
    assert changed["models"] != before["models"] and changed["params"]["pooling"] == "cls"


def test_hf_encoder_without_tokenizer_json_builds_the_fast_tokenizer(tmp_path, minilm_vectors, sentences):
    source = minilm_folder()
    copy = tmp_path / "model"
    for path in source.rglob("*"):
        if path.is_file() and path.name != "tokenizer.json":
            target = copy / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    vectors = np.array(make_featurizer("hf-encoder", {"path": str(copy), "device": "cpu"}).featurize(sentences[:20]))
    assert cosines(vectors, minilm_vectors[:20]).min() >= 0.99999
