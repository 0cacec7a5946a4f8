"""What the report must warn about (issues 9 and 10), on real results tables.

One-class predictions, the majority-class reference, the test-set interval, Holm families
too large for their resamples, test texts also in train, the across-dataset tests, and
results that do not verify. Each test fails on the code before these checks.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from enso.errors import EnsoError
from enso.report import build_report
from enso.store import Reuse
from enso.workspace import Workspace
from tests.report_helpers import (
    ACROSS_DATASETS,
    RESAMPLES,
    copies_in_train,
    make_across_results,
    make_results,
    without_new_columns,
    write_results,
    write_run_json,
)

NAME = "report-test"
pytestmark = pytest.mark.slow  # real results tables: a few hundred real model fits each (cached per session)


@pytest.fixture(scope="session")
def real_results(shared_datasets) -> pd.DataFrame:
    return make_results(shared_datasets, NAME)


@pytest.fixture(scope="session")
def across_results(shared_datasets) -> pd.DataFrame:
    return make_across_results(shared_datasets)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path)


def _section(text: str, heading: str) -> str:
    return text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def build_report_of(ws: Workspace, frame: pd.DataFrame, name: str = "table", **options):
    write_results(frame, ws.results_dir(name))
    return build_report(name, ws, metric="accuracy", **options)


def _one_class_direct(frame: pd.DataFrame) -> dict[tuple[str, str, int], int]:
    cells = frame[frame["metric"] == "accuracy"]
    flagged = cells[cells["majority_share"] >= 0.95]
    counts = flagged.groupby(["featurizer", "target", "dataset", "train_size"]).size()
    return {(f"{f} · {t}", d, int(s)): int(n) for (f, t, d, s), n in counts.items()}


# -- one-class predictions ------------------------------------------------------------------

def test_one_class_predictions_are_flagged_whatever_the_spread(ws, real_results):
    """Real logreg fits on 20-50 SST2 examples predict one class on some resamples while their score
    still varies (sd > 0): the old flag (sd exactly 0) said nothing; each is named with its count."""
    write_results(real_results, ws.results_dir(NAME))
    report = build_report(NAME, ws, metric="accuracy")
    expected = _one_class_direct(real_results)
    assert expected, "the real table has one-class fits to flag"
    sd = real_results[real_results["metric"] == "accuracy"].groupby(
        ["featurizer", "target", "dataset", "train_size"])["value"].std()
    assert all(sd[(c.split(" · ")[0], c.split(" · ")[1], d, s)] > 0.01 for c, d, s in expected)
    text = report.markdown.read_text()
    note = next(line for line in text.splitlines() if line.startswith("> Test predictions at least 95% one class"))
    for (configuration, dataset, size), n in expected.items():
        assert re.search(rf"{re.escape(configuration)} on {dataset} at [^;]*\b{size} \({n} of {RESAMPLES} resamples\)",
                         note), (configuration, dataset, size)
    assert note.count(" on ") == len({(c, d) for c, d, _ in expected})  # nothing else is flagged
    scores = _section(text, "Leaderboard")
    sst2 = scores.split("**SST2: accuracy", 1)[1].split("**TREC", 1)[0]
    assert re.search(r"\| tfidf · logreg \| [^|]* † \|", sst2)
    assert not re.search(r"\| tfidf · knn \|[^\n]*†", sst2)


def test_a_constant_score_with_varied_predictions_is_not_flagged(ws, real_results):
    """The old flag fired on any sd of exactly 0 (a small test split where a good model scores the
    same on every resample); without one-class predictions there is nothing to flag."""
    frame = real_results.copy()
    steady = (frame["featurizer"] == "lsa(dim=64)") & (frame["target"] == "knn") & (frame["train_size"] == 150)
    assert (frame.loc[steady, "majority_share"] < 0.95).all()
    frame.loc[steady & (frame["metric"] == "accuracy"), "value"] = 0.75
    write_results(frame, ws.results_dir("steady"))
    report = build_report("steady", ws, datasets="TREC", metric="accuracy")
    text = report.markdown.read_text()
    assert "The same accuracy on every resample" not in text
    assert "lsa(dim=64) · knn on TREC" not in text and "one class on" not in _section(text, "Best choices per training size")


# -- majority-class reference ---------------------------------------------------------------

def _reference_lines(fig):
    from enso.report.figures import REFERENCE_STYLE

    return [[line for line in ax.get_lines() if line.get_linestyle() != "None"
             and line.get_color() == REFERENCE_STYLE["color"] and line.get_marker() in ("", "None")]
            for ax in fig.axes]


def test_learning_curves_draw_the_majority_class_line_from_the_baseline(ws, real_results):
    write_results(real_results, ws.results_dir(NAME))
    report = build_report(NAME, ws, fmt="svg", metric="accuracy")
    svg = (ws.results_dir(NAME) / "learning_curves.svg").read_text()
    assert "majority class (reference)" in svg
    text = report.markdown.read_text()
    assert "majority-class reference" in text
    sst2 = _section(text, "Leaderboard").split("**SST2: accuracy", 1)[1].split("**TREC", 1)[0]
    row = next(line for line in sst2.splitlines() if line.startswith("| majority class (reference) |"))
    expected = real_results[(real_results["dataset"] == "SST2") & (real_results["metric"] == "accuracy")]
    expected = expected.groupby("train_size")["baseline_value"].mean()
    assert row.split(" | ")[1:] == [f"{v:.3f}" for v in expected.to_numpy()[:-1]] + [f"{expected.iloc[-1]:.3f} |"]

    from enso.report import figures
    from enso.report.checks import majority_reference
    from enso.report.layout import Layout
    from enso.report.results import check_table

    frame = check_table(real_results)
    reference, source = majority_reference(frame)
    assert source == "baseline"
    fig = figures.curves(frame, Layout(), reference=reference)
    try:
        lines = _reference_lines(fig)
        axes = np.array(fig.axes).reshape(2, 2)  # rows SST2, TREC; columns accuracy, macro F1
        for i, dataset in enumerate(("SST2", "TREC")):
            for j, metric in enumerate(("accuracy", "macro_f1")):
                (line,) = lines[i * 2 + j]
                direct = real_results[(real_results["dataset"] == dataset) & (real_results["metric"] == metric)]
                direct = direct.groupby("train_size")["baseline_value"].mean()
                assert list(line.get_xdata()) == list(direct.index)
                assert np.allclose(line.get_ydata(), direct.to_numpy())
                assert axes[i][j].get_title() == f"{dataset} · {figures.metric_label(metric)}"  # metric in the title
        assert figures.REFERENCE_LABEL in [t.get_text() for t in fig.legends[0].get_texts()]
    finally:
        figures.close(fig)


def test_a_majority_target_is_the_reference_and_not_a_line_of_its_own(ws, real_results):
    knn = real_results[real_results["target"] == "knn"]
    majority = knn.assign(target="majority", value=knn["baseline_value"], majority_share=1.0)  # as it predicts
    report = build_report_of(ws, pd.concat([real_results, majority], ignore_index=True))
    assert "· majority on" not in report.markdown.read_text()  # one class by design: the reference, not flagged
    frame = without_new_columns(pd.concat([real_results, majority], ignore_index=True))
    write_results(frame, ws.results_dir("majority"))
    build_report("majority", ws, fmt="svg", metric="accuracy", datasets="TREC")
    svg = (ws.results_dir("majority") / "learning_curves.svg").read_text()
    assert svg.count("majority class (reference)") == 1
    assert "· majority" not in svg  # not drawn twice, as a coloured line too

    from enso.report import figures
    from enso.report.checks import majority_reference
    from enso.report.layout import Layout
    from enso.report.results import check_table

    frame = check_table(frame)
    reference, source = majority_reference(frame)
    assert source == "target"
    fig = figures.curves(frame[frame["target"] != "majority"], Layout(), reference=reference)
    try:
        (line,) = _reference_lines(fig)[0]
        direct = majority[(majority["dataset"] == "SST2") & (majority["metric"] == "accuracy")]
        assert np.allclose(line.get_ydata(), direct.groupby("train_size")["value"].mean().to_numpy())
    finally:
        figures.close(fig)


def test_tables_without_the_new_columns_give_no_flag_no_line_no_interval(ws, real_results, caplog):
    old = without_new_columns(real_results)
    write_results(old, ws.results_dir("old"), manifest=False)
    with caplog.at_level("WARNING", logger="enso"):
        report = build_report("old", ws, fmt="svg", metric="accuracy")
    assert "has no results.manifest.json (an older enso wrote it), so it cannot be verified" in caplog.text
    text = report.markdown.read_text()
    assert "not verified: no results.manifest.json" in text
    shown = text.split("## Methods and files", 1)[0]
    assert "one class" not in shown and "test ±" not in shown and "majority class (reference)" not in shown
    assert ("This results table has no `majority_share` (the one-class check), no `test_ci_low`/`test_ci_high` "
            "(the test-set interval), no `baseline_value` (the majority-class reference)") in text
    assert "majority class (reference)" not in (ws.results_dir("old") / "learning_curves.svg").read_text()


# -- test-set interval and Holm families ----------------------------------------------------

def test_score_tables_show_the_test_set_interval_beside_the_spread(ws, real_results):
    write_results(real_results, ws.results_dir(NAME))
    report = build_report(NAME, ws, metric="accuracy")
    part = real_results[(real_results["dataset"] == "TREC") & (real_results["metric"] == "accuracy")
                        & (real_results["featurizer"] == "tfidf") & (real_results["target"] == "knn")]
    by_size = part.groupby("train_size")
    half = ((part["test_ci_high"] - part["test_ci_low"]) / 2).groupby(part["train_size"]).mean()
    mean, sd = by_size["value"].mean(), by_size["value"].std()
    trec = _section(report.markdown.read_text(), "Leaderboard").split("**TREC: accuracy", 1)[1].split("\n**", 1)[0]
    row = next(line for line in trec.splitlines() if line.startswith("| tfidf · knn |"))
    cells = [c.strip().strip("*") for c in row.strip("|").split("|")[1:]]
    assert cells == [f"{mean[s]:.3f} ± {sd[s]:.3f} (test ±{half[s]:.3f})" for s in mean.index]
    assert half.min() > 0.02  # 400 test rows: the test split's own error is not negligible
    scores = pd.read_csv(ws.results_dir(NAME) / "scores.csv")
    row = scores[(scores["dataset"] == "TREC") & (scores["metric"] == "accuracy") & (scores["featurizer"] == "tfidf")
                 & (scores["target"] == "knn")].set_index("train_size")
    assert np.allclose(row["test_halfwidth"], half) and np.allclose(row["test_ci_low"], by_size["test_ci_low"].mean())


def test_a_holm_family_that_cannot_reach_alpha_is_said(ws, real_results):
    """Holm over every test (72 with 6 resamples) can never give p < 0.05: the report says so."""
    write_results(real_results, ws.results_dir(NAME))
    report = build_report(NAME, ws, holm_family="all")
    tests = pd.read_csv(ws.results_dir(NAME) / "significance.csv", keep_default_na=False)
    m = len(tests)
    text = report.markdown.read_text()
    assert (f"> 1 of 1 Holm family of featurizer pairs cannot reach p < 0.05: for example Holm over {m} tests "
            f"with at most {RESAMPLES} non-zero paired differences") in text
    assert tests["note"].str.contains(f"Holm over {m} tests: the smallest adjusted p is 1, p<0.05 cannot be reached").all()
    assert set(tests["holm_m"]) == {m} and not tests["significant"].any()
    assert np.allclose(tests["holm_min_p"], min(1.0, m * 2 / 2 ** RESAMPLES))
    cell = build_report(NAME, ws, holm_family="cell").markdown.read_text()
    assert "Holm family of featurizer pairs cannot reach" not in cell  # one pair per family: reachable


# -- test texts also in train ----------------------------------------------------------------

def test_test_texts_also_in_train_are_shown_per_dataset(ws, shared_datasets, across_results):
    folder = ws.results_dir("across-test")
    write_results(across_results, folder)
    write_run_json(folder, shared_datasets, ACROSS_DATASETS, config={"dedupe": False})
    text = build_report("across-test", ws, metric="accuracy").markdown.read_text()
    counts = {d: copies_in_train(shared_datasets, d) for d in ACROSS_DATASETS}
    assert counts["MPQA"]["share"] > 0.05 and counts["SST2"]["count"] == 0  # real copies in MPQA's phrases
    row = next(line for line in text.splitlines() if line.startswith("| test texts also in train |"))
    for dataset, c in counts.items():
        assert f"{dataset} {c['count']} ({c['share']:.1%})" in row
    assert "kept (dedupe = false)" in row
    notes = [line for line in text.splitlines() if line.startswith("> Test texts that also occur in the train split")]
    assert len(notes) == 1
    assert f"MPQA: {counts['MPQA']['count']} ({counts['MPQA']['share']:.1%})" in notes[0] and "SST2" not in notes[0]


@pytest.mark.parametrize("content", ["[1, 2]", "not json", '"text"', '{"datasets": [1], "description": 5}',
                                     '{"datasets": {"SST2": {"test_in_train": {"count": "x", "share": 2}}}}'])
def test_a_run_json_of_the_wrong_shape_is_left_out_not_a_traceback(ws, real_results, content, caplog):
    folder = ws.results_dir(NAME)
    write_results(real_results, folder)
    (folder / "run.json").write_text(content, encoding="utf-8")
    with caplog.at_level("WARNING", logger="enso"):
        report = build_report(NAME, ws, datasets="SST2", metric="accuracy")
    assert "test texts also in train" not in report.markdown.read_text()
    if content in ("[1, 2]", '"text"'):
        assert "is a JSON" in caplog.text and "not an object" in caplog.text
    (folder / "run.json").write_bytes(b"\xff\xfe{\x00")  # not UTF-8
    again = build_report(NAME, ws, datasets="SST2", metric="accuracy", reuse=Reuse.RECOMPUTE)
    assert "test texts also in train" not in again.markdown.read_text()  # drawn, with the section left out


# -- across datasets --------------------------------------------------------------------------

def test_across_datasets_is_friedman_then_nemenyi_on_per_dataset_means(ws, across_results):
    """Issue 9.5 on five real datasets: the Friedman test on datasets x configurations of mean scores,
    as scipy computes it by hand, then scikit-posthocs' Nemenyi test of the best mean rank."""
    import scikit_posthocs as sp
    from scipy.stats import friedmanchisquare

    write_results(across_results, ws.results_dir("across-test"))
    report = build_report("across-test", ws, metric="macro_f1")
    text = report.markdown.read_text()
    assert "pooled" not in text and "Friedman χ²" in text
    summary = pd.read_csv(ws.results_dir("across-test") / "summary.csv", keep_default_na=False)
    f1 = across_results[across_results["metric"] == "macro_f1"].assign(
        entry=lambda f: f["featurizer"] + " · " + f["target"])
    rejected = 0
    for size, rows in summary.groupby("train_size"):
        matrix = f1[f1["train_size"] == size].groupby(["dataset", "entry"])["value"].mean().unstack("entry")
        assert matrix.shape == (len(ACROSS_DATASETS), 6)  # one mean per dataset: resamples do not count as datasets
        statistic, p = friedmanchisquare(*[matrix[c].to_numpy() for c in matrix.columns])
        row = rows.iloc[0]
        assert row["across_test"] == "friedman" and row["across_n_datasets"] == len(ACROSS_DATASETS)
        assert row["across_statistic"] == pytest.approx(statistic, rel=1e-12)
        assert row["across_p_value"] == pytest.approx(p, rel=1e-12)
        mean_ranks = matrix.rank(axis=1, ascending=False).mean()
        top = mean_ranks.sort_values(kind="stable").index[0]
        assert row["across_top_by_mean_rank"] == top
        nemenyi = sp.posthoc_nemenyi_friedman(matrix.reset_index(drop=True))
        beaten = sorted(c for c in matrix.columns if c != top and nemenyi.loc[top, c] < 0.05) if p < 0.05 else []
        assert sorted(x for x in row["across_beaten"].split(" | ") if x) == beaten
        if p < 0.05:
            rejected += 1
            assert float(row["across_max_posthoc_p_beaten"]) == pytest.approx(max(nemenyi.loc[top, beaten]))
            line = next(line for line in text.splitlines() if line.startswith(f"| {size} | "))
            assert f"{top} (mean rank {mean_ranks[top]:.2f}): better than" in line
            assert f"Friedman χ² = {statistic:.2f}, p = {p:.4f} over 5 datasets" in line
    assert rejected, "the real table has a size where Friedman rejects"


