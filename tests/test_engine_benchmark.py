"""The speed benchmark: its default grid is the default experiment's, and it runs end to end on a tiny grid with
its sides agreeing (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow  # imports the benchmark (pandas) and scikit-learn: seconds on 2 busy cores
def test_the_default_grid_is_the_default_experiments_logreg_cells():
    import importlib.util
    import tomllib

    spec = importlib.util.spec_from_file_location("benchmark_experiment", REPO / "benchmarks" / "experiment.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    from enso.targets.linear import DEFAULT_CS, LogReg

    default = tomllib.loads((REPO / "experiments" / "default.toml").read_text(encoding="utf-8"))
    args = benchmark.parse_args([])
    assert args.datasets.split(",") == default["datasets"]
    assert args.featurizers.split(",") == [f if isinstance(f, str) else f["name"] for f in default["featurizers"]]
    assert [int(s) for s in args.sizes.split(",")] == default["train_sizes"]
    assert (args.resamples, args.seed, args.max_examples) == (default["resamples"], default.get("seed", 0), None)
    assert "logreg" in default["targets"] and benchmark.C_GRID == list(DEFAULT_CS) and LogReg().cv == 3


@pytest.mark.slow
@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
def test_benchmark_compares_enso_with_a_plain_loop_on_the_same_cells(mirror_url, tmp_path):
    out = tmp_path / "benchmark.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "experiment.py"), "--root", str(tmp_path), "--mirror", mirror_url,
         "--datasets", "SST2,TREC", "--featurizers", "tfidf", "--sizes", "30,60", "--resamples", "1", "--jobs", "1",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert "grid: 4 cells" in done.stdout and "agreement check: PASS" in done.stdout
    measured = json.loads(out.read_text())
    assert measured["cells"] == 4 and measured["plain_seconds"] > 0 and measured["enso_seconds"] > 0
    assert measured["same_accuracy"] >= 3
