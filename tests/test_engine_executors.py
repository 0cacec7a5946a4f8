"""Local worker processes: this process runs short cells until a worker is up, the numbers are the serial
ones, no worker is left behind.

With ``--jobs N`` the engine starts ``N`` spawn workers and, while none is up yet (a spawned
worker needs seconds of imports before its first cell), runs short cells in this process. Every
cell's predictions must be bit-identical wherever it ran.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from tests.tiny import write_config

pytestmark = pytest.mark.slow  # spawns a worker process (seconds of imports)

SWEEP = """
datasets = ["Tiny", "Tiny3"]
featurizers = ["tfidf"]
targets = ["logreg", "knn"]
train_sizes = [8, 16]
resamples = 3
metrics = ["accuracy"]
"""


def make_tasks(workspace):
    """Fresh worker tasks of SWEEP (a task run in this process is changed: each run gets its own)."""
    from enso.components import load_config
    from enso.engine import prepare
    from enso.engine.plan import build_plan
    from enso.engine.runner import load_datasets

    config = load_config(write_config(workspace, "executors", SWEEP), workspace)
    plan = build_plan(config, load_datasets(config, workspace))
    return prepare.make_tasks(plan, plan.cells, workspace, threads=1, jobs=2, device="cpu")


def predictions(results) -> dict[str, dict[str, np.ndarray]]:
    assert all("error" not in result for result in results), [r.get("error") for r in results]
    return {result["key"]: result["predictions"] for result in results}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            np.testing.assert_array_equal(a[key][name], b[key][name], err_msg=f"{key[:8]} {name}")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from tests.tiny import tiny_workspace

    return tiny_workspace(tmp_path_factory.mktemp("executors"))


@pytest.fixture(scope="module")
def serial(workspace):
    from enso.engine.executors import execute

    return predictions(list(execute(make_tasks(workspace), jobs=1)))


@pytest.mark.parametrize("parent_runs", [True, False], ids=["parent-and-worker", "worker-only"])
def test_cells_in_this_process_and_in_a_worker_give_the_serial_predictions(workspace, serial, monkeypatch,
                                                                           parent_runs):
    from enso.engine import executors

    monkeypatch.setattr(executors, "PARENT_RUNS_CELLS", parent_runs)
    tasks = make_tasks(workspace)
    results = list(executors.execute(tasks, jobs=2))
    pids = {result["pid"] for result in results}
    assert len(results) == len(tasks) == 24
    if parent_runs:
        assert os.getpid() in pids  # the sweep starts here while the workers import
    else:
        assert os.getpid() not in pids and 1 <= len(pids) <= 2  # jobs = 2 workers, this process none of them
    assert_same(predictions(results), serial)
    assert multiprocessing.active_children() == []  # the idle worker was stopped and reaped, not left running


def test_a_consumer_that_stops_reading_leaves_no_worker(workspace):
    from enso.engine.executors import execute

    results = execute(make_tasks(workspace), jobs=2)
    first = next(results)
    results.close()  # what a failing store or a signal does to the engine's loop
    assert "error" not in first
    assert multiprocessing.active_children() == []


def test_this_process_leaves_long_cells_to_the_workers(workspace, monkeypatch):
    """A long cell run here would keep this process from handing cells to workers that come up meanwhile
    (ner-full's three long cells ran one after another that way): only short ones run here."""
    from enso.engine import executors

    monkeypatch.setattr(executors, "PARENT_CELL_SECONDS", 0.0)  # every cell counts as long
    results = list(executors.execute(make_tasks(workspace), jobs=2))
    assert len(results) == 24 and os.getpid() not in {result["pid"] for result in results}
    assert multiprocessing.active_children() == []
