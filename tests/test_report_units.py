"""The report's parts: paired tests, Holm, ranks, layout and the figures' axes and legends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from enso.errors import ConfigError
from enso.report.layout import Layout
from enso.report.leaderboard import ranks, scores
from enso.report.results import check_table
from enso.report.across import across_datasets, friedman_min_p, nemenyi_min_p
from enso.report.significance import (
    holm, holm_min_p, min_attainable_p, paired_test, pairwise_tests, resamples_needed,
)

from tests.report_helpers import SIZES, make_results


@pytest.fixture(scope="module")
def real_results(shared_datasets) -> pd.DataFrame:
    return check_table(make_results(shared_datasets, "report-test"))


# -- paired tests ---------------------------------------------------------------------------

def test_paired_test_equals_scipy_on_clean_differences():
    from scipy.stats import wilcoxon

    a = np.array([0.81, 0.79, 0.84, 0.80, 0.83, 0.82, 0.78])
    b = np.array([0.78, 0.80, 0.79, 0.78, 0.76, 0.76, 0.74])  # differences all distinct
    result = paired_test(a, b)
    reference = wilcoxon(a - b)
    assert result["p_value"] == pytest.approx(reference.pvalue) and result["statistic"] == reference.statistic
    assert result["n_pairs"] == result["n_nonzero"] == 7 and result["note"] == ""
    assert result["mean_diff"] == pytest.approx(np.mean(a - b))


def test_differences_equal_in_exact_arithmetic_tie_exactly():
    # 0.3 - 0.2 and 0.2 - 0.1 differ in floating point; rounded, they are one tied value
    a = np.array([0.3, 0.2, 0.5, 0.9, 0.7, 0.6])
    b = np.array([0.2, 0.1, 0.3, 0.6, 0.3, 0.1])
    result = paired_test(a, b)
    assert "tied differences" in result["note"]
    from scipy.stats import wilcoxon

    assert result["p_value"] == pytest.approx(wilcoxon(np.round(a - b, 12)).pvalue)


def test_zero_differences_are_dropped_and_said():
    a = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.4, 0.45])
    b = np.array([0.5, 0.6, 0.6, 0.7, 0.75, 0.2, 0.15])
    result = paired_test(a, b)
    assert result["n_pairs"] == 7 and result["n_nonzero"] == 5
    assert result["note"].startswith("2 zero differences dropped")
    assert "cannot reach p<0.05 (smallest possible p=0.0625)" in result["note"]
    from scipy.stats import wilcoxon

    assert result["p_value"] == pytest.approx(wilcoxon(a - b, zero_method="wilcox").pvalue)


def test_identical_scores_and_too_few_pairs_are_explicit():
    same = paired_test([0.7, 0.8, 0.9], [0.7, 0.8, 0.9])
    assert same["p_value"] == 1.0 and same["note"] == "identical on every shared resample"
    one = paired_test([0.7], [0.6])
    assert np.isnan(one["p_value"]) and one["note"] == "not tested: 1 shared resample (needs 2)"
    none = paired_test([], [])
    assert np.isnan(none["p_value"]) and none["note"].startswith("not tested: 0 shared resamples")


def test_min_attainable_p():
    assert min_attainable_p(5) == 0.0625 and min_attainable_p(6) == 0.03125 and min_attainable_p(0) == 1.0


def test_holm_against_hand_computed_values():
    adjusted = holm([0.01, 0.04, 0.03, np.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and np.isnan(adjusted[3])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert np.isnan(holm([np.nan])).all()


def test_pairs_use_only_shared_resamples():
    frame = pd.DataFrame({
        "dataset": "d", "metric": "accuracy", "target": "t", "train_size": 10,
        "featurizer": ["a"] * 4 + ["b"] * 3,
        "resample": [0, 1, 2, 3, 0, 1, 3],
        "value": [0.9, 0.8, 0.7, 0.95, 0.6, 0.5, 0.55],
    })
    table = pairwise_tests(frame, "featurizer", ["dataset", "metric", "target"])
    row = table.iloc[0]
    assert row["n_pairs"] == 3 and row["mean_a"] == pytest.approx((0.9 + 0.8 + 0.95) / 3)


# -- leaderboard -----------------------------------------------------------------------------

def test_ranks_follow_each_metrics_direction():
    rows = []
    for dataset, values in (("d1", (0.9, 0.8, 0.7)), ("d2", (0.7, 0.8, 0.7))):
        for featurizer, value in zip("abc", values):
            for metric, v in (("accuracy", value), ("log_loss", 1 - value)):
                rows.append({"dataset": dataset, "metric": metric, "train_size": 50, "featurizer": featurizer,
                             "target": "logreg", "resample": 0, "value": v})
    table = ranks(scores(pd.DataFrame(rows), ["featurizer", "target"]), ["featurizer", "target"])
    for metric in ("accuracy", "log_loss"):  # same ordering: lower log loss is better
        part = table[table["metric"] == metric].set_index("featurizer")
        assert part.loc["a", "mean_rank"] == pytest.approx((1 + 2.5) / 2)
        assert part.loc["b", "mean_rank"] == pytest.approx((2 + 1) / 2)
        assert part.loc["c", "mean_rank"] == pytest.approx((3 + 2.5) / 2)
        assert part.loc["b", "wins"] == 1 and part.loc["a", "wins"] == 1


# -- layout and figures ----------------------------------------------------------------------

@pytest.mark.slow
def test_a_dimension_left_off_the_layout_becomes_lines(real_results):
    frame = real_results.copy()
    frame.loc[frame["resample"] % 2 == 0, "resampler"] = "oversample"
    layout = Layout(("featurizer",), "dataset", "metric").resolved(frame)
    assert layout.lines == ("featurizer", "target", "resampler")
    with pytest.raises(ConfigError, match="unknown dimension 'size'"):
        Layout(("size",))


@pytest.mark.slow
def test_twelve_lines_stay_apart_and_the_legend_sits_outside_the_data(real_results):
    from enso.report import figures

    layout = Layout(("dataset", "featurizer", "target"), "none", "metric")
    fig = figures.curves(real_results, layout)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        axes = fig.axes
        assert len(axes) == 2
        legend = fig.legends[0]
        labels = [t.get_text() for t in legend.get_texts()]
        assert len(labels) == 12 and len(set(labels)) == 12
        box = legend.get_window_extent(renderer)
        for ax in axes:
            assert not box.overlaps(ax.get_window_extent(renderer))
            assert len(ax.get_lines()) == 12
        styles = {(tuple(line.get_color()), line.get_marker(), str(line.get_linestyle())) for line in axes[0].get_lines()}
        assert len(styles) == 12  # every curve looks different
    finally:
        figures.close(fig)


@pytest.mark.slow
def test_axes_say_what_they_show(real_results):
    from enso.report import figures

    fig = figures.curves(real_results, Layout())
    try:
        axes = np.array(fig.axes).reshape(2, 2)
        assert [ax.get_ylabel() for ax in axes[0]] == ["accuracy", "macro F1"]
        assert [ax.get_title() for ax in axes[:, 0]] == ["SST2 · accuracy", "TREC · accuracy"]  # the metric too
        for ax in axes[1]:
            assert ax.get_xscale() == "log" and ax.get_xlabel() == "training examples (log scale)"
            assert [int(t) for t in ax.get_xticks()] == list(SIZES)
            assert [t.get_text() for t in ax.get_xticklabels()] == [str(s) for s in SIZES]
    finally:
        figures.close(fig)
    fig = figures.curves(real_results, Layout(), statistic="sd", ylabel=lambda m: f"sd of {m}")
    try:
        assert fig.axes[0].get_ylabel() == "sd of accuracy" and fig.axes[0].get_ylim()[0] == 0
    finally:
        figures.close(fig)
    assert figures.metric_label("log_loss") == "log loss (lower is better)"


@pytest.mark.slow
def test_wide_intervals_stay_inside_the_metrics_range(real_results):
    from matplotlib.collections import PolyCollection

    from enso.report import figures
    from enso.report.stats import summarize

    two = real_results[real_results["resample"] < 2]  # t(1) = 12.7: raw intervals leave [0, 1]
    raw = summarize(two, ["dataset", "metric", "featurizer", "target", "train_size"])
    assert (raw["ci_high"] > 1).any() or (raw["ci_low"] < 0).any()
    fig = figures.curves(two, Layout())
    try:
        bands = [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]
        assert bands
        for band in bands:
            for path in band.get_paths():
                assert path.vertices[:, 1].min() >= 0 and path.vertices[:, 1].max() <= 1
        for ax in fig.axes:
            low, high = ax.get_ylim()
            assert -0.1 < low and high < 1.1
    finally:
        figures.close(fig)
    fig = figures.bars(two, Layout(), max(SIZES))
    try:
        for ax in fig.axes:
            assert ax.get_ylim()[1] < 1.1
    finally:
        figures.close(fig)


# -- Holm families too large for their resamples ---------------------------------------------

def test_three_featurizers_on_six_resamples_cannot_reach_alpha_and_say_so():
    """Issue 9.8's case: 0.90 against 0.49 on every one of 6 resamples, 3 featurizers (3 pairs):
    each raw p is 0.03125, Holm makes it 0.094, and the note says no pair could have passed."""
    rng = np.random.default_rng(0)
    rows = []
    for featurizer, level in (("minilm", 0.90), ("glove", 0.49), ("tfidf", 0.47)):
        for resample in range(6):
            rows.append({"dataset": "d", "metric": "accuracy", "target": "logreg", "train_size": 50,
                         "featurizer": featurizer, "resample": resample, "value": level + rng.uniform(0, 0.01)})
    table = pairwise_tests(pd.DataFrame(rows), "featurizer", ["dataset", "metric", "target"])
    assert len(table) == 3 and (table["holm_m"] == 3).all()
    best = table[(table["a"] == "minilm") & (table["b"] == "glove")].iloc[0]
    assert best["p_value"] == pytest.approx(0.03125) and not best["significant"]
    assert best["holm_min_p"] == pytest.approx(3 * 0.03125)
    assert "Holm over 3 tests: the smallest adjusted p is 0.0938, p<0.05 cannot be reached" in best["note"]
    assert resamples_needed(3) == 7 and resamples_needed(1) == 6 and resamples_needed(5) == 8
    assert holm_min_p(3, 7) == pytest.approx(3 * 2 / 128)
    two = pairwise_tests(pd.DataFrame([r for r in rows if r["featurizer"] != "tfidf"]), "featurizer",
                         ["dataset", "metric", "target"])
    assert bool(two["significant"].iloc[0]) and "Holm over" not in two["note"].iloc[0]


# -- across datasets ----------------------------------------------------------------------------

def _scores(values: dict[str, list[float]], metric: str = "accuracy") -> pd.DataFrame:
    rows = [{"dataset": f"d{i}", "metric": metric, "train_size": 100, "entry": entry, "mean": v}
            for entry, column in values.items() for i, v in enumerate(column) if v is not None]
    return pd.DataFrame(rows)


def test_across_datasets_refuses_a_claim_with_fewer_than_three_datasets():
    result = across_datasets(_scores({"a": [0.9, 0.8], "b": [0.5, 0.4], "c": [0.3, 0.2]}), "accuracy", 100)
    assert not result.claim_possible and result.test == "" and np.isnan(result.p_value)
    assert result.reason == "2 datasets, a test across datasets needs at least 3"
    assert result.top == "a" and result.beaten == [] and result.posthoc_p == {}


def test_two_configurations_are_compared_by_wilcoxon_over_datasets():
    from scipy.stats import wilcoxon

    a = [0.81, 0.72, 0.93, 0.64, 0.75, 0.86, 0.77]
    b = [0.70, 0.70, 0.80, 0.60, 0.69, 0.80, 0.70]
    result = across_datasets(_scores({"a": a, "b": b}), "accuracy", 100)
    assert result.test == "wilcoxon" and result.n_datasets == 7
    assert result.p_value == pytest.approx(wilcoxon(np.round(np.subtract(a, b), 12)).pvalue)
    assert result.beaten == ["b"] and result.min_p == pytest.approx(2 / 2 ** 7)
    lower = across_datasets(_scores({"a": a, "b": b}, "log_loss"), "log_loss", 100)
    assert lower.top == "b" and lower.beaten == ["a"]  # lower is better: b is the better one


def test_friedman_uses_only_configurations_on_every_dataset_and_its_floor():
    from scipy.stats import chi2, friedmanchisquare

    values = {"a": [0.9, 0.8, 0.7, 0.95], "b": [0.6, 0.5, 0.6, 0.7], "c": [0.5, 0.55, 0.4, 0.6],
              "partial": [0.99, None, 0.99, 0.99]}
    result = across_datasets(_scores(values), "accuracy", 100)
    assert result.left_out == ["partial"] and sorted(result.configurations) == ["a", "b", "c"]
    expected = friedmanchisquare(values["a"], values["b"], values["c"])
    assert result.statistic == pytest.approx(expected.statistic) and result.p_value == pytest.approx(expected.pvalue)
    assert result.min_p == pytest.approx(chi2.sf(4 * 2, 2)) == friedman_min_p(4, 3)
    assert result.top == "a" and result.top_mean_rank == 1.0
    assert nemenyi_min_p(3, 6) < 0.05 < nemenyi_min_p(2, 6)


def test_dollar_signs_in_names_are_text_not_mathtext():
    """matplotlib parses $...$ as mathtext: an experiment or featurizer named '$^$' made the report
    a ParseSyntaxException traceback."""
    from enso.report import figures

    plt = figures.pyplot()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [0.5, 0.6], label="$^$ featurizer")
    ax.set_title("$^$")
    ax.legend()
    try:
        svg = figures.svg_text(fig, salt="dollar")
    finally:
        figures.close(fig)
    assert "$^$" in svg


def test_measurements_in_chosen_params_are_shown_as_a_range_not_listed_one_by_one():
    from enso.report.sections import _chosen_values

    seconds = [5.758, 8.085, 7.835, 5.94, 5.506, 8.11]
    counts = {f"{v:g}": 1 for v in seconds}
    assert _chosen_values("fit_seconds", counts, seconds) == "fit_seconds 5.506–8.11 (6 values)"
    # a searched value chosen on every resample stays a count; a few distinct choices stay listed
    assert _chosen_values("C", {"1": 6}, [1.0] * 6) == "C 1 (6×)"
    assert _chosen_values("C", {"1": 4, "10": 2}, [1.0] * 4 + [10.0] * 2) == "C 1 (4×), 10 (2×)"
    assert _chosen_values("n_neighbors", {str(k): 1 for k in range(1, 7)}, []).startswith("n_neighbors 1 (1×), 2 (1×)")
