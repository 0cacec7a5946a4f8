"""``enso visualize``: options, output, exit codes, on the tiny in-memory results table (fast tier)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.cli import command, enso, process_env
from tests.report_helpers import make_tiny_results, write_results

NAME = "report-test"


@pytest.fixture
def root(tmp_path):
    write_results(make_tiny_results(NAME), tmp_path / "results" / NAME)
    (tmp_path / "experiments").mkdir()
    return tmp_path


def test_help_is_complete_and_fast():
    result = subprocess.run([sys.executable, "-X", "importtime", *command("visualize", "--help")[1:]],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    for option in ("--format", "--datasets", "--featurizers", "--targets", "--metric", "--lines", "--rows",
                   "--cols", "--size", "--alpha", "--holm-family", "--root", "--verbose", "--quiet"):
        assert option in result.stdout, option
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"matplotlib", "pandas", "scipy", "enso.report"}  # heavy imports wait for work


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_visualize_writes_the_report_and_prints_where(root):
    result = enso("visualize", NAME, "--format", "svg", "--datasets", "Tiny3", "--metric", "accuracy",
                  "--lines", "target", "--cols", "featurizer", "--size", "8", "-q", root=root)
    assert result.code == 0, result.output
    # a filtered view: its own folder, named after its options; the full report's place stays empty
    view = "datasets=Tiny3_metric=accuracy_size=8_lines=target_cols=featurizer_svg"
    folder = root / "results" / NAME / "views" / view
    assert not (root / "results" / NAME / "report.html").exists()
    assert f"report:  {folder / 'report.html'}" in result.stdout
    printed = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if line.startswith("figure:")]
    assert sorted(p.rsplit("/", 1)[1] for p in printed) == [
        "bars_8.svg", "learning_curves.svg", "optimizer_accuracy.svg", "targets_by_featurizer_accuracy.svg",
        "variance.svg"]
    for path in printed:
        assert (folder / path.rsplit("/", 1)[1]).stat().st_size > 10_000
    html = (folder / "report.html").read_text()
    assert "featurizer" in html and "Tiny3" in html and ">Tiny<" not in html.split("Learning curves", 1)[1]
    assert result.stderr == ""  # -q


@pytest.mark.parametrize("args, code, message", [
    (["nothing"], 2, "nothing.toml not found"),
    ([NAME, "--featurizers", "glove"], 2, "unknown featurizer (not in these results) 'glove'"),
    ([NAME, "--format", "gif"], 2, "Invalid value for '--format'"),
    ([NAME, "--rows", "colour"], 2, "unknown dimension 'colour'"),
    ([NAME, "--size", "7"], 2, "--size 7 is not a training size in these results (sizes: 8, 16)"),
])
def test_bad_input_is_one_clear_line_and_an_exit_code(root, args, code, message):
    result = enso("visualize", *args, root=root)
    assert result.code == code, result.output
    assert message in result.stderr
    if message.startswith("Invalid value"):  # click's usage error: its own two-line form
        assert "Usage:" in result.stderr and result.errors == []
    else:
        assert len(result.errors) == 1 and message in result.errors[0], result.stderr
        assert "Traceback" not in result.output
    assert not (root / "results" / NAME / "report.html").exists()


def test_enso_visualize_is_the_same_command():
    result = enso("visualize", "--help")
    assert result.code == 0 and "--holm-family" in result.stdout


def test_results_that_do_not_verify_are_one_error_line_and_no_report(root):
    folder = root / "results" / NAME
    data = bytearray((folder / "results.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "results.parquet").write_bytes(bytes(data))
    result = enso("visualize", NAME, root=root)
    assert result.code == 1
    assert len(result.errors) == 1 and "results.parquet does not match results.manifest.json" in result.errors[0]
    assert "Traceback" not in result.output and not (folder / "report.html").exists()


CHILD = """
import sys, time
from enso.report import figures

def stuck(fig, path, fmt):  # a figure half written (under its temporary name) when the process is killed
    path.write_bytes(b"half a figure")
    print("WRITING", flush=True)
    time.sleep(600)

figures.save = stuck
from enso.cli import main
main(["visualize", sys.argv[1], "-q", "--datasets", "Tiny", "--metric", "accuracy", "--targets", "knn"])
"""


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_killed_visualize_leaves_nothing_after_the_next_run(root):
    folder = root / "results" / NAME / "views" / "datasets=Tiny_targets=knn_metric=accuracy"  # a filtered view
    child = subprocess.Popen([sys.executable, "-c", CHILD, NAME], stdout=subprocess.PIPE, text=True,
                             env=process_env(root))
    try:
        assert child.stdout.readline().strip() == "WRITING"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    left = [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")]
    assert left and left[0].startswith(".tmp-learning_curves.png-")
    result = enso("visualize", NAME, "--datasets", "Tiny", "--metric", "accuracy", "--targets", "knn", "-q",
                  root=root)
    assert result.code == 0, result.output
    assert [p.name for p in folder.iterdir() if p.name.startswith((".tmp-", ".old-"))] == []
