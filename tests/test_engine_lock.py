"""The experiment lock (filelock) and the reuse policy of run_experiment, on tiny in-memory datasets (fast tier)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from enso.components import load_config
from enso.engine import run_experiment
from enso.engine.lock import experiment_lock
from enso.errors import EnsoError
from enso.store import Reuse


def cells_of(workspace, name="tiny"):
    return sorted(p.parent for p in (workspace.results_dir(name) / "cells").glob("*/*/manifest.json"))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_cells_are_written_under_the_experiment_lock_with_no_lock_file_beside_each(tiny_workspace):
    run_experiment(load_config("tiny", tiny_workspace), tiny_workspace)
    cells = tiny_workspace.results_dir("tiny") / "cells"
    assert len(cells_of(tiny_workspace)) == 16
    assert sorted(p.name for p in cells.rglob("*.lock")) == [], "one lock covers the cells: no <key>.lock"


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_lock_files_of_cells_from_an_engine_that_locked_each_cell_are_removed(tiny_workspace):
    config = load_config("tiny", tiny_workspace)
    run_experiment(config, tiny_workspace)
    stale = [cell.parent / f"{cell.name}.lock" for cell in cells_of(tiny_workspace)]
    for path in stale:
        path.write_text("")  # what write_artifact's own lock left beside every cell before
    run_experiment(config, tiny_workspace)
    assert not any(path.exists() for path in stale)
    assert len(cells_of(tiny_workspace)) == 16, "the cells themselves stay"


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_held_experiment_lock_refuses_a_second_run_and_names_its_holder(tiny_workspace):
    config = load_config("tiny", tiny_workspace)
    results = tiny_workspace.results_dir("tiny")
    with experiment_lock(results, "tiny"):
        with pytest.raises(EnsoError, match=r"experiment 'tiny' is already running \(pid \d+ on .*, since "):
            run_experiment(config, tiny_workspace)
        code = ("import sys; from pathlib import Path; from enso.engine.lock import experiment_lock\n"
                "with experiment_lock(Path(sys.argv[1]), 'tiny'): pass")
        other = subprocess.run([sys.executable, "-c", code, str(results)],
                               capture_output=True, text=True, timeout=120, check=False)
        assert other.returncode != 0 and "already running" in other.stderr, "another process is refused too"
    assert not cells_of(tiny_workspace)
    run_experiment(config, tiny_workspace)  # released with its holder
    assert len(cells_of(tiny_workspace)) == 16


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_import_enso_engine_needs_no_fcntl():
    """fcntl exists on Unix only; the lock used it directly, so `import enso.engine` failed on Windows."""
    code = ("import sys; sys.modules['fcntl'] = None\n"  # what a platform without fcntl gives: ImportError
            "import enso.engine, enso.engine.lock\n"
            "import tempfile, pathlib\n"
            "with enso.engine.lock.experiment_lock(pathlib.Path(tempfile.mkdtemp()), 'x'): print('locked')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "locked"


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_only_cached_computes_nothing_and_says_what_is_missing_in_one_line(tiny_workspace):
    config = load_config("tiny", tiny_workspace)
    with pytest.raises(EnsoError) as missing:
        run_experiment(config, tiny_workspace, reuse=Reuse.ONLY_CACHED)
    message = str(missing.value)
    assert "\n" not in message and "16 of 16 cells of experiment 'tiny'" in message
    assert "`enso experiment tiny`" in message
    assert not cells_of(tiny_workspace) and not (tiny_workspace.root / "featurizers").exists()
    table = run_experiment(config, tiny_workspace)
    again = run_experiment(config, tiny_workspace, reuse="only-cached")
    pd.testing.assert_frame_equal(again, table)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_recompute_fits_every_cell_again_to_the_same_numbers(tiny_workspace, monkeypatch):
    from enso.targets import TARGETS

    config = load_config("tiny", tiny_workspace)
    table = run_experiment(config, tiny_workspace)
    fits = []
    logreg = TARGETS.get("logreg")
    original = logreg.fit
    monkeypatch.setattr(logreg, "fit", lambda self, X, y, **kw: fits.append(len(y)) or original(self, X, y, **kw))
    run_experiment(config, tiny_workspace)
    assert fits == [], "reuse: nothing is fitted again"
    again = run_experiment(config, tiny_workspace, reuse=Reuse.RECOMPUTE)
    assert len(fits) == 8, "recompute: every logreg cell is fitted again"
    timing = ["seconds", "fit_seconds", "predict_seconds"]
    pd.testing.assert_frame_equal(again.drop(columns=timing), table.drop(columns=timing))
