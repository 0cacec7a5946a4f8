"""The report's numbers on a small real results table (files, layout and failure modes: test_report_layout.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from enso.report import build_report
from enso.workspace import Workspace
from tests.report_helpers import RESAMPLES, SIZES, make_results, write_results

NAME = "report-test"
pytestmark = pytest.mark.slow  # every test here reads a results table made by ~650 real model fits


@pytest.fixture(scope="session")
def real_results(shared_datasets) -> pd.DataFrame:
    return make_results(shared_datasets, NAME)


@pytest.fixture
def ws(tmp_path, real_results) -> Workspace:
    write_results(real_results, tmp_path / "results" / NAME)
    return Workspace(tmp_path)


@pytest.fixture(scope="session")
def built(tmp_path_factory, real_results):
    """One PNG report shared by the read-only tests."""
    root = tmp_path_factory.mktemp("report")
    write_results(real_results, root / "results" / NAME)
    workspace = Workspace(root)
    return workspace, build_report(NAME, workspace)


def _holm_reference(p):
    """Holm's step-down procedure written out the textbook way."""
    p = list(p)
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    previous = 0.0
    for k, i in enumerate(order):
        previous = max(previous, min(1.0, (m - k) * p[i]))
        adjusted[i] = previous
    return adjusted


def test_significance_equals_direct_scipy_wilcoxon_with_holm(built, real_results):
    from scipy.stats import wilcoxon

    workspace, _ = built
    table = pd.read_csv(workspace.results_dir(NAME) / "significance.csv")
    cells = real_results.groupby(["dataset", "metric", "target"]).ngroups * len(SIZES)
    assert len(table) == cells  # two featurizers: one pair per dataset, metric, target and size
    expected_p = []
    for _, row in table.iterrows():
        def values(featurizer):
            part = real_results[(real_results["dataset"] == row["dataset"]) & (real_results["metric"] == row["metric"])
                                & (real_results["target"] == row["target"])
                                & (real_results["train_size"] == row["train_size"])
                                & (real_results["featurizer"] == featurizer)]
            return part.set_index("resample")["value"].sort_index()
        a, b = values(row["a"]), values(row["b"])
        assert list(a.index) == list(b.index) == list(range(RESAMPLES))
        d = np.round(a.to_numpy() - b.to_numpy(), 12)
        assert row["n_pairs"] == RESAMPLES and row["n_nonzero"] == np.count_nonzero(d)
        assert row["mean_diff"] == pytest.approx(d.mean(), abs=1e-12)
        p = 1.0 if not d.any() else wilcoxon(d).pvalue
        assert row["p_value"] == pytest.approx(p, rel=1e-12, abs=1e-15)
        expected_p.append(p)
    table["expected_p"] = expected_p
    for _, family in table.groupby(["dataset", "metric", "target", "train_size"]):
        assert len(family) == 1  # one pair per family here; Holm then leaves p unchanged
        assert family["p_holm"].iloc[0] == pytest.approx(family["expected_p"].iloc[0], rel=1e-12)
    assert table["significant"].equals(table["p_holm"] < 0.05)


def test_holm_over_all_tests_equals_textbook_holm_and_svg_figures_are_real(ws, real_results):
    from scipy.stats import wilcoxon

    report = build_report(NAME, ws, holm_family="all", fmt="svg")
    for path in report.figures:
        assert path.suffix == ".svg" and b"<svg" in path.read_bytes()[:2000] and path.stat().st_size > 20_000
    table = pd.read_csv(ws.results_dir(NAME) / "significance.csv")
    assert table["p_value"].notna().all()
    assert np.allclose(table["p_holm"], _holm_reference(table["p_value"]), rtol=1e-12, atol=0)
    assert (table["p_holm"] >= table["p_value"]).all()
    # the optimizer comparison (logreg vs logreg-sgd) is tested the same way
    optimizer = pd.read_csv(ws.results_dir(NAME) / "significance_optimizer.csv")
    row = optimizer.iloc[0]
    part = real_results[(real_results["dataset"] == row["dataset"]) & (real_results["metric"] == row["metric"])
                        & (real_results["featurizer"] == row["featurizer"])
                        & (real_results["train_size"] == row["train_size"])]
    a = part[part["target"] == row["a"]].set_index("resample")["value"].sort_index().to_numpy()
    b = part[part["target"] == row["b"]].set_index("resample")["value"].sort_index().to_numpy()
    assert {row["a"], row["b"]} == {"logreg", "logreg-sgd"}
    assert row["p_value"] == pytest.approx(wilcoxon(np.round(a - b, 12)).pvalue, rel=1e-12)


