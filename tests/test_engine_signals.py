"""An experiment with worker processes, stopped by SIGKILL, SIGTERM or SIGINT: no worker outlives it.

The run is a real one (TREC, ``--jobs 2``: two worker processes, and the experiment process runs short
cells until one is up); workers are found through /proc as the children of the experiment process that run
multiprocessing's spawn entry point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli import start as start_enso
from tests.tiny import write_config

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")]

LONG = """
datasets = ["TREC"]
featurizers = [{ name = "tfidf", ngram_max = 1 }]
targets = [{ name = "logreg", Cs = [0.1, 1.0, 10.0], cv = 3 }]
train_sizes = [60, 120, 240, 480]
resamples = 40
metrics = ["accuracy"]
max_examples = 2000
"""


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], int(fields[19])


def workers_of(parent: int) -> dict[int, int]:
    """pid -> start time of the spawn workers whose parent is ``parent``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[0] != parent:
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in command:
            found[int(entry.name)] = stat[2]
    return found


def alive(workers: dict[int, int]) -> list[int]:
    """The workers still running (the same process, not a zombie, not a reused pid)."""
    out = []
    for pid, started in workers.items():
        stat = _stat(pid)
        if stat is not None and stat[1] != "Z" and stat[2] == started:
            out.append(pid)
    return out


def start(workspace, name: str):
    write_config(workspace, name, LONG)
    process = start_enso("experiment", name, "--jobs", "2", root=workspace, start_new_session=True)
    cells = workspace.results_dir(name) / "cells"
    deadline = time.monotonic() + 240
    while True:
        assert process.poll() is None, "the run ended before it could be stopped: " + process.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "no busy worker within 4 minutes"
        workers = workers_of(process.pid)
        if len(workers) >= 1 and any(not p.name.startswith(".") for p in cells.glob("*/*")):  # a cell is done
            return process, workers
        time.sleep(0.05)


def stop_and_check(process, workers, how: int) -> subprocess.CompletedProcess:
    try:
        os.kill(process.pid, how)
        process.wait(timeout=60)  # not communicate(): a surviving worker would hold the pipes open
        deadline = time.monotonic() + 10
        while alive(workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = alive(workers)
    finally:
        for pid in alive(workers):  # never leave a stray worker behind, whatever the test found
            os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    out, err = process.communicate(timeout=60)
    assert not survivors, f"workers {survivors} outlived their parent (signal {how})"
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.fixture
def ws(real_workspace):
    return real_workspace


def test_workers_die_with_a_parent_killed_by_sigkill(ws):
    process, workers = start(ws, "sigkill")
    done = stop_and_check(process, workers, signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL


@pytest.mark.parametrize("how, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_stop_the_workers_and_say_so_in_one_line(ws, how, code):
    process, workers = start(ws, f"stopped{how}")
    done = stop_and_check(process, workers, how)
    assert done.returncode == code, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and done.stderr.strip().splitlines()[-1] == errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "rerun" in errors[0]
