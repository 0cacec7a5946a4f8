"""``visualize --out DIR`` and filtered views (issue 14): a view goes to its own folder, named after
its options, and never overwrites or deletes a file of the full report."""

from __future__ import annotations

import pytest

from enso.hashing import file_sha256
from enso.report import build_report
from enso.report.build import view_folder
from enso.workspace import Workspace
from tests.cli import enso
from tests.report_helpers import make_tiny_results, write_results

NAME = "report-test"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """A workspace with the full report drawn (as the last full run would)."""
    root = tmp_path_factory.mktemp("views")
    write_results(make_tiny_results(NAME), root / "results" / NAME)
    (root / "experiments").mkdir()
    build_report(NAME, Workspace(root), targets="knn,logreg")  # quicker than every target; the main report here
    return root


def _hashes(folder):
    """Every file of the folder and below except the views, with its sha256 and mtime."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "views" not in path.relative_to(folder).parts:
            out[str(path.relative_to(folder))] = (file_sha256(path), path.stat().st_mtime_ns)
    return out


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_filtered_view_leaves_the_main_report_byte_identical(drawn):
    main = drawn / "results" / NAME
    before = _hashes(main)
    assert "report.html" in before and "learning_curves.png" in before
    result = enso("visualize", NAME, "--datasets", "Tiny3", "-q", root=drawn)
    assert result.code == 0, result.output
    assert _hashes(main) == before  # same files, same bytes, not even rewritten
    view = main / "views" / "datasets=Tiny3"
    assert (view / "report.html").is_file() and (view / "learning_curves.png").is_file()
    assert (view / "report.json").is_file()
    html = (view / "report.html").read_text()
    assert "Tiny3" in html and ">Tiny<" not in html.split("Learning curves", 1)[1]
    # another view (other size and format) keeps both the main report and the first view
    first_view = _hashes(view)
    result = enso("visualize", NAME, "--datasets", "Tiny3", "--size", "8", "--format", "svg", "-q", root=drawn)
    assert result.code == 0, result.output
    assert _hashes(main) == before and _hashes(view) == first_view
    assert (main / "views" / "datasets=Tiny3_size=8_svg" / "bars_8.svg").is_file()


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_out_puts_the_report_where_asked_and_the_main_report_stays(drawn, tmp_path):
    main = drawn / "results" / NAME
    before = _hashes(main)
    target = tmp_path / "mine"
    result = enso("visualize", NAME, "--targets", "knn", "--out", target, "-q", root=drawn)
    assert result.code == 0, result.output
    assert (target / "report.html").is_file() and (target / "report.md").is_file()
    assert _hashes(main) == before
    md = (target / "report.md").read_text()
    assert "](learning_curves.png)" in md  # figures beside the report, linked relatively


def test_the_full_report_is_still_drawn_in_place(tmp_path):
    write_results(make_tiny_results(NAME), tmp_path / "results" / NAME)
    ws = Workspace(tmp_path)
    assert view_folder(NAME, ws) is None  # every option at its default: the main report
    assert view_folder(NAME, ws, datasets="Tiny", fmt="svg") == ws.results_dir(NAME) / "views" / "datasets=Tiny_svg"
    long = view_folder(NAME, ws, datasets=",".join(["Tiny"] * 60))
    assert len(long.name) <= 120


def test_out_that_is_a_file_is_one_error_line(drawn, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    result = enso("visualize", NAME, "--out", path, root=drawn)
    assert result.code == 2 and "Traceback" not in result.output
