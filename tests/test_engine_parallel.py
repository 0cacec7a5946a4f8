"""Worker processes, a Dask cluster, and a run killed with SIGKILL: same numbers, nothing lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from enso.components import load_config
from enso.engine import run_experiment
from enso.store import Reuse
from tests.cli import enso_process, start
from tests.conftest import linked_workspace
from tests.engine_helpers import CELL_KEYS, comparable
from tests.tiny import write_config

pytestmark = pytest.mark.slow

SMALL = """
datasets = ["SST2", "TREC"]
featurizers = ["tfidf"]
targets = [{ name = "logreg", Cs = [0.1, 10.0] }, "knn", { name = "mlp", hidden = 32, max_epochs = 20 }]
train_sizes = [30, 120]
resamples = 2
metrics = ["accuracy", "macro_f1", "roc_auc"]
max_examples = 600
"""


@pytest.fixture(scope="module")
def serial(real_root, tmp_path_factory):
    workspace = linked_workspace(real_root, tmp_path_factory.mktemp("serial") / "ws")
    table = run_experiment(load_config(write_config(workspace, "serial", SMALL), workspace), workspace)
    return workspace, table


def same_numbers(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(comparable(a).drop(columns="experiment"), comparable(b).drop(columns="experiment"))


def test_worker_processes_give_the_serial_numbers(serial, real_workspace, monkeypatch):
    from enso.engine import executors

    # every cell in a worker process (tests/test_engine_executors.py checks cells shared with this one)
    monkeypatch.setattr(executors, "PARENT_RUNS_CELLS", False)
    workspace = real_workspace
    table = run_experiment(load_config(write_config(workspace, "parallel", SMALL), workspace), workspace, jobs=2)
    assert len(table) == 2 * 3 * 2 * 2 * 3
    same_numbers(table, serial[1])
    info = json.loads((workspace.results_dir("parallel") / "run.json").read_text())
    assert info["jobs"] == 2 and info["blas_threads_per_worker"] == 1


def test_a_dask_cluster_gives_the_serial_numbers(serial, real_workspace):
    from distributed import LocalCluster

    workspace = real_workspace
    config = load_config(write_config(workspace, "dask", SMALL), workspace)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        table = run_experiment(config, workspace, scheduler=cluster.scheduler_address)
    same_numbers(table, serial[1])
    info = json.loads((workspace.results_dir("dask") / "run.json").read_text())
    assert info["scheduler"].startswith("tcp://")


def test_an_unreachable_scheduler_is_a_clear_error(serial, real_workspace, monkeypatch):
    from enso.engine import executors
    from enso.errors import EnsoError

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "2s")
    workspace = real_workspace
    config = load_config(write_config(workspace, "nowhere", SMALL), workspace)
    with pytest.raises(EnsoError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_experiment(config, workspace, scheduler="tcp://127.0.0.1:9")
    bad = enso_process("experiment", "nowhere", "--scheduler", "localhost", root=workspace, timeout=120)
    assert bad.code == 2 and "tcp://HOST:PORT" in bad.stderr


KILLED = """
datasets = ["TREC"]
featurizers = [{ name = "tfidf", ngram_max = 1 }]
targets = [{ name = "logreg", C = 1.0 }]
train_sizes = [20, 40, 60, 80, 100, 150]
resamples = 10
metrics = ["accuracy", "macro_f1"]
max_examples = 1500
"""


def test_a_run_killed_with_sigkill_resumes_with_only_the_missing_cells(real_workspace):
    workspace = real_workspace
    write_config(workspace, "killed", KILLED)
    cells = workspace.results_dir("killed") / "cells"
    args = ("experiment", "killed", "--jobs", "2")
    process = start(*args, root=workspace, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True)
    deadline = time.monotonic() + 180
    while len(list(cells.glob("*/*/manifest.json"))) < 8:
        assert process.poll() is None, "the run ended before it could be killed; make it longer"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # the run and its workers, with no chance to clean up
    process.wait()
    kept = len(list(cells.glob("*/*/manifest.json")))
    assert 8 <= kept < 60
    assert not (workspace.results_dir("killed") / "results.parquet").exists()

    resumed = enso_process(*args, root=workspace)
    assert resumed.code == 0, resumed.stderr
    info = json.loads((workspace.results_dir("killed") / "run.json").read_text())
    assert info["cells"] == {"cells": 60, "done_before": kept, "computed": 60 - kept, "failed": 0}
    table = pd.read_parquet(workspace.results_dir("killed") / "results.parquet")
    assert len(table) == 120 and not table.duplicated(CELL_KEYS).any()
    assert not list(cells.glob("*/.tmp-*")), "temporary folders of the killed run are cleaned up"

    fresh = run_experiment(load_config("killed", workspace), workspace, reuse=Reuse.RECOMPUTE, jobs=2)
    pd.testing.assert_frame_equal(comparable(fresh), comparable(table))
