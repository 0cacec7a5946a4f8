"""Worker processes, a Dask cluster, and a run killed with SIGKILL: same numbers, nothing lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from enso.config import load_config
from enso.engine import run_experiment
from tests.engine_helpers import (
    CELL_KEYS,
    child_workspace,
    comparable,
    shared_engine_root,
    write_config,
)

pytestmark = pytest.mark.slow

engine_root_fixture = pytest.fixture(scope="session", name="engine_root")(shared_engine_root)

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
def serial(engine_root, tmp_path_factory):
    workspace = child_workspace(engine_root, tmp_path_factory.mktemp("serial") / "ws")
    table = run_experiment(load_config(write_config(workspace, "serial", SMALL)), workspace)
    return workspace, table


def same_numbers(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(comparable(a).drop(columns="experiment"), comparable(b).drop(columns="experiment"))


def test_worker_processes_give_the_serial_numbers(serial, tmp_path, engine_root):
    workspace = child_workspace(engine_root, tmp_path / "ws")
    table = run_experiment(load_config(write_config(workspace, "parallel", SMALL)), workspace, jobs=2)
    assert len(table) == 2 * 3 * 2 * 2 * 3
    same_numbers(table, serial[1])
    info = json.loads((workspace.results_dir("parallel") / "run.json").read_text())
    assert info["jobs"] == 2 and info["blas_threads_per_worker"] == 1


def test_a_dask_cluster_gives_the_serial_numbers(serial, tmp_path, engine_root):
    from distributed import LocalCluster

    workspace = child_workspace(engine_root, tmp_path / "ws")
    config = load_config(write_config(workspace, "dask", SMALL))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        table = run_experiment(config, workspace, scheduler=cluster.scheduler_address)
    same_numbers(table, serial[1])
    info = json.loads((workspace.results_dir("dask") / "run.json").read_text())
    assert info["scheduler"].startswith("tcp://")


def test_an_unreachable_scheduler_is_a_clear_error(serial, tmp_path, engine_root, monkeypatch):
    from enso.engine import executors
    from enso.errors import EnsoError

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "2s")
    workspace = child_workspace(engine_root, tmp_path / "ws")
    config = load_config(write_config(workspace, "nowhere", SMALL))
    with pytest.raises(EnsoError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_experiment(config, workspace, scheduler="tcp://127.0.0.1:9")
    bad = subprocess.run([sys.executable, "-m", "enso.experiment", "nowhere", "--scheduler", "localhost",
                          "--root", str(workspace.root)], capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "tcp://HOST:PORT" in bad.stderr


KILLED = """
datasets = ["TREC"]
featurizers = [{ name = "tfidf", ngram_max = 1 }]
targets = [{ name = "logreg", C = 1.0 }]
train_sizes = [20, 40, 60, 80, 100, 150]
resamples = 10
metrics = ["accuracy", "macro_f1"]
max_examples = 1500
"""


def test_a_run_killed_with_sigkill_resumes_with_only_the_missing_cells(tmp_path, engine_root):
    workspace = child_workspace(engine_root, tmp_path / "ws")
    write_config(workspace, "killed", KILLED)
    cells = workspace.results_dir("killed") / "cells"
    command = [sys.executable, "-m", "enso.experiment", "killed", "--jobs", "2", "--root", str(workspace.root)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
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

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((workspace.results_dir("killed") / "run.json").read_text())
    assert info["cells"] == {"cells": 60, "done_before": kept, "computed": 60 - kept, "failed": 0}
    table = pd.read_parquet(workspace.results_dir("killed") / "results.parquet")
    assert len(table) == 120 and not table.duplicated(CELL_KEYS).any()
    assert not list(cells.glob("*/.tmp-*")), "temporary folders of the killed run are cleaned up"

    fresh = run_experiment(load_config(workspace.experiments / "killed.toml"), workspace, force=True, jobs=2)
    pd.testing.assert_frame_equal(comparable(fresh), comparable(table))