def test_summary_and_leaderboard_agree_with_the_scores(built, real_results):
    workspace, _ = built
    folder = workspace.results_dir(NAME)
    scores = pd.read_csv(folder / "scores.csv")
    direct = real_results.groupby(["dataset", "metric", "train_size", "featurizer", "target"])["value"]
    merged = scores.merge(direct.mean().rename("direct_mean").reset_index()).merge(
        direct.std().rename("direct_sd").reset_index())
    assert len(merged) == len(scores) == direct.ngroups
    assert np.allclose(merged["mean"], merged["direct_mean"]) and np.allclose(merged["sd"], merged["direct_sd"])
    assert (merged["ci_low"] < merged["mean"]).all() and (merged["ci_high"] > merged["mean"]).all()
    ranks = pd.read_csv(folder / "leaderboard.csv")
    at = ranks[(ranks["metric"] == "accuracy") & (ranks["train_size"] == max(SIZES))]
    n_entries = len(at)
    assert at["mean_rank"].sum() == pytest.approx(n_entries * (n_entries + 1) / 2)  # ranks 1..n per dataset
    best_by_rank = at.sort_values("mean_rank").iloc[0]
    leaderboard = (folder / "leaderboard.md").read_text()
    assert f"| {best_by_rank['featurizer']} · {best_by_rank['target']} | " in leaderboard


def test_two_datasets_make_no_claim_across_datasets(built):
    """Issue 9.5: with fewer than 3 datasets the report says no across-dataset claim can be made, and
    makes none (before: 'better than all 5 others over datasets and resamples pooled')."""
    workspace, report = built
    text = report.markdown.read_text()
    summary = text.split("## Best choices per training size", 1)[1].split("\n## ", 1)[0]
    table = [line for line in summary.splitlines() if line.startswith("| ") and line[2:3].isdigit()]
    assert len(table) == len(SIZES)
    assert "across datasets (" not in summary  # no column of 'no claim' cells: one line says why
    assert ("No comparison across datasets: 2 datasets, and a test across datasets needs at least 3; the best "
            "choices above hold for each dataset only.") in summary
    assert "pooled" not in text and "(mean rank" not in summary
    across = pd.read_csv(workspace.results_dir(NAME) / "summary.csv", keep_default_na=False)
    assert set(across["across_n_datasets"]) == {2} and set(across["across_test"]) == {""}
    assert across["across_p_value"].eq("").all() and across["across_beaten"].eq("").all()


def test_filters_choose_the_slice_and_the_primary_metric_and_pdf_figures(ws):
    report = build_report(NAME, ws, featurizers="tfidf", targets=["logreg", "knn"], metric="macro_f1",
                          datasets=["trec"], size=50, fmt="pdf")
    names = {p.name for p in report.figures}
    assert names == {"learning_curves.pdf", "variance.pdf", "targets_by_featurizer_macro_f1.pdf", "bars_50.pdf"}
    for path in report.figures:
        assert path.read_bytes()[:5] == b"%PDF-" and path.stat().st_size > 5000
    assert "learning_curves (PDF)](learning_curves.pdf)" in report.markdown.read_text()
    scores = pd.read_csv(ws.results_dir(NAME) / "scores.csv")
    assert set(scores["featurizer"]) == {"tfidf"} and set(scores["dataset"]) == {"TREC"}
    assert set(scores["target"]) == {"logreg", "knn"} and set(scores["metric"]) == {"macro_f1"}
    assert pd.read_csv(ws.results_dir(NAME) / "significance.csv").empty
    html = report.html.read_text()
    assert "featurizers compared (one featurizer)" in html and "do not hold both" in html
    assert "Significance: featurizers compared" not in html and "Optimizer: L-BFGS" not in html
    assert "Ranked by macro F1" in html


