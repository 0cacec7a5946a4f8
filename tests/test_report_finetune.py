"""Frozen or fine-tuned in the report (issue 12): with targets that fine-tune their source model
(``tags.input == "texts"``), learning curves and spreads side by side per source featurizer, a
table saying at which sizes fine-tuning pays (paired Wilcoxon over the shared resamples against
the best frozen target, Holm over the fine-tuned x frozen pairs), and seconds per cell beside
the scores. Synthetic results tables through the report's own inputs; a toy texts target is
registered for the test, so the section does not depend on which fine-tuning targets exist."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from enso.report import build_report
from enso.report.analysis import fine_tunes
from enso.report.finetuning import FROZEN_BETTER, PAYS
from enso.report.significance import holm
from enso.targets import TARGETS
from enso.targets.base import Target, TargetTags
from enso.workspace import Workspace
from tests.report_helpers import write_results
from tests.report_synthetic import synthetic_results

NAME = "ft-test"
TOY = "toy-tune(source=minilm)"
SIZES = (8, 32, 128)


class ToyTune(Target):
    """A texts target that is never fitted here: the report only reads its tags."""

    tags: ClassVar[TargetTags] = TargetTags(input="texts", accepts_sparse=False)


@pytest.fixture(scope="module")
def toy_registered():
    TARGETS.register("toy-tune", ToyTune)
    yield
    TARGETS._items.pop("toy-tune", None)
    TARGETS._names.pop("toy-tune", None)


def _results() -> pd.DataFrame:
    frame = synthetic_results(name=NAME, datasets=("A", "B"), featurizers=("minilm", "tfidf"),
                              targets=("logreg", "knn", TOY), sizes=SIZES, resamples=8,
                              pairs={TOY: ("minilm",)}, levels={TOY: 0.7, "logreg": 0.7, "knn": 0.65},
                              spread={TOY: 0.05}, cost={TOY: 12.0, "logreg": 0.02, "knn": 0.005})
    toy = frame["target"] == TOY
    # fine-tuning loses at 8 examples and wins at 128, by more than any resample's luck
    frame.loc[toy & (frame["train_size"] == 8), "value"] -= 0.15
    frame.loc[toy & (frame["train_size"] == 128), "value"] += 0.15
    return frame


@pytest.fixture(scope="module")
def built(tmp_path_factory, toy_registered):
    root = tmp_path_factory.mktemp("ft")
    frame = _results()
    write_results(frame, root / "results" / NAME)
    return frame, root, build_report(NAME, Workspace(root))


def test_fine_tuning_targets_are_known_by_their_tags(toy_registered):
    assert fine_tunes(TOY) and fine_tunes("finetune(source=minilm)") and fine_tunes("setfit(source=minilm)")
    assert not fine_tunes("logreg") and not fine_tunes("knn(n_neighbors=5)")
    assert not fine_tunes("not-installed-plugin(source=x)")  # unknown: treated as frozen, no error


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_the_section_says_where_fine_tuning_pays_with_the_paired_test(built):
    from scipy.stats import wilcoxon

    frame, root, report = built
    folder = root / "results" / NAME
    names = {p.name for p in report.figures}
    assert {"finetune_accuracy.png", "finetune_spread_accuracy.png"} <= names
    v = pd.read_csv(folder / "finetune.csv")
    assert set(v["featurizer"]) == {"minilm"} and set(v["fine_tuned"]) == {TOY}  # tfidf has no fine-tuning
    assert len(v) == 2 * len(SIZES)
    for _, row in v.iterrows():
        cell = frame[(frame["dataset"] == row["dataset"]) & (frame["featurizer"] == "minilm")
                     & (frame["train_size"] == row["train_size"]) & (frame["metric"] == "accuracy")]
        by = {t: cell[cell["target"] == t].set_index("resample")["value"].sort_index() for t in ("logreg", "knn", TOY)}
        best = max(("logreg", "knn"), key=lambda t: by[t].mean())
        assert row["frozen"] == best
        assert row["mean_ft"] == pytest.approx(by[TOY].mean()) and row["sd_ft"] == pytest.approx(by[TOY].std())
        assert row["sd_frozen"] == pytest.approx(by[best].std())
        p = {t: wilcoxon(np.round(by[TOY].to_numpy() - by[t].to_numpy(), 12)).pvalue for t in ("logreg", "knn")}
        adjusted = dict(zip(p, holm(list(p.values()))))  # Holm over the two frozen targets of this cell
        assert row["p_value"] == pytest.approx(p[best]) and row["p_holm"] == pytest.approx(adjusted[best])
        assert row["mean_diff"] == pytest.approx(by[TOY].mean() - by[best].mean())
        assert row["seconds_ft"] == pytest.approx(12.0 * 1.1) and row["seconds_frozen"] < 0.1
        if row["train_size"] == 128:
            assert row["verdict"] == PAYS
        if row["train_size"] == 8:
            assert row["verdict"] == FROZEN_BETTER
    text = report.markdown.read_text()
    summary = text.split("## Best choices per training size", 1)[1].split("\n## ", 1)[0]
    assert f"B, {TOY} on minilm: fine-tuning pays at 128 examples" in summary  # the answer up front
    section = text.split("## Frozen or fine-tuned", 1)[1].split("\n## ", 1)[0]
    assert f"A, {TOY} on minilm: fine-tuning pays at 128 examples; the best frozen target is better at 8" in section
    assert "Holm-corrected over the pairs of a fine-tuned and a frozen target" in section
    assert "s/cell fine-tuned" in section and "| 13.20 |" in section  # the cost beside the score
    assert "![finetune spread accuracy](finetune_spread_accuracy.png)" in section


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_without_fine_tuning_targets_the_section_is_left_out(tmp_path, toy_registered):
    frame = _results()
    frame = frame[frame["target"] != TOY]
    write_results(frame, tmp_path / "results" / NAME)
    report = build_report(NAME, Workspace(tmp_path), targets="logreg")
    text = report.markdown.read_text()
    assert "## Frozen or fine-tuned" not in text and not (tmp_path / "results" / NAME / "finetune.csv").exists()
    assert "frozen or fine-tuned (no target fine-tunes its source model)" in text


def test_the_answer_says_when_there_is_nothing_to_compare_with():
    from enso.report.finetuning import answer

    v = pd.DataFrame([{"dataset": "A", "featurizer": "m", "fine_tuned": "t", "train_size": s, "frozen": "",
                       "verdict": "no frozen target on this source"} for s in (8, 32)])
    assert answer(v) == ["A, t on m: no frozen target on this source to compare with"]
    v["frozen"], v["verdict"] = "logreg", ["n.s.", PAYS]
    assert answer(v) == ["A, t on m: fine-tuning pays at 32 examples"]


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_labelled_fine_tuning_target_is_found_through_run_json(tmp_path, toy_registered):
    from tests.report_synthetic import write_run

    frame = _results()
    frame["target"] = frame["target"].replace({TOY: "my-tuned-minilm"})  # a target table's label = "..."
    write_results(frame, tmp_path / "results" / NAME)
    write_run(tmp_path / "results" / NAME, config={"targets": [
        "logreg", "knn", {"name": "toy-tune", "source": "minilm", "label": "my-tuned-minilm"}]})
    text = build_report(NAME, Workspace(tmp_path), datasets="A").markdown.read_text()
    assert "A, my-tuned-minilm on minilm: fine-tuning pays at 128 examples" in text
