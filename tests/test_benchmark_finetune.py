"""The fine-tuning benchmark's plumbing: enso's setfit target and the setfit library on the same samples.

A tiny seeded BERT folder and the tiny two-class dataset, one step per fit: it checks that both sides
run on the same cells and that the summary and JSON come out, not any accuracy or timing. The summary's
agreement rule is checked in-process (fast); the end-to-end run is in the slow tier (it imports setfit).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.test_targets_setfit import tiny_folder

sys.path.insert(0, str(REPO / "benchmarks"))


def test_summary_says_whether_means_agree_within_the_spread():
    from finetune import summarise

    rows = [{"train_size": 8, "enso": e, "setfit": s} for e, s in ((0.70, 0.72), (0.74, 0.70), (0.72, 0.75))]
    rows += [{"train_size": 16, "enso": e, "setfit": s} for e, s in ((0.90, 0.70), (0.91, 0.71), (0.90, 0.72))]
    lines, agree, by_size = summarise(rows, [8, 16])
    assert by_size[8]["agree"] and not by_size[16]["agree"] and not agree
    assert "agree" in lines[0] and "DISAGREE" in lines[1]
    assert by_size[16]["enso_mean"] == pytest.approx(0.9033, abs=1e-4)
    assert by_size[16]["paired_mean"] == pytest.approx(0.1933, abs=1e-4) and by_size[16]["enso_higher"] == 3
    assert by_size[8]["enso_higher"] == 1 and by_size[8]["setfit_higher"] == 2


@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
@pytest.mark.slow  # ~25 s on an idle 2-core machine (setfit's import alone is ~12 s), minutes under load
def test_benchmark_runs_both_sides_on_the_same_samples(tiny_workspace, tmp_path):
    if importlib.util.find_spec("setfit") is None:
        pytest.skip("setfit (the bench extra) is not installed")
    model = tiny_folder(tmp_path / "tiny-bert", weights=True)
    out = tmp_path / "finetune.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "finetune.py"), "--root", str(tiny_workspace.root),
         "--dataset", "Tiny", "--model", str(model), "--sizes", "4", "--resamples", "2", "--test-size", "8",
         "--max-steps", "1", "--threads", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "2 training samples" in done.stdout and "ratio (setfit / enso)" in done.stdout
    assert "agreement check:" in done.stdout
    measured = json.loads(out.read_text())
    assert len(measured["cells"]) == 2 and measured["test_rows"] == 8
    assert measured["enso_seconds"] > 0 and measured["setfit_seconds"] > 0
    assert {cell["resample"] for cell in measured["cells"]} == {0, 1}
    assert all(0 <= cell[side] <= 1 for cell in measured["cells"] for side in ("enso", "setfit"))
