"""precision "onnx-fp32": the ONNX Runtime backend agrees with torch fp32, is cached per model, and is optional.

Runs on a tiny seeded BERT (2 blocks, width 32) with MiniLM's tokenizer; the tests that run ONNX
Runtime skip where onnxruntime or onnx is not installed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from enso.errors import ConfigError
from enso.features import encoder, featurizer_id, make_featurizer, onnx_runtime
from enso.features import precision as calibration

needs_ort = pytest.mark.skipif(onnx_runtime.available() is not None,
                               reason=f"ONNX Runtime missing: {onnx_runtime.available()}")
TEXTS = ["a man is playing a guitar .", "the dog runs in the park", "", "short",
         "a much longer sentence with many more words in it than the others have , so batches are padded ."]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    from tests.features_helpers import write_tiny_bert

    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert-onnx"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(calibration.ENV_CACHE, str(tmp_path / "cache"))
    return tmp_path / "cache"


def featurize(folder, precision, **params):
    return make_featurizer("hf-encoder", {"path": str(folder), "device": "cpu", "precision": precision,
                                          "normalize": True, **params})


def agreement(a, b) -> float:
    return float(calibration.cosines(a, b).min())


@needs_ort
@pytest.mark.slow  # exports a model (about 2 s)
def test_onnx_fp32_features_agree_with_torch_fp32_and_name_another_artifact(tiny_bert, cache):
    torch_fp32, onnx_fp32 = featurize(tiny_bert, "fp32"), featurize(tiny_bert, "onnx-fp32")
    X, Y = torch_fp32.featurize(TEXTS), onnx_fp32.featurize(TEXTS)
    assert X.shape == Y.shape == (len(TEXTS), 32)
    assert np.all(Y[2] == 0)  # a blank text: a zero row, as in torch
    keep = [0, 1, 3, 4]
    assert agreement(X[keep], Y[keep]) > 0.99999
    assert np.abs(X - Y).max() < 1e-4
    assert onnx_fp32.stats_["precision"] == "onnx-fp32" and onnx_fp32.stats_["batch_size"] == 32
    assert onnx_fp32.identity()["params"]["precision"] == "onnx-fp32"
    assert featurizer_id(onnx_fp32) != featurizer_id(torch_fp32)  # another backend, another artifact
    assert torch_fp32.identity()["params"]["precision"] == "fp32"


@needs_ort
@pytest.mark.slow  # exports two graphs (about 4 s)
def test_onnx_fp32_all_layers_pairs_and_tokens(tiny_bert, cache):
    X = featurize(tiny_bert, "fp32", layers="all").featurize(TEXTS[:2])
    Y = featurize(tiny_bert, "onnx-fp32", layers="all").featurize(TEXTS[:2])
    assert X.shape == Y.shape == (2, 3, 32)
    assert np.abs(X - Y).max() < 1e-4
    pairs = [("a man sings", "a woman sings loudly"), ("the dog", "the dog")]
    P = featurize(tiny_bert, "fp32", pair_encoding="cross").featurize_pairs_into(pairs, None)
    Q = featurize(tiny_bert, "onnx-fp32", pair_encoding="cross").featurize_pairs_into(pairs, None)
    assert agreement(P, Q) > 0.99999  # token types reach the exported graph
    words = [["a", "man", "plays"], ["the", "dog", "runs", "in", "the", "park"]]
    T = featurize(tiny_bert, "fp32").featurize_tokens(words)
    U = featurize(tiny_bert, "onnx-fp32").featurize_tokens(words)
    assert T.shape == U.shape == (9, 32) and np.abs(T - U).max() < 1e-4  # per-token features too


@needs_ort
@pytest.mark.slow  # exports twice (about 4 s)
def test_the_export_is_cached_per_model_in_the_user_cache_and_is_no_pickle(tiny_bert, cache, monkeypatch):
    import onnx

    first = onnx_runtime.exported(tiny_bert)
    assert first.parent == cache / "onnx" and first.suffix == ".onnx"
    assert (first.parent / (first.name + ".lock")).exists()
    assert not first.read_bytes().startswith(b"\x80")  # not a pickle: a protobuf ONNX can parse
    graph = onnx.load(str(first))
    assert [i.name for i in graph.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]

    def no_export(*args, **kwargs):
        raise AssertionError("the cached export is reused")

    real_export = onnx_runtime.export
    monkeypatch.setattr(onnx_runtime, "export", no_export)
    assert onnx_runtime.exported(tiny_bert) == first
    assert onnx_runtime.OnnxModel(tiny_bert).path == first
    monkeypatch.setattr(onnx_runtime, "export", real_export)
    seeded = onnx_runtime.exported(tiny_bert, random_seed=3)  # random weights: another model, another file
    assert seeded != first and seeded.is_file()
    assert sorted(p.suffix for p in (cache / "onnx").iterdir() if not p.name.endswith(".lock")) == [".onnx"] * 2


def test_without_onnxruntime_onnx_fp32_is_no_candidate(monkeypatch, caplog):
    monkeypatch.setattr(onnx_runtime, "available", lambda: "onnxruntime is not installed (a test)")
    calibration._onnx_candidates.cache_clear()
    try:
        with caplog.at_level(logging.DEBUG, logger="enso.features.precision"):
            assert calibration.candidates("cpu") == ("fp32", "bf16", "int8")
        assert "onnx-fp32 is not a candidate: onnxruntime is not installed" in caplog.text
        with pytest.raises(ConfigError, match="needs ONNX Runtime: onnxruntime is not installed"):
            encoder.load_model(Path("/nowhere"), "cpu", "onnx-fp32")
    finally:
        calibration._onnx_candidates.cache_clear()


@needs_ort
def test_with_onnxruntime_onnx_fp32_is_a_cpu_candidate_and_earlier_choices_stay(cache, monkeypatch):
    """Installing onnxruntime does not move the cache key: a choice made before it stays (feature ids with it)."""
    monkeypatch.delenv(calibration.ENV_FORCE, raising=False)
    calibration._onnx_candidates.cache_clear()
    calibration._memo.clear()
    assert calibration.candidates("cpu")[-1] == "onnx-fp32"
    assert "onnxruntime" not in calibration.machine("cpu")
    subject = calibration.Subject(name="m", transformer=Path("/nowhere"), files={"model.safetensors": "a" * 64},
                                  settings={"pooling": "mean", "normalize": True, "max_length": 8, "layers": "last"})
    calibration.record(subject, "cpu", "bf16", "made before onnxruntime was installed")
    calibration._memo.clear()
    assert calibration.auto_precision(subject, "cpu", calibrate_with=lambda s, d: 1 / 0) == "bf16"
    calibration._memo.clear()


def test_onnx_fp32_runs_on_cpu_only():
    with pytest.raises(ConfigError, match="onnx-fp32 runs on CPU only"):
        encoder.resolve_precision("onnx-fp32", "cuda")
    assert encoder.resolve_precision("onnx-fp32", "cpu") == "onnx-fp32"
    assert encoder.default_batch_size("cpu", "onnx-fp32") == encoder.default_batch_size("cpu", "fp32")
