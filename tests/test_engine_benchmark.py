"""The speed benchmark runs end to end on a tiny grid and its two sides agree (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
def test_benchmark_compares_enso_with_a_plain_loop_on_the_same_cells(mirror_url, tmp_path):
    out = tmp_path / "benchmark.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "experiment.py"), "--root", str(tmp_path), "--mirror", mirror_url,
         "--featurizers", "tfidf", "--sizes", "30,60", "--resamples", "1", "--jobs", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert "grid: 4 cells" in done.stdout and "agreement check: PASS" in done.stdout
    measured = json.loads(out.read_text())
    assert measured["cells"] == 4 and measured["plain_seconds"] > 0 and measured["enso_seconds"] > 0
    assert measured["same_accuracy"] >= 3
