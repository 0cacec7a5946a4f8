"""``python -m enso.visualize``: options, output, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from enso.visualize import main

from tests.report_helpers import make_results, write_results

NAME = "report-test"


@pytest.fixture
def root(tmp_path, shared_datasets):
    write_results(make_results(shared_datasets, NAME), tmp_path / "results" / NAME)
    (tmp_path / "experiments").mkdir()
    return tmp_path


def test_help_is_complete_and_fast():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "enso.visualize", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--format", "--datasets", "--featurizers", "--targets", "--metric", "--lines", "--rows",
                   "--cols", "--size", "--alpha", "--holm-family", "--root", "--verbose", "--quiet"):
        assert option in result.stdout, option
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"matplotlib", "pandas", "scipy", "enso.report"}  # heavy imports wait for work


@pytest.mark.slow
def test_visualize_writes_the_report_and_prints_where(root):
    result = CliRunner().invoke(main, [NAME, "--root", str(root), "--format", "svg", "--datasets", "TREC",
                                       "--metric", "accuracy", "--lines", "target", "--cols", "featurizer",
                                       "--size", "50", "-q"])
    assert result.exit_code == 0, result.output
    folder = root / "results" / NAME
    assert f"report:  {folder / 'report.html'}" in result.output
    printed = [line.split(":", 1)[1].strip() for line in result.output.splitlines() if line.startswith("figure:")]
    assert sorted(p.rsplit("/", 1)[1] for p in printed) == [
        "bars_50.svg", "learning_curves.svg", "optimizer_accuracy.svg", "targets_by_featurizer_accuracy.svg",
        "variance.svg"]
    for path in printed:
        assert (folder / path.rsplit("/", 1)[1]).stat().st_size > 10_000
    html = (folder / "report.html").read_text()
    assert "featurizer" in html and "TREC" in html and "SST2" not in html.split("Learning curves", 1)[1]


@pytest.mark.slow
@pytest.mark.parametrize("args, code, message", [
    (["nothing"], 2, "nothing.toml not found"),
    ([NAME, "--featurizers", "glove"], 2, "unknown featurizer (not in these results) 'glove'"),
    ([NAME, "--format", "gif"], 2, "Invalid value for '--format'"),
    ([NAME, "--rows", "colour"], 2, "unknown dimension 'colour'"),
    ([NAME, "--size", "7"], 2, "--size 7 is not a training size in these results (sizes: 20, 50, 150)"),
])
def test_bad_input_is_one_clear_line_and_an_exit_code(root, args, code, message):
    result = CliRunner().invoke(main, [*args, "--root", str(root)])
    assert result.exit_code == code
    assert message in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1
    assert not (root / "results" / NAME / "report.html").exists()


def test_enso_visualize_is_the_same_command(root):
    from enso.cli import main as enso

    result = CliRunner().invoke(enso, ["visualize", "--help"])
    assert result.exit_code == 0 and "--holm-family" in result.output


@pytest.mark.slow
def test_results_that_do_not_verify_are_one_error_line_and_no_report(root):
    folder = root / "results" / NAME
    data = bytearray((folder / "results.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "results.parquet").write_bytes(bytes(data))
    result = CliRunner().invoke(main, [NAME, "--root", str(root)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "results.parquet does not match results.manifest.json" in errors[0]
    assert "Traceback" not in result.output and not (folder / "report.html").exists()


CHILD = """
import sys, time
from enso.report import figures
from enso.store import atomic_path

def stuck(fig, path, fmt):  # a figure half written when the process is killed
    with atomic_path(path) as temp:
        temp.write_bytes(b"half a figure")
        print("WRITING", flush=True)
        time.sleep(600)

figures.save = stuck
from enso.visualize import main
main([sys.argv[1], "--root", sys.argv[2], "-q"])
"""


@pytest.mark.slow
def test_a_killed_visualize_leaves_nothing_after_the_next_run(root):
    import os
    import signal

    folder = root / "results" / NAME
    child = subprocess.Popen([sys.executable, "-c", CHILD, NAME, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "WRITING"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    left = [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")]
    assert left and left[0].startswith(".tmp-learning_curves.png-")
    result = CliRunner().invoke(main, [NAME, "--root", str(root), "--datasets", "TREC", "--metric", "accuracy", "-q"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in folder.iterdir() if p.name.startswith((".tmp-", ".old-"))] == []
