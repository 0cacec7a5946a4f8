"""Report polish (issue 14) and sequence/pair results (issue 13), on synthetic results tables:
the metric in panel titles, the majority-class reference, an average-score column in the
leaderboard, featurization cost and run metadata from run.json, sections that do not apply left
out with the one line that says why; per-type rows (``span_f1:PER``) kept out of curves, ranks
and tests and shown as their own table; pair-feature labels."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from enso.report import build_report, figures
from enso.report.layout import Layout
from enso.workspace import Workspace
from tests.report_helpers import write_results
from tests.report_synthetic import synthetic_results, write_run

RUN = {
    "command": ["/work/.venv/bin/enso", "run", "demo", "--jobs", "1"], "started": "2026-12-02T10:00:00+00:00",
    "finished": "2026-12-02T10:03:00+00:00", "seconds": 180.5, "jobs": 1, "blas_threads_per_worker": 2,
    "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": True},
    "hardware": {"machine": "x86_64", "system": "Linux-6.1", "cpus": 2, "processor": "Xeon", "memory_gb": 7.6},
    "versions": {"enso": "0.3.0", "numpy": "2.1.0", "torch": "2.13.0", "scikit-learn": "1.7.0"},
    "engine_version": 4, "status": "complete",
    "featurizers": {
        "minilm": {"id": "minilm-abc", "featurizer": "minilm", "seconds": 61.25, "load_seconds": 1.5,
                   "texts_per_second": 412.3, "precision": "bf16", "device": "cpu", "datasets": {}},
        "tfidf": {"id": "tfidf-def", "featurizer": "tfidf", "seconds": 0.75, "load_seconds": 0.0,
                  "texts_per_second": 90000.0, "precision": None, "device": None, "datasets": {}},
    },
}


@pytest.fixture(scope="module")
def one_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("sections")
    frame = synthetic_results(name="one", datasets=("A",), featurizers=("minilm", "tfidf"),
                              targets=("logreg", "knn"), levels={"minilm": 0.8, "tfidf": 0.6})
    write_results(frame, root / "results" / "one")
    write_run(root / "results" / "one", **RUN)
    return frame, root, build_report("one", Workspace(root))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_one_dataset_leaves_the_across_dataset_part_out_with_one_line(one_dataset):
    _, _, report = one_dataset
    text = report.markdown.read_text()
    summary = text.split("## Best choices per training size", 1)[1].split("\n## ", 1)[0]
    assert "across datasets (" not in summary and "no claim can be made" not in summary
    assert ("No comparison across datasets: 1 dataset, and a test across datasets needs at least 3; the best "
            "choices above hold for its dataset only.") in summary
    assert "| sections left out | comparison across datasets (1 dataset;" in text
    assert "L-BFGS against SGD (the results do not hold both" in text
    assert "### Optimizer" not in text  # left out, not an empty section


def test_leaderboard_has_an_average_score_column(one_dataset):
    frame, root, report = one_dataset
    text = (root / "results" / "one" / "leaderboard.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| configuration"))
    assert header.rstrip(" |").endswith("average score")
    scores = pd.read_csv(root / "results" / "one" / "scores.csv")
    for (featurizer, target), part in scores.groupby(["featurizer", "target"]):
        expected = part["mean"].mean()  # one dataset: the mean over sizes of the means over resamples
        row = next(line for line in text.splitlines() if line.startswith(f"| {featurizer} · {target} |"))
        assert row.rstrip(" |").split("|")[-1].strip().strip("*") == f"{expected:.3f}"


def test_featurization_cost_and_run_metadata_come_from_run_json(one_dataset):
    _, _, report = one_dataset
    text = report.markdown.read_text()
    cost = text.split("## Featurization cost", 1)[1].split("\n## ", 1)[0]
    assert "| minilm | 61.25 | 1.50 | 412.3 | bf16 | cpu | minilm-abc |" in cost
    assert "| tfidf | 0.75 | 0.00 | 90000.0 | – | – | tfidf-def |" in cost
    meta = text.split("## Run metadata", 1)[1].split("\n## ", 1)[0]
    assert "| command | /work/.venv/bin/enso run demo --jobs 1 |" in meta
    assert "0123456789abcdef0123456789abcdef01234567 (with uncommitted changes)" in meta
    assert "Xeon; x86_64; 2 CPUs; 7.6 GB memory; Linux-6.1; featurized on cpu" in meta
    assert "enso 0.3.0, numpy 2.1.0, scikit-learn 1.7.0, torch 2.13.0" in meta
    assert "| wall time | 180.5 s |" in meta


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_without_run_json_those_sections_are_left_out(tmp_path):
    frame = synthetic_results(name="bare", featurizers=("f1",), targets=("logreg",), sizes=(8, 32), resamples=3)
    write_results(frame, tmp_path / "results" / "bare")
    text = build_report("bare", Workspace(tmp_path)).markdown.read_text()
    assert "## Featurization cost" not in text and "## Run metadata" not in text
    assert "## Significance: featurizers compared" not in text and "featurizers compared (one featurizer)" in text


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_panel_titles_name_the_metric_and_the_reference_line_is_drawn():
    frame = synthetic_results(datasets=("A", "B"), metrics=("accuracy", "macro_f1"), resamples=3)
    reference = frame.groupby(["dataset", "metric", "train_size"])["baseline_value"].mean().rename("value")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = figures.curves(frame, Layout(("featurizer", "target"), "dataset", "none"),
                             reference=reference.reset_index()[lambda f: f["metric"] == "accuracy"])
        fig.canvas.draw()
    try:
        titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        # rows=dataset, no metric facet: the panel's one metric... or 'score' when it mixes two
        assert titles == ["A", "B"]
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert figures.REFERENCE_LABEL not in legend  # panels mix two metrics: one reference would mislead
    finally:
        figures.close(fig)
    fig = figures.curves(frame, Layout(), reference=reference.reset_index())
    try:
        titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        assert titles == ["A · accuracy", "A · macro F1", "B · accuracy", "B · macro F1"]
        assert figures.REFERENCE_LABEL in [t.get_text() for t in fig.legends[0].get_texts()]
    finally:
        figures.close(fig)


@pytest.fixture(scope="module")
def sequence_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner")
    frame = synthetic_results(name="ner", datasets=("CoNLL2003",), featurizers=("minilm", "glove"),
                              targets=("token-logreg", "crf"), metrics=("span_f1", "token_accuracy"),
                              per_type={"span_f1": ("LOC", "MISC", "ORG", "PER")}, resamples=3)
    write_results(frame, root / "results" / "ner")
    return frame, root, build_report("ner", Workspace(root))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_per_type_rows_stay_out_of_curves_ranks_and_tests(sequence_report):
    frame, root, report = sequence_report
    folder = root / "results" / "ner"
    for name in ("scores.csv", "leaderboard.csv", "significance.csv", "summary.csv"):
        table = pd.read_csv(folder / name)
        if "metric" in table.columns:
            assert set(table["metric"]) <= {"span_f1", "token_accuracy"}, name
    text = report.markdown.read_text()
    assert "span_f1:PER" not in text.split("## Scores per type", 1)[0]
    assert "Ranked by span F1" in text
    per_type = text.split("## Scores per type", 1)[1].split("\n## ", 1)[0]
    assert "| configuration | LOC | MISC | ORG | PER |" in per_type
    assert "CoNLL2003: span F1 per type at 128 training examples" in per_type
    table = pd.read_csv(folder / "per_type.csv")
    assert set(table["type"]) == {"LOC", "MISC", "ORG", "PER"} and set(table["metric"]) == {"span_f1"}
    rows = frame[(frame["metric"] == "span_f1:PER") & (frame["featurizer"] == "minilm") & (frame["target"] == "crf")
                 & (frame["train_size"] == 128)]
    got = table[(table["type"] == "PER") & (table["configuration"] == "minilm · crf") & (table["train_size"] == 128)]
    assert got["mean"].iloc[0] == pytest.approx(rows["value"].mean())


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_metric_filter_keeps_its_per_type_rows(sequence_report, tmp_path):
    frame, _, _ = sequence_report
    write_results(frame, tmp_path / "results" / "ner")
    text = build_report("ner", Workspace(tmp_path), metric="token_accuracy").markdown.read_text()
    assert "## Scores per type" not in text  # token accuracy has no types
    text = build_report("ner", Workspace(tmp_path), metric="span_f1", targets="crf").markdown.read_text()
    assert "## Scores per type" in text and "minilm · crf" in text


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_pair_feature_labels_render(tmp_path):
    from tests.test_report_labels import assert_readable

    labels = ("minilm(pair_features=a,b)", "minilm(pair_features=a,absdiff,b,product)",
              "minilm(pair_features=absdiff,product)")
    frame = synthetic_results(name="pairs", datasets=("SICK", "MRPC"), featurizers=labels, targets=("logreg",),
                              metrics=("accuracy", "f1"), resamples=3)
    for make in (lambda: figures.curves(frame, Layout()),
                 lambda: figures.bars(frame, Layout(("featurizer", "target"), "dataset", "metric"), 128)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig = make()
        try:
            assert_readable(fig)
            texts = [t.get_text().replace("\n", "") for t in fig.legends[0].get_texts()] if fig.legends else \
                [t.get_text().replace("\n", "") for ax in fig.axes for t in ax.get_xticklabels()]
            for label in labels:
                assert label in texts
        finally:
            figures.close(fig)
    write_results(frame, tmp_path / "results" / "pairs")
    text = build_report("pairs", Workspace(tmp_path)).markdown.read_text()
    assert "minilm(pair_features=a,absdiff,b,product) · logreg" in text and "F1 (positive class)" in text


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_the_untestable_note_counts_ties_not_resamples(tmp_path):
    # 7 resamples and Holm over 2 comparisons could reach 2 x 2/128 = 0.031; a tie on one resample
    # leaves 6 non-zero differences, whose floor is 2 x 2/64 = 0.0625: the note must say why
    frame = synthetic_results(name="ties", datasets=("A",), featurizers=("f",), targets=("a", "b", "c"),
                              sizes=(16,), resamples=7, levels={"a": 0.8, "b": 0.7, "c": 0.6})
    first = frame["resample"] == 0
    best = frame.loc[first & (frame["target"] == "a"), "value"].to_numpy()
    for target in ("b", "c"):
        frame.loc[first & (frame["target"] == target), "value"] = best
    write_results(frame, tmp_path / "results" / "ties")
    text = build_report("ties", Workspace(tmp_path)).markdown.read_text()
    assert ("with 7 resamples, of which at most 6 differ (a tie on a resample is no difference), Holm over 2 "
            "comparisons cannot give an adjusted p below 0.0625 (7 non-zero paired differences needed)") in text
