"""Fast tier: the report's files, layout, caching and failure modes, on a tiny in-memory table.

The table is made like the real-data one (tests/report_helpers.py: TF-IDF and LSA features,
logreg, SGD logreg and k-NN, six resamples) from the tiny datasets of tests/tiny.py, so none of
these tests needs a benchmark file. The report's numbers are checked on real tables in
tests/test_report_build.py and tests/test_report_checks.py.
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from enso.errors import ConfigError, EnsoError
from enso.hashing import file_sha256
from enso.report import build_report
from enso.store import Reuse, read_fileset
from enso.workspace import Workspace
from tests.report_helpers import RESAMPLES, TINY_SIZES, make_tiny_results, write_results

NAME = "report-test"
ONE = {"datasets": "Tiny", "metric": "accuracy", "targets": "knn", "fmt": "svg"}  # a quick report: 3 figures


@pytest.fixture(scope="session")
def tiny_results() -> pd.DataFrame:
    return make_tiny_results(NAME)


@pytest.fixture
def ws(tmp_path, tiny_results) -> Workspace:
    write_results(tiny_results, tmp_path / "results" / NAME)
    return Workspace(tmp_path)


@pytest.fixture(scope="session")
def built(tmp_path_factory, tiny_results):
    """One SVG report shared by the read-only tests."""
    root = tmp_path_factory.mktemp("tiny-report")
    write_results(tiny_results, root / "results" / NAME)
    workspace = Workspace(root)
    return workspace, build_report(NAME, workspace, fmt="svg")


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_every_figure_and_table_is_written_and_listed_in_the_manifest(built):
    workspace, report = built
    folder = workspace.results_dir(NAME)
    names = {p.name for p in report.figures}
    assert names == {"learning_curves.svg", "variance.svg", "targets_by_featurizer_accuracy.svg",
                     "optimizer_accuracy.svg", f"bars_{max(TINY_SIZES)}.svg"}
    for path in report.figures:
        assert path.parent == folder
        data = path.read_bytes()
        assert b"<svg" in data[:2000] and len(data) > 10_000, path
    tables = {"summary.csv", "leaderboard.csv", "leaderboard.md", "scores.csv", "significance.csv",
              "significance_optimizer.csv"}
    assert {p.name for p in report.tables} == tables
    for name in (*tables, "report.md", "report.html", "report.json"):
        assert (folder / name).stat().st_size > 200, name
    assert not list(folder.glob(".tmp-*"))
    manifest = json.loads((folder / "report.json").read_text())
    written = names | tables | {"report.html", "report.md"}
    assert set(manifest["files"]) == written  # a store file set: each file's size and sha256
    for name, entry in manifest["files"].items():
        assert entry == {"sha256": file_sha256(folder / name), "size": (folder / name).stat().st_size}, name
    assert manifest["kind"] == "report" and manifest["meta"]["format"] == "svg"
    assert sorted(manifest["meta"]["figures"]) == sorted(names)
    assert read_fileset(folder, "report.json") is not None


def test_html_is_self_contained_with_inline_svg(built):
    _, report = built
    html = report.html.read_text(encoding="utf-8")
    assert html.count("<svg") == len(report.figures)
    assert "<img" not in html and "<script" not in html
    assert re.findall(r"url\((?!#)", html) == []  # nothing to fetch: every url() and href points inside
    assert all(ref.startswith("#") for ref in re.findall(r'href="([^"]*)"', html))
    assert "@import" not in html and "src=" not in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "inline SVGs share element ids"
    assert html.index("Best choices per training size") < html.index("Learning curves")


def test_markdown_links_the_figures_and_holds_the_tables(built):
    workspace, report = built
    text = report.markdown.read_text(encoding="utf-8")
    for path in report.figures:
        assert f"]({path.name})" in text
    assert "## Best choices per training size" in text
    assert "| configuration |" in text and "± " in text
    assert f"| resamples per cell | {RESAMPLES} |" in text
    leaderboard = (workspace.results_dir(NAME) / "leaderboard.md").read_text()
    assert leaderboard.startswith("# Leaderboard") and "Mean rank by accuracy" in leaderboard


@pytest.mark.parametrize("kwargs, message", [
    ({"featurizers": "glove"}, "unknown featurizer (not in these results) 'glove'"),
    ({"metric": "acuracy"}, "did you mean 'accuracy'"),
    ({"fmt": "jpg"}, "unknown figure format 'jpg'"),
    ({"size": 77}, "--size 77 is not a training size in these results (sizes: 8, 16)"),
    ({"lines": ["featurizer", "colour"]}, "unknown dimension 'colour'"),
    ({"lines": ["featurizer", "dataset"]}, "appears twice"),
    ({"holm_family": "some"}, "holm_family must be one of cell, all"),
    ({"alpha": 1.5}, "alpha must be between 0 and 1"),
])
@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_bad_options_are_config_errors_naming_the_fix(ws, kwargs, message):
    with pytest.raises(ConfigError) as caught:
        build_report(NAME, ws, **kwargs)
    assert message in str(caught.value)
    assert not (ws.results_dir(NAME) / "report.html").exists()


def test_missing_or_broken_results_say_what_to_run(tmp_path):
    workspace = Workspace(tmp_path)
    with pytest.raises(ConfigError, match=r"nothing.toml not found.*nor is there a results folder .*results/nothing "
                                          r"\(run `python -m enso.experiment nothing`"):
        build_report("nothing", workspace)
    (tmp_path / "results" / "empty").mkdir(parents=True)
    with pytest.raises(EnsoError, match=r"no results for experiment 'empty' .*run `python -m enso.experiment empty`"):
        build_report("empty", workspace)
    folder = tmp_path / "results" / "broken"
    folder.mkdir(parents=True)
    (folder / "results.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(EnsoError, match="cannot read .*results.parquet"):
        build_report("broken", workspace)
    pd.DataFrame({"dataset": ["x"], "value": [0.5]}).to_parquet(folder / "results.parquet")
    with pytest.raises(EnsoError, match=r"lacks columns \['featurizer'"):
        build_report("broken", workspace)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_failure_midway_leaves_the_previous_report_intact(ws, monkeypatch):
    from enso.report import figures

    first = build_report(NAME, ws, **{**ONE, "fmt": "png"})
    folder = ws.results_dir(NAME)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert first.figures and all(before[p.name][:8] == b"\x89PNG\r\n\x1a\n" for p in first.figures)
    calls = {"n": 0}
    real_save = figures.save

    def failing_save(fig, path, fmt):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real_save(fig, path, fmt)

    monkeypatch.setattr(figures, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        build_report(NAME, ws, **{**ONE, "datasets": "Tiny3", "fmt": "png"})
    assert calls["n"] == 2
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    for name in ("report.html", "report.md", "summary.csv", "scores.csv", "results.parquet"):
        assert after[name] == before[name], name  # the first report's text is all there
    # one figure is the new report's: the set no longer verifies, so it reads as absent, not up to date
    assert "report.json" not in after and read_fileset(folder, "report.json") is None
    assert not list(folder.glob(".tmp-*"))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_config_path_names_its_results_folder(ws):
    (ws.root / "experiments").mkdir()
    config = ws.root / "experiments" / "mine.toml"
    config.write_text(f'name = "{NAME}"\ndatasets = ["Tiny"]\n')
    report = build_report(config, ws, **ONE)
    assert report.html == ws.results_dir(NAME) / "report.html"
    shutil.rmtree(ws.results_dir(NAME))
    with pytest.raises(EnsoError, match="no results for experiment 'report-test'"):
        build_report("mine", ws)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_files_of_an_earlier_report_go_unless_someone_changed_them(ws):
    first = build_report(NAME, ws, **ONE)
    edited = ws.results_dir(NAME) / "variance.svg"
    edited.write_text(edited.read_text() + "<!-- my notes -->")
    second = build_report(NAME, ws, **{**ONE, "fmt": "png", "size": 8})  # PNG now, another bar size
    assert {p.name for p in second.figures}.isdisjoint(p.name for p in first.figures)
    left = {p.name for p in ws.results_dir(NAME).glob("*.svg")}
    assert left == {"variance.svg"}  # the user's edit is kept, the untouched SVGs are gone
    assert (ws.results_dir(NAME) / "results.parquet").is_file()


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_an_up_to_date_report_is_reused_and_recompute_draws_the_same_bytes(ws, tmp_path, tiny_results, caplog):
    """``reuse=`` (enso.store.Reuse): REUSE keeps an intact report of the same results and options,
    RECOMPUTE draws it again (the same results give the same bytes, in any folder), ONLY_CACHED
    returns it or says in one line what to run; a damaged file or new results draw it again."""
    first = build_report(NAME, ws, **ONE)
    folder = ws.results_dir(NAME)

    def stamps():
        return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    before = stamps()
    with caplog.at_level("INFO", logger="enso"):
        again = build_report(NAME, ws, **ONE)
    assert "up to date" in caplog.text and stamps() == before
    assert again == first
    assert build_report(NAME, ws, **ONE, reuse=Reuse.ONLY_CACHED) == first and stamps() == before
    with pytest.raises(EnsoError) as missing:
        build_report(NAME, ws, **{**ONE, "datasets": "Tiny3"}, reuse="only-cached")
    assert "\n" not in str(missing.value) and f"enso visualize {NAME}" in str(missing.value)

    elsewhere = Workspace(tmp_path / "elsewhere")
    shutil.copytree(folder, elsewhere.results_dir(NAME))
    redrawn = build_report(NAME, elsewhere, **ONE, reuse=Reuse.RECOMPUTE)
    assert "report.json" in (p.name for p in elsewhere.results_dir(NAME).iterdir())
    for old, new in zip([first.html, first.markdown, *first.tables, *first.figures],
                        [redrawn.html, redrawn.markdown, *redrawn.tables, *redrawn.figures], strict=True):
        assert new != old and new.name == old.name and new.read_bytes() == old.read_bytes(), old.name
    assert (elsewhere.results_dir(NAME) / "report.html").stat().st_mtime_ns != before["report.html"]

    original = (folder / "variance.svg").read_bytes()
    (folder / "variance.svg").write_bytes(b"broken")  # a damaged file: the report is drawn again
    build_report(NAME, ws, **ONE)
    assert (folder / "variance.svg").read_bytes() == original

    write_results(tiny_results[tiny_results["resample"] < RESAMPLES - 1], folder)  # new results: drawn again
    build_report(NAME, ws, **ONE)
    assert f"| resamples per cell | {RESAMPLES - 1} |" in (folder / "report.md").read_text()


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_results_replaced_while_the_report_is_drawn_are_drawn_again(ws, tiny_results, monkeypatch):
    """The report's key names the results it read, not ones written after (an experiment still running)."""
    import enso.report.build as build_module

    read_results = build_module.load_table

    def read_then_replace(name, workspace):
        results = read_results(name, workspace)
        write_results(tiny_results[tiny_results["resample"] < RESAMPLES - 1], workspace.results_dir(name))
        return results

    monkeypatch.setattr(build_module, "load_table", read_then_replace)
    report = build_report(NAME, ws, **ONE)
    assert f"| resamples per cell | {RESAMPLES} |" in report.markdown.read_text()
    monkeypatch.undo()
    build_report(NAME, ws, **ONE)
    assert f"| resamples per cell | {RESAMPLES - 1} |" in report.markdown.read_text()
