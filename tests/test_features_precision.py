"""precision = "auto": the calibration's choice (cosine threshold, speed), its per-machine cache, the identity.

The suite runs with ``ENSO_AUTO_PRECISION=fp32`` (tests/conftest.py); these tests unset it and
point ``ENSO_CACHE_DIR`` at a folder of their own.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from enso.errors import ConfigError
from enso.features import featurizer_id, make_featurizer
from enso.features import precision as calibration
from tests.cli import enso
from tests.tiny import write_config


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Calibration on (the suite's fp32 override off), cached in a folder of this test's own."""
    monkeypatch.delenv(calibration.ENV_FORCE, raising=False)
    monkeypatch.setenv(calibration.ENV_CACHE, str(tmp_path / "cache"))
    calibration._memo.clear()
    yield tmp_path / "cache" / calibration.CACHE_NAME
    calibration._memo.clear()


class FakeClock:
    """A timer that only the fake encoders move: each call costs its precision's seconds."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_encoders(clock: FakeClock, seconds: dict[str, float], noise: dict[str, float], calls: list[str]):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(16, 8)).astype(np.float32)

    def make(precision):
        calls.append(f"load {precision}")
        drift = np.random.default_rng(1).normal(size=base.shape).astype(np.float32) * noise[precision]

        def encode(texts):
            calls.append(f"encode {precision}")
            clock.now += seconds[precision]
            return base + drift
        return encode
    return make


def test_the_fastest_precision_that_keeps_the_cosine_wins_with_a_fake_timer():
    clock, calls = FakeClock(), []
    seconds = {"fp32": 4.0, "bf16": 1.0, "int8": 0.5}
    noise = {"fp32": 0.0, "bf16": 0.01, "int8": 0.5}  # int8: fastest, but its features drift
    measured = calibration.measure(fake_encoders(clock, seconds, noise, calls), ("fp32", "bf16", "int8"),
                                   ["t"] * 16, rounds=2, timer=clock)
    assert measured["fp32"]["cosine_min"] == pytest.approx(1.0)
    assert measured["bf16"]["cosine_min"] >= 0.999 > measured["int8"]["cosine_min"]
    assert measured["fp32"]["texts_per_second"] == pytest.approx(4.0)  # 16 texts / 4 s
    assert measured["bf16"]["texts_per_second"] == pytest.approx(16.0)
    assert measured["int8"]["texts_per_second"] is None  # refused by its cosine: never timed
    assert calls.count("encode int8") == 1 and calls.count("encode bf16") == 3  # warm-up + 2 rounds
    assert calibration.choose(measured) == "bf16"


def test_a_candidate_that_cannot_run_on_the_model_is_skipped_not_fatal():
    clock, calls = FakeClock(), []
    make = fake_encoders(clock, {"fp32": 4.0, "bf16": 1.0}, {"fp32": 0.0, "bf16": 0.0}, calls)

    def make_or_fail(precision):
        if precision == "onnx-fp32":
            raise RuntimeError("this architecture does not export")
        return make(precision)

    measured = calibration.measure(make_or_fail, ("fp32", "onnx-fp32", "bf16"), ["t"] * 16, rounds=1, timer=clock)
    assert set(measured) == {"fp32", "bf16"} and calibration.choose(measured) == "bf16"
    with pytest.raises(RuntimeError, match="does not export"):  # fp32, the reference, may not fail
        calibration.measure(lambda precision: make_or_fail("onnx-fp32"), ("fp32",), ["t"], rounds=1, timer=clock)


def test_choose_keeps_fp32_unless_another_is_clearly_faster_and_close_enough():
    def m(speed, cosine=1.0):
        return {"texts_per_second": speed, "cosine_min": cosine}

    assert calibration.choose({"fp32": m(100), "bf16": m(104, 0.9999)}) == "fp32"  # under MIN_GAIN
    assert calibration.choose({"fp32": m(100), "bf16": m(350, 0.9999)}) == "bf16"
    assert calibration.choose({"fp32": m(100), "bf16": m(350, 0.998)}) == "fp32"  # below the threshold
    assert calibration.choose({"fp32": m(100), "bf16": m(350, 0.9995), "int8": m(500, 0.9999)}) == "int8"
    assert calibration.choose({"fp32": m(100), "bf16": m(350, 0.9995), "int8": m(500, 0.99)}) == "bf16"
    assert calibration.choose({"fp32": m(100), "bf16": m(0.0 or None, 0.9999)}) == "fp32"


def subject(name="m", files=None):
    return calibration.Subject(name=name, transformer=__import__("pathlib").Path("/nowhere"),
                               files=files or {"model.safetensors": "a" * 64},
                               settings={"pooling": "mean", "normalize": True, "max_length": 128, "layers": "last"})


def test_the_calibration_is_cached_per_machine_and_model(cache, monkeypatch):
    runs = []

    def fake(subj, device):
        runs.append(subj.name)
        return {"choice": "bf16", "source": "calibration",
                "candidates": {"fp32": {"texts_per_second": 10.0, "cosine_min": 1.0},
                               "bf16": {"texts_per_second": 30.0, "cosine_min": 0.9999}}}

    assert calibration.auto_precision(subject(), "cpu", calibrate_with=fake) == "bf16"
    calibration._memo.clear()  # a new process: read from the file
    assert calibration.auto_precision(subject(), "cpu", calibrate_with=fake) == "bf16"
    assert runs == ["m"]
    data = json.loads(cache.read_text())
    (entry,) = data["entries"].values()
    assert entry["choice"] == "bf16" and entry["machine"]["device"] == "cpu" and entry["model"]["files"]
    assert calibration.auto_precision(subject("other", {"model.safetensors": "b" * 64}), "cpu",
                                      calibrate_with=fake) == "bf16"
    assert runs == ["m", "other"]  # another model: calibrated
    other_cpu = {**calibration.machine("cpu"), "cpu": "Some Other CPU", "flags": ["avx2"]}
    monkeypatch.setattr(calibration, "machine", lambda device: other_cpu)
    calibration._memo.clear()
    calibration.auto_precision(subject(), "cpu", calibrate_with=fake)
    assert runs == ["m", "other", "m"]  # another machine: calibrated
    assert len(json.loads(cache.read_text())["entries"]) == 3


def test_a_damaged_cache_file_is_calibrated_again(cache):
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    runs = []
    choice = calibration.auto_precision(subject(), "cpu",
                                        calibrate_with=lambda s, d: runs.append(1) or {"choice": "fp32"})
    assert choice == "fp32" and runs == [1]
    assert json.loads(cache.read_text())["version"] == calibration.CACHE_VERSION


def test_the_environment_forces_auto_without_calibrating(cache, monkeypatch):
    monkeypatch.setenv(calibration.ENV_FORCE, "bf16")
    assert calibration.auto_precision(subject(), "cpu", calibrate_with=lambda s, d: 1 / 0) == "bf16"
    assert not cache.exists()
    monkeypatch.setenv(calibration.ENV_FORCE, "fp8")
    with pytest.raises(ConfigError, match="fp8 is not a precision"):
        calibration.auto_precision(subject(), "cpu")


def test_the_identity_resolves_auto_to_the_calibrated_precision(cache, monkeypatch):
    monkeypatch.setattr(calibration, "calibrate", lambda subj, device: {"choice": "bf16", "source": "test"})
    auto = make_featurizer("minilm", {"device": "cpu"})
    assert auto.resolved()["precision"] == "bf16"
    assert featurizer_id(auto) == featurizer_id(make_featurizer("minilm", {"device": "cpu", "precision": "bf16"}))
    assert auto.identity()["params"]["precision"] == "bf16"  # never "auto" in an identity
    assert featurizer_id(make_featurizer("minilm", {"precision": "fp32"})) == "minilm-c8048f7b9aea"


def test_record_and_forget(cache, monkeypatch):
    monkeypatch.setattr(calibration, "calibrate", lambda subj, device: {"choice": "fp32", "source": "test"})
    minilm = make_featurizer("minilm", {"device": "cpu"})
    subj = minilm.precision_subject()
    calibration.record(subj, "cpu", "int8", "a test")
    calibration._memo.clear()
    assert make_featurizer("minilm", {"device": "cpu"}).resolved()["precision"] == "int8"
    assert calibration.forget(subj, "cpu")
    assert make_featurizer("minilm", {"device": "cpu"}).resolved()["precision"] == "fp32"
    with pytest.raises(ConfigError, match="does not run on cpu"):
        calibration.record(subj, "cpu", "fp16", "a test")


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_featurize_precision_bf16_then_experiment_reuses_those_features(cache, tiny_workspace, monkeypatch):
    def no_calibration(subj, device):
        raise AssertionError("--precision bf16 is recorded: nothing calibrates")

    monkeypatch.setattr(calibration, "calibrate", no_calibration)
    write_config(tiny_workspace, "prec", """
        datasets = ["Tiny"]
        featurizers = ["minilm"]
        targets = ["logreg"]
        train_sizes = [16]
        resamples = 1
        metrics = ["accuracy"]
    """)
    ran = enso("featurize", "prec", "--precision", "bf16", "--device", "cpu", root=tiny_workspace)
    assert ran.code == 0, ran.output
    assert "is now bf16 on this machine" in ran.stderr
    manifests = sorted(tiny_workspace.featurizers.rglob("manifest.json"))
    assert len(manifests) == 1
    assert json.loads(manifests[0].read_text())["params"]["precision"] == "bf16"
    before = {p: p.stat().st_mtime_ns for p in tiny_workspace.featurizers.rglob("*") if p.is_file()}
    calibration._memo.clear()  # as a new process would
    ran = enso("experiment", "prec", "--jobs", "1", root=tiny_workspace)
    assert ran.code == 0, ran.output
    after = {p: p.stat().st_mtime_ns for p in tiny_workspace.featurizers.rglob("*") if p.is_file()}
    assert after == before  # the bf16 features were read, nothing recomputed
    run = json.loads((tiny_workspace.results_dir("prec") / "run.json").read_text())
    (info,) = run["featurizers"].values()
    assert info["precision"] == "bf16" and info["id"] == "minilm-e873ba527229"


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_featurize_precision_keeps_an_explicit_precision_in_the_config(cache, tiny_workspace, monkeypatch):
    monkeypatch.setattr(calibration, "calibrate", lambda subj, device: {"choice": "fp32", "source": "test"})
    write_config(tiny_workspace, "explicit", """
        datasets = ["Tiny"]
        featurizers = [{ name = "minilm", precision = "fp32" }]
        targets = ["logreg"]
    """)
    ran = enso("featurize", "explicit", "--precision", "bf16", "--device", "cpu", root=tiny_workspace)
    assert ran.code == 0, ran.output
    assert "keeps it" in ran.stderr and not cache.exists()
    (manifest,) = tiny_workspace.featurizers.rglob("manifest.json")
    assert json.loads(manifest.read_text())["params"]["precision"] == "fp32"


@pytest.mark.slow  # loads MiniLM three times and times it
def test_real_calibration_of_minilm_on_this_machine(cache):
    minilm = make_featurizer("minilm", {"device": "cpu"})
    entry = calibration.calibrate(minilm.precision_subject(), "cpu", rounds=1)
    measured = entry["candidates"]
    assert set(measured) == set(calibration.candidates("cpu"))  # onnx-fp32 too where onnxruntime is installed
    assert measured["fp32"]["cosine_min"] == pytest.approx(1.0, abs=1e-6)
    assert entry["choice"] in measured
    assert measured[entry["choice"]]["cosine_min"] >= calibration.THRESHOLD


def test_protocols_that_reproduce_published_numbers_pin_auto_to_fp32(cache, monkeypatch):
    """mteb and senteval reproduce numbers computed on fp32 features: under them auto is fp32, calibration or not."""
    from enso.engine import runner
    from enso.engine.plan import resolve_featurizer_ids
    from enso.protocols.base import feature_precision

    monkeypatch.setattr(calibration, "calibrate", lambda subj, device: {"choice": "bf16", "source": "test"})

    class Config:
        def __init__(self, protocol):
            self.protocol = protocol

    assert feature_precision(Config("mteb")) == feature_precision(Config("senteval")) == "fp32"
    assert feature_precision(Config("enso")) is None
    assert calibration.auto_precision(subject(), "cpu") == "bf16"
    with calibration.pinned("fp32"):
        assert calibration.auto_precision(subject(), "cpu") == "fp32"
        assert make_featurizer("minilm", {"device": "cpu"}).resolved()["precision"] == "fp32"
    assert calibration.auto_precision(subject(), "cpu") == "bf16"  # the pin ends with its block

    seen = []
    monkeypatch.setattr(runner, "_run_experiment",
                        lambda config, workspace, **kw: seen.append(calibration._pinned[-1:]) or "done")
    assert runner.run_experiment(Config("mteb"), None) == "done"
    assert runner.run_experiment(Config("enso"), None) == "done"
    assert seen == [["fp32"], []]
    from enso.config import Spec

    class Full(Config):
        featurizers = [Spec("minilm", {"device": "cpu"})]

    with calibration.pinned(feature_precision(Full("mteb"))):
        (fid,) = resolve_featurizer_ids(Full("mteb"), "cpu").values()
    assert fid == "minilm-c8048f7b9aea"  # the fp32 id every earlier MTEB run was keyed by