def test_across_datasets_makes_no_post_hoc_claim_when_friedman_does_not_reject(ws, across_results):
    from scipy.stats import friedmanchisquare

    write_results(across_results, ws.results_dir("across-test"))
    report = build_report("across-test", ws, metric="accuracy", size=20)
    text = report.markdown.read_text()
    line = next(line for line in text.splitlines() if line.startswith("| 20 | "))
    assert line.split(" | ")[1].startswith("no difference shown across datasets (Friedman")
    # per dataset, 6 resamples cannot carry Holm over the 5 comparisons of the best with the rest
    assert line.count("not significantly better than any of the 5 others ‡") == len(ACROSS_DATASETS)
    assert ("> ‡ These comparisons cannot reach p < 0.05 whatever the differences: with 6 resamples, Holm over 5 "
            "comparisons cannot give an adjusted p below 0.156 (8 non-zero paired differences needed).") in text
    summary = pd.read_csv(ws.results_dir("across-test") / "summary.csv", keep_default_na=False)
    row = summary[summary["train_size"] == 20].iloc[0]
    acc = across_results[(across_results["metric"] == "accuracy") & (across_results["train_size"] == 20)]
    matrix = acc.assign(entry=acc["featurizer"] + " · " + acc["target"]).groupby(
        ["dataset", "entry"])["value"].mean().unstack("entry")
    p = friedmanchisquare(*[matrix[c].to_numpy() for c in matrix.columns]).pvalue
    assert p >= 0.05 and row["across_p_value"] == pytest.approx(p)
    assert row["across_beaten"] == "" and row["across_posthoc"] == ""


