"""Figures stay readable with long and many labels (issue 14): 12 configurations whose labels
are 60-character model paths. Checked on the drawn figure with matplotlib's renderer: the
legend and every tick label lie inside the figure, and neither overlaps a panel's plotting
area or another tick label; no warning is raised while drawing."""

from __future__ import annotations

import warnings

import pytest

from enso.report import figures, labels
from enso.report.layout import Layout
from tests.report_synthetic import long_labels, synthetic_results

LONG = long_labels(12, 60)


def _boxes(fig):
    """(figure box, legend boxes, axes boxes, tick-label boxes per axes, title boxes) in display pixels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [legend.get_window_extent(renderer) for legend in fig.legends]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    legends += [ax.get_legend().get_window_extent(renderer) for ax in axes if ax.get_legend() is not None]
    ticks = []
    for ax in axes:
        found = []
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():  # the ones drawn: inside the view, with text
                text = tick.label1
                if low - 1e-9 <= tick.get_loc() <= high + 1e-9 and text.get_visible() and text.get_text():
                    found.append(text.get_window_extent(renderer))
        ticks.append(found)
    titles = [ax.title.get_window_extent(renderer) for ax in axes if ax.get_title()]
    return fig.bbox, legends, [ax.get_window_extent(renderer) for ax in axes], ticks, titles


def _inside(inner, outer, slack=1.0) -> bool:
    return (inner.x0 >= outer.x0 - slack and inner.y0 >= outer.y0 - slack and inner.x1 <= outer.x1 + slack
            and inner.y1 <= outer.y1 + slack)


def _overlap(a, b, slack=0.5) -> bool:
    return a.x0 < b.x1 - slack and b.x0 < a.x1 - slack and a.y0 < b.y1 - slack and b.y0 < a.y1 - slack


def assert_readable(fig) -> None:
    box, legends, panels, ticks, titles = _boxes(fig)
    for legend in legends:
        assert _inside(legend, box), f"legend {legend} leaves the figure {box}"
        for panel in panels:
            assert not _overlap(legend, panel), f"legend {legend} overlaps a panel {panel}"
        for title in titles:
            assert not _overlap(legend, title), "legend overlaps a panel title"
    for own, found in zip(panels, ticks):
        for i, tick in enumerate(found):
            assert _inside(tick, box), f"tick label {tick} leaves the figure {box}"
            for panel in panels:
                assert not _overlap(tick, panel), f"tick label {tick} overlaps a panel {panel}"
            for legend in legends:
                assert not _overlap(tick, legend), "tick label overlaps the legend"
            for other in found[i + 1:]:
                assert not _overlap(tick, other), f"tick labels {tick} and {other} overlap"
    for title in titles:
        assert _inside(title, box), "a panel title leaves the figure"


@pytest.fixture(scope="module")
def frame():
    return synthetic_results(datasets=("SST2", "TREC"), featurizers=tuple(LONG), targets=("logreg", "knn"),
                             sizes=(8, 32, 128), resamples=3, metrics=("accuracy", "macro_f1"))


def _drawn(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a layout matplotlib gives up on warns: fail on it
        fig = make()
        fig.canvas.draw()
    return fig


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
@pytest.mark.parametrize("which", ["curves", "variance", "bars", "bars_one_target", "by_featurizer"])
def test_twelve_sixty_character_labels_overlap_nothing(frame, which):
    reference = frame.groupby(["dataset", "metric", "train_size"])["baseline_value"].mean().rename("value")
    reference = reference.reset_index()
    makers = {
        "curves": lambda: figures.curves(frame, Layout(), title="t", reference=reference),
        "variance": lambda: figures.curves(frame, Layout(), statistic="sd", title="t",
                                           ylabel=lambda n: f"sd of {n} across resamples"),
        "bars": lambda: figures.bars(frame, Layout(("featurizer", "target"), "dataset", "metric"), 128, title="t"),
        "bars_one_target": lambda: figures.bars(frame[frame["target"] == "knn"],
                                                Layout(("featurizer", "target"), "dataset", "metric"), 128),
        "by_featurizer": lambda: figures.curves(frame[frame["metric"] == "accuracy"],
                                                Layout(("target",), "dataset", "featurizer"), title="t"),
    }
    fig = _drawn(makers[which])
    try:
        assert_readable(fig)
        width, height = fig.get_size_inches()
        assert width < 40 and height < 40  # grows with the entries, within reason
    finally:
        figures.close(fig)


def test_the_check_catches_what_the_old_figures_did():
    """The overlap check can fail: long unwrapped tick labels rotated as before overprint."""
    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(range(12), [1] * 12)
    ax.set_xticks(range(12))
    ax.set_xticklabels(LONG, rotation=20, ha="right")
    with pytest.raises(AssertionError):
        assert_readable(fig)
    figures.close(fig)


def test_labels_are_shortened_wrapped_and_stay_distinct():
    shown = labels.display(LONG)
    assert len(set(shown.values())) == len(LONG)
    for label in LONG:
        text = shown[label]
        assert "/srv/models" not in text  # the path shows its folder name
        assert all(len(line) <= labels.WIDTH for line in text.split("\n")) and labels.line_count(text) <= labels.LINES
    assert labels.shorten_paths("hf-encoder(path=/a/b/mymodel/)") == "hf-encoder(path=mymodel)"
    assert labels.shorten_paths("/models/own-model") == "own-model"
    assert labels.shorten_paths("minilm(pair_features=a,b)") == "minilm(pair_features=a,b)"
    same = labels.display(["hf(path=/a/model)", "hf(path=/b/model)"])  # one folder name, two models
    assert len(set(same.values())) == 2 and "/a/model" in same["hf(path=/a/model)"].replace("\n", "")
    long = "x" * 200
    cut = labels.wrap(long)
    assert cut.count("\n") == labels.LINES - 1 and labels.ELLIPSIS in cut


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_visualize_with_twelve_long_labels_prints_no_warning(tmp_path):
    """The whole report through the command: nothing on stderr (-q hides enso's own log lines only)."""
    from tests.cli import enso
    from tests.report_helpers import write_results

    frame = synthetic_results(name="long", datasets=("SST2",), featurizers=tuple(LONG), targets=("logreg", "knn"),
                              sizes=(8, 32, 128), resamples=3)
    write_results(frame, tmp_path / "results" / "long")
    with warnings.catch_warnings():  # pytest records warnings itself: make any warning fail the command
        warnings.simplefilter("error")
        result = enso("visualize", "long", "-q", root=tmp_path, catch_exceptions=False)
    assert result.code == 0, result.output
    assert result.stderr == ""
    html = (tmp_path / "results" / "long" / "report.html").read_text()
    assert LONG[0] in html  # tables keep the full label; figures shorten it