def test_resamples_too_few_to_test_are_reported_not_hidden(ws, real_results):
    one = real_results[real_results["resample"] == 0]
    write_results(one, ws.results_dir("single"))
    report = build_report("single", ws, datasets="SST2")
    table = pd.read_csv(ws.results_dir("single") / "significance.csv")
    assert table["p_value"].isna().all() and not table["significant"].any()
    assert table["note"].str.startswith("not tested: 1 shared resample").all()
    html = report.html.read_text()
    assert "not tested" in html and "no paired Wilcoxon test can reach" in html


def test_timing_rows_are_never_plotted_as_metrics(ws, real_results, caplog):
    timing = real_results[real_results["metric"] == "accuracy"].copy()
    timing["metric"] = "fit_seconds"
    timing["value"] = timing["fit_seconds"]
    write_results(pd.concat([real_results, timing]), ws.results_dir("timed"))
    with caplog.at_level("WARNING", logger="enso"):
        report = build_report("timed", ws, datasets="TREC")
    assert "ignoring metric rows that are timings" in caplog.text
    scores = pd.read_csv(ws.results_dir("timed") / "scores.csv")
    assert set(scores["metric"]) == {"accuracy", "macro_f1"}
    html = report.html.read_text()
    assert "sd of fit" not in html and ">fit_seconds<" not in html
    assert "These are timings, not scores" in html


def test_inner_cv_choices_and_convergence_are_reported(built, real_results):
    _, report = built
    text = report.markdown.read_text()
    section = text.split("## Hyperparameters chosen by inner cross-validation", 1)[1].split("\n## ", 1)[0]
    assert f"| tfidf · logreg | TREC | 20 | C 1 ({RESAMPLES}×) | 0 of {RESAMPLES} |" in section
    assert f"| tfidf · knn | SST2 | 150 | n_neighbors 3 ({RESAMPLES}×) | – |" in section


def test_a_lower_is_better_metric_ranks_the_other_way(built, ws, real_results):
    workspace, _ = built
    error = real_results[real_results["metric"] == "accuracy"].copy()
    error["metric"] = "error_rate"
    error["value"] = 1 - error["value"]
    error["baseline_value"] = 1 - error["baseline_value"]
    error["test_ci_low"], error["test_ci_high"] = 1 - error["test_ci_high"], 1 - error["test_ci_low"]
    write_results(error, ws.results_dir("errors"))
    report = build_report("errors", ws)
    text = report.markdown.read_text()
    assert "Ranked by error rate (lower is better): the mean" in text
    by_accuracy = pd.read_csv(workspace.results_dir(NAME) / "summary.csv", keep_default_na=False)
    by_error = pd.read_csv(ws.results_dir("errors") / "summary.csv", keep_default_na=False)
    assert list(by_error["best"]) == list(by_accuracy["best"])
    assert list(by_error["across_top_by_mean_rank"]) == list(by_accuracy["across_top_by_mean_rank"])
    ranks = pd.read_csv(ws.results_dir("errors") / "leaderboard.csv")
    accuracy_ranks = pd.read_csv(workspace.results_dir(NAME) / "leaderboard.csv")
    accuracy_ranks = accuracy_ranks[accuracy_ranks["metric"] == "accuracy"]
    merged = ranks.merge(accuracy_ranks, on=["train_size", "featurizer", "target"], suffixes=("", "_acc"))
    assert len(merged) == len(ranks) and np.allclose(merged["mean_rank"], merged["mean_rank_acc"])


def test_optimizer_tests_compare_lbfgs_with_sgd_only(ws, real_results):
    """Two variants of logreg are not an optimizer comparison, nor part of its Holm family."""
    variant = real_results[real_results["target"] == "logreg"].assign(
        target="logreg(C=10)", value=lambda f: f["value"] * 0.99)
    write_results(pd.concat([real_results, variant], ignore_index=True), ws.results_dir(NAME))
    build_report(NAME, ws, datasets="TREC", metric="accuracy")
    tests = pd.read_csv(ws.results_dir(NAME) / "significance_optimizer.csv")
    kinds = {tuple(sorted((a.split("(")[0], b.split("(")[0]))) for a, b in zip(tests["a"], tests["b"], strict=True)}
    assert kinds == {("logreg", "logreg-sgd")}
    assert set(tests["a"]) | set(tests["b"]) == {"logreg", "logreg(C=10)", "logreg-sgd"}