# -- results that do not verify ---------------------------------------------------------------

def test_results_that_do_not_match_their_manifest_are_refused(ws, real_results):
    """Issue 10: a table changed after the experiment stage wrote it (here one macro-F1 of a real
    cell replaced by 9.1e-06, still a valid Parquet file; then one flipped bit) is refused, not drawn."""
    folder = ws.results_dir(NAME)
    write_results(real_results, folder)
    changed = real_results.copy()
    changed.loc[changed.index[changed["metric"] == "macro_f1"][0], "value"] = 9.1e-06
    changed.to_parquet(folder / "results.parquet", index=False)
    with pytest.raises(EnsoError, match=r"results.parquet does not match results.manifest.json .*rerun "
                                        r"`python -m enso.experiment report-test`"):
        build_report(NAME, ws)
    assert not (folder / "report.html").exists()
    write_results(real_results, folder)
    data = bytearray((folder / "results.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the middle of the column data
    (folder / "results.parquet").write_bytes(bytes(data))
    with pytest.raises(EnsoError, match="results.parquet does not match results.manifest.json"):
        build_report(NAME, ws)
    write_results(real_results, folder, manifest=False)
    (folder / "results.manifest.json").write_text(json.dumps([1]))  # a damaged manifest does not verify either
    with pytest.raises(EnsoError, match="does not match results.manifest.json"):
        build_report(NAME, ws)
    assert not (folder / "report.html").exists()
