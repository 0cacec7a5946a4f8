"""Fast tier: the experiment plumbing on tiny in-memory datasets (tests/tiny.py).

Resume after a run killed with SIGKILL, the dry run, reuse of finished cells and the recompute
of a damaged one, and all four stages through ``enso run`` (the experiment lock and the reuse
policies: tests/test_engine_lock.py). The real-data versions of these (tests/test_engine_*.py)
check the same on real benchmarks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pandas as pd
import pytest

from tests.cli import enso, start
from tests.tiny import write_config

KEYS = ["dataset", "featurizer", "target", "sampler", "resampler", "train_size", "resample", "metric"]
MANY = """
datasets = ["Tiny", "Tiny3"]
featurizers = ["tfidf"]
targets = ["logreg", "knn"]
train_sizes = [8, 16]
resamples = 4
metrics = ["accuracy", "macro_f1"]
"""
CELLS = 2 * 2 * 2 * 4
ONE = """
datasets = ["Tiny"]
featurizers = ["tfidf"]
targets = ["knn"]
train_sizes = [8]
resamples = 2
metrics = ["accuracy"]
"""


def finished_cells(workspace, name):
    return sorted(p.parent for p in (workspace.results_dir(name) / "cells").glob("*/*/manifest.json"))


def table(workspace, name) -> pd.DataFrame:
    frame = pd.read_parquet(workspace.results_dir(name) / "results.parquet")
    return frame.drop(columns=["seconds", "fit_seconds", "predict_seconds"]).sort_values(KEYS).reset_index(drop=True)


def run_info(workspace, name) -> dict:
    return json.loads((workspace.results_dir(name) / "run.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """A tiny workspace where experiment ``many`` ran once, and its table (read-only: tests copy it)."""
    from tests.tiny import tiny_workspace

    workspace = tiny_workspace(tmp_path_factory.mktemp("done") / "ws")
    write_config(workspace, "many", MANY)
    ran = enso("experiment", "many", root=workspace)
    assert ran.code == 0, ran.output
    return workspace, table(workspace, "many")


@pytest.fixture
def many(done, tmp_path):
    """A copy of the ``done`` workspace to change."""
    from enso.workspace import Workspace

    shutil.copytree(done[0].root, tmp_path / "ws", symlinks=True)
    return Workspace(tmp_path / "ws")


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_dry_run_prints_the_plan_and_writes_nothing(many):
    write_config(many, "fresh", MANY)
    fresh = enso("experiment", "fresh", "--dry-run", root=many)
    assert fresh.code == 0, fresh.output
    assert f"{CELLS} cells, 0 done, {CELLS} to run" in fresh.stdout and "estimated time" in fresh.stdout
    assert f"Tiny3 x tfidf x knn: {CELLS // 4} cells, {CELLS // 4} to run" in fresh.stdout
    assert not many.results_dir("fresh").exists()

    again = enso("experiment", "many", "--dry-run", root=many)
    assert again.code == 0 and f"{CELLS} cells, {CELLS} done, 0 to run" in again.stdout, again.output


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_finished_cells_are_reused_and_a_damaged_one_is_recomputed_alone(many, done):
    first = done[1]
    assert len(first) == CELLS * 2 and not first.duplicated(KEYS).any()
    manifests = [cell / "manifest.json" for cell in finished_cells(many, "many")]
    assert len(manifests) == CELLS
    stamps = {p: p.stat().st_mtime_ns for p in manifests}

    again = enso("experiment", "many", root=many)
    assert again.code == 0 and f"{CELLS} already done, 0 to run" in again.stderr, again.output
    assert {p: p.stat().st_mtime_ns for p in manifests} == stamps

    torn = manifests[5].parent / "cell.json"
    torn.write_text(torn.read_text(encoding="utf-8")[:40], encoding="utf-8")
    assert enso("experiment", "many", root=many).code == 0
    cells = run_info(many, "many")["cells"]
    assert cells["computed"] == 1 and cells["done_before"] == CELLS - 1
    pd.testing.assert_frame_equal(table(many, "many"), first)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_run_killed_with_sigkill_resumes_with_only_the_missing_cells(many, done):
    expected = done[1]
    write_config(many, "killed", MANY)

    process = start("experiment", "killed", root=many, stdout=open(os.devnull, "w"),  # noqa: SIM115
                    stderr=open(os.devnull, "w"), start_new_session=True)  # noqa: SIM115
    deadline = time.monotonic() + 120
    try:
        while len(finished_cells(many, "killed")) < 2:
            assert process.poll() is None, "the run ended before it could be killed; give it more cells"
            assert time.monotonic() < deadline, "no cell finished in 120 s"
            time.sleep(0.005)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the run and any worker, with no chance to clean up
        process.wait()
    kept = len(finished_cells(many, "killed"))
    assert 2 <= kept < CELLS, kept
    assert not (many.results_dir("killed") / "results.parquet").exists()

    resumed = enso("experiment", "killed", root=many)  # the killed holder's lock is gone with it
    assert resumed.code == 0, resumed.output
    assert run_info(many, "killed")["cells"] == {"cells": CELLS, "done_before": kept, "computed": CELLS - kept,
                                                 "failed": 0}
    assert not list((many.results_dir("killed") / "cells").glob("*/.tmp-*"))
    got = table(many, "killed").drop(columns=["experiment"], errors="ignore")
    pd.testing.assert_frame_equal(got, expected.drop(columns=["experiment"], errors="ignore"))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_enso_run_does_all_four_stages_and_a_second_run_reuses_everything(tiny_workspace):
    write_config(tiny_workspace, "one", ONE)
    ran = enso("run", "one", "--format", "svg", root=tiny_workspace)
    assert ran.code == 0, ran.output
    folder = tiny_workspace.results_dir("one")
    assert f"report:  {folder / 'report.html'}" in ran.stdout
    assert len(pd.read_parquet(folder / "results.parquet")) == 2
    figures = [line.split(":", 1)[1].strip() for line in ran.stdout.splitlines() if line.startswith("figure:")]
    assert figures and all(os.path.getsize(path) > 1000 for path in figures)
    drawn = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.suffix in (".svg", ".html", ".md")}
    again = enso("run", "one", "--format", "svg", root=tiny_workspace)
    assert again.code == 0 and "2 already done, 0 to run" in again.stderr, again.output
    assert "computing" not in again.stderr and "up to date" in again.stderr, again.stderr
    assert {name: (folder / name).stat().st_mtime_ns for name in drawn} == drawn  # the report is up to date
