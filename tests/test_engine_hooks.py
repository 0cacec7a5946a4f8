"""Engine hooks other task types build on (fast tier, toy tasks, nothing of enso edited):

- samplers draw by ``dataset.strata`` (sentence-level draws when labels are per token);
- a cell of a per-token task stores flat per-token arrays with ``<part>_offsets``; label metrics
  read the flat arrays, ``needs="spans"`` metrics get ``offsets=``;
- a metric with ``per_type`` adds one row per type, ``"<name>:<type>"``;
- a resampler on a per-token task is a one-line config error.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from enso.data import Dataset
from enso.engine.assemble import metric_rows, per_type_metric
from enso.engine.cellstore import check_cell
from enso.engine.inputs import DatasetRef, TargetInput
from enso.engine.plan import build_plan, draw_rows
from enso.engine.worker import CellTask, run_cell
from enso.errors import ConfigError
from enso.metrics import METRICS, Metric
from enso.protocols.base import Draw
from enso.targets.base import Target, TargetTags
from enso.tasks import TASKS, Ragged, TaskType, token_units

TASK = "toy-sentences"


class ToySentences(TaskType):
    """One sentence per row, a tag per token; a sentence's stratum: whether it holds an entity."""

    name = TASK
    columns = ("tokens", "tags", "split")
    dtypes: ClassVar = {"split": str}
    unit = "token"
    label_unit = "token"
    row_noun = "sentence"
    metrics = ()

    def check_values(self, frame, name):
        return frame.assign(tokens=[[str(t) for t in ts] for ts in frame["tokens"]],
                            tags=[[str(t) for t in ts] for ts in frame["tags"]])

    def units(self, frame):
        return token_units(frame, "tokens")

    def labels(self, frame):
        return Ragged.from_lists(frame["tags"])

    def strata(self, frame):
        return np.asarray(["entity" if any(t != "O" for t in tags) else "none" for tags in frame["tags"]],
                          dtype=object)

    def row_keys(self, frame):
        return pd.Series([tuple(t) for t in frame["tokens"]], dtype=object).to_numpy()

    def target_input(self, features, frame, rows, options=None):
        return Ragged(features, self.layout_of(frame).offsets)[rows]


class TokenCentroids(Target):
    """Per-token nearest centroid on flat per-token features; predicts a Ragged, like a sequence target."""

    name = "toy-token-centroids"
    tags: ClassVar = TargetTags(accepts_sparse=False, tasks=(TASK,), proba=False)

    def __init__(self, random_state=None, resampler="none"):
        self.random_state = random_state
        self.resampler = resampler

    def fit(self, X, y, *, validation=None):
        assert isinstance(X, Ragged) and isinstance(y, Ragged)
        assert np.array_equal(X.offsets, y.offsets)
        values, flat = np.asarray(X.values), np.asarray(y.values)
        self.classes_ = np.unique(flat)
        self.centroids_ = np.stack([values[flat == c].mean(axis=0) for c in self.classes_])
        self.chosen_params_ = {}
        return self

    def predict(self, X):
        distance = ((np.asarray(X.values)[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        return Ragged(self.classes_[distance.argmin(axis=1)], X.offsets)


def spans(tags, offsets):
    """(sentence, start, end, type) of each entity: a run of one B-/I- type within a sentence."""
    found = set()
    for sentence, (start, end) in enumerate(itertools.pairwise(offsets)):
        current = None
        for i in range(int(start), int(end) + 1):
            tag = tags[i] if i < end else "O"
            kind = tag[2:] if tag != "O" else None
            if current is not None and (kind != current[1] or tag.startswith("B-")):
                found.add((sentence, current[0], i, current[1]))
                current = None
            if kind is not None and current is None:
                current = (i, kind)
    return found


def _f1(true, pred):
    hit = len(true & pred)
    return 2 * hit / (len(true) + len(pred)) if true or pred else 0.0


def span_f1(y_true, y_pred, offsets):
    assert offsets is not None, "a spans metric is called with the sentence offsets"
    return _f1(spans(list(y_true), offsets), spans(list(y_pred), offsets))


def span_f1_per_type(y_true, y_pred, classes=None, scores=None, offsets=None):
    true, pred = spans(list(y_true), offsets), spans(list(y_pred), offsets)
    kinds = {s[3] for s in true | pred}
    return {k: _f1({s for s in true if s[3] == k}, {s for s in pred if s[3] == k}) for k in kinds}


@dataclass(frozen=True)
class TypedMetric(Metric):
    per_type: Any = None


def _register(monkeypatch, registry, name, obj):
    monkeypatch.setitem(registry._items, name, obj)
    monkeypatch.setitem(registry._names, name.lower(), name)


@pytest.fixture
def toy(monkeypatch):
    from enso.targets import TARGETS

    _register(monkeypatch, TASKS, TASK, ToySentences())
    _register(monkeypatch, TARGETS, TokenCentroids.name, TokenCentroids)
    _register(monkeypatch, METRICS, "toy_span_f1", TypedMetric(
        "toy_span_f1", "spans", True, "entity F1 (toy)", span_f1, tasks=(TASK,), per_type=span_f1_per_type))
    _register(monkeypatch, METRICS, "toy_token_accuracy", Metric(
        "toy_token_accuracy", "labels", True, "share of correct tags", lambda t, p: float(np.mean(t == p)),
        METRICS.get("accuracy").from_confusion, tasks=(TASK,)))


SENTENCES = [
    (["John", "lives", "in", "Paris"], ["B-PER", "O", "O", "B-LOC"]),
    (["hello", "there"], ["O", "O"]),
    (["Mary", "Smith", "left"], ["B-PER", "I-PER", "O"]),
    (["it", "rains"], ["O", "O"]),
    (["Anna", "saw", "Rome"], ["B-PER", "O", "B-LOC"]),
    (["so", "it", "goes"], ["O", "O", "O"]),
    (["Bob", "in", "Oslo"], ["B-PER", "O", "B-LOC"]),
    (["nothing", "here"], ["O", "O"]),
]


def sentence_frame(copies: int = 3) -> pd.DataFrame:
    rows = []
    for copy in range(copies):
        for tokens, tags in SENTENCES:
            rows.append((tokens, tags, "train"))
    rows += [(["Tom", "met", "Paris"], ["B-PER", "O", "B-LOC"], "test"), (["a", "day"], ["O", "O"], "test"),
             (["Lisa", "Berg", "in", "Rome"], ["B-PER", "I-PER", "O", "B-LOC"], "test")]
    return pd.DataFrame(rows, columns=["tokens", "tags", "split"])


def token_features(dataset: Dataset) -> np.ndarray:
    """Two numbers per token: capitalised, and the token a place name (enough to separate the toy tags)."""
    flat = [token for tokens in dataset.units.items for token in tokens]
    places = {"Paris", "Rome", "Oslo"}
    return np.asarray([[float(t[0].isupper()), float(t in places)] for t in flat], dtype=np.float32)


# -- samplers draw by strata --------------------------------------------------------------------------


def test_samplers_draw_sentences_by_the_tasks_strata_when_labels_are_per_token(toy):
    dataset = Dataset.from_frame("Sentences", sentence_frame(), task=TASK)
    assert isinstance(dataset.labels, Ragged)
    pool = dataset.split_index("train")
    strata = dataset.strata[pool]
    assert (strata == "entity").sum() == 12 and (strata == "none").sum() == 12
    for size in (4, 6, 10):
        rows = draw_rows(Draw("Sentences", "random", size, 0, 123), dataset)
        assert len(rows) == size and len(set(rows.tolist())) == size and np.isin(rows, pool).all()
        # stratified on the sentence's stratum: half the sentences hold an entity, as in the pool
        assert (dataset.strata[rows] == "entity").sum() == size // 2
    balanced = draw_rows(Draw("Sentences", "balanced", 6, 0, 5), dataset)
    assert sorted(dataset.strata[balanced].tolist()) == ["entity"] * 3 + ["none"] * 3


def test_the_enso_protocol_plans_sentence_cells_and_counts_tags_as_classes(toy):
    from enso.config import ExperimentConfig, Spec

    dataset = Dataset.from_frame("Sentences", sentence_frame(), task=TASK)
    config = ExperimentConfig(name="seq", datasets=["Sentences"], featurizers=[Spec("tfidf")],
                              targets=[Spec(TokenCentroids.name)], train_sizes=[4, 8, 100], resamples=2,
                              metrics=["toy_token_accuracy"], samplers=["random"], resamplers=["none"], seed=0,
                              max_examples=None)
    plan = build_plan(config, {"Sentences": dataset})
    assert len(plan.cells) == 4 and {c.train_size for c in plan.cells} == {4, 8}
    assert [s.train_size for s in plan.skipped] == [100]
    assert {c.n_classes for c in plan.cells} == {4}  # B-LOC, B-PER, I-PER, O in the train tokens

    from enso.engine import checks

    with pytest.raises(ConfigError, match="resampler oversample balances one label per row, but dataset Sentences"):
        checks.check_plan(build_plan(ExperimentConfig(**{**config.__dict__, "resamplers": ["oversample"]}),
                                     {"Sentences": dataset}))


# -- per-token cells: flat arrays with offsets, span metrics with offsets, per-type rows ----------------


def _task(dataset, path, train, test, metrics) -> CellTask:
    labels = dataset.labels
    description = TargetInput(kind="features", task=TASK, dataset=DatasetRef("Sentences", "", None,
                                                                             dataset.content_hash),
                              layout=dataset.layout, features=str(path))
    meta = {"experiment": "seq", "protocol": "enso", "dataset": "Sentences", "featurizer": "toy",
            "featurizer_id": "toy-1", "target": TokenCentroids.name, "target_params": "{}", "sampler": "random",
            "resampler": "none", "train_size": len(train), "resample": 0, "n_classes": 4, "seed": 0}
    return CellTask(key="k" * 64, input=description, train=train, test=test, test_id="t", y_train=labels[train],
                    y_test=labels[test], target_name=TokenCentroids.name, target_params={}, target_seed=1,
                    resampler="none", resample_seed=2, metrics=metrics, meta=meta, sample="s")


def test_a_per_token_cell_stores_flat_arrays_with_offsets_and_scores_spans_per_sentence(toy, tmp_path):
    dataset = Dataset.from_frame("Sentences", sentence_frame(), task=TASK)
    path = tmp_path / "features.npy"
    np.save(path, token_features(dataset))
    train = np.array([0, 1, 2, 4, 6], dtype=np.int64)
    test = dataset.split_index("test")
    result = run_cell(_task(dataset, path, train, test, ["toy_token_accuracy", "toy_span_f1"]))
    assert "error" not in result, result.get("traceback")
    info, predictions = result["info"], result["predictions"]
    check_cell("k" * 64, info, predictions)
    classes = predictions["classes"].tolist()
    assert classes == ["B-LOC", "B-PER", "I-PER", "O"]
    # test: 3 sentences of 3, 2 and 4 tokens, stored flat with their offsets
    assert predictions["test_rows"].tolist() == test.tolist() and predictions["test_offsets"].tolist() == [0, 3, 5, 9]
    assert predictions["train_offsets"].tolist() == [0, 4, 6, 9, 12, 15]
    truth = ["B-PER", "O", "B-LOC", "O", "O", "B-PER", "I-PER", "O", "B-LOC"]
    assert [classes[c] for c in predictions["y_test"]] == truth
    predicted = [classes[c] for c in predictions["test_pred"]]
    # the centroids: capitalised non-places are B-PER (the mean of B-PER and I-PER features is I-PER's too:
    # "Berg" goes to whichever centroid is first among equals), places B-LOC, the rest O
    assert predicted[:5] == ["B-PER", "O", "B-LOC", "O", "O"] and predicted[7:] == ["O", "B-LOC"]
    assert info["n_train"] == 5 and info["n_test"] == 3

    rows = {row["metric"]: row for row in result["rows"]}
    assert set(rows) == {"toy_token_accuracy", "toy_span_f1", "toy_span_f1:LOC", "toy_span_f1:PER"}
    hand_accuracy = np.mean(np.array(predicted) == np.array(truth))
    assert rows["toy_token_accuracy"]["value"] == pytest.approx(hand_accuracy)
    true_spans = spans(truth, [0, 3, 5, 9])
    pred_spans = spans(predicted, [0, 3, 5, 9])
    assert rows["toy_span_f1"]["value"] == pytest.approx(_f1(true_spans, pred_spans))
    assert rows["toy_span_f1:LOC"]["value"] == 1.0  # Paris and Rome found
    per = {s for s in true_spans if s[3] == "PER"}
    assert rows["toy_span_f1:PER"]["value"] == pytest.approx(_f1(per, {s for s in pred_spans if s[3] == "PER"}))
    # the baseline tags every token O: no entity found
    assert rows["toy_span_f1"]["baseline_value"] == 0.0
    assert rows["toy_token_accuracy"]["baseline_value"] == pytest.approx(4 / 9)
    assert np.isnan(rows["toy_span_f1"]["test_ci_low"]) and np.isnan(rows["toy_span_f1:PER"]["test_ci_high"])
    assert rows["toy_token_accuracy"]["test_ci_low"] <= hand_accuracy <= rows["toy_token_accuracy"]["test_ci_high"]
    assert per_type_metric("toy_span_f1:PER") and not per_type_metric("toy_span_f1")
    # assembled again from the stored predictions: the same rows
    again = metric_rows(info, predictions, ["toy_token_accuracy", "toy_span_f1"])
    assert [(r["metric"], r["value"]) for r in again] == [(r["metric"], r["value"]) for r in result["rows"]]


def test_a_target_giving_fewer_token_predictions_than_tokens_fails_its_cell(toy, tmp_path, monkeypatch):
    dataset = Dataset.from_frame("Sentences", sentence_frame(), task=TASK)
    path = tmp_path / "features.npy"
    np.save(path, token_features(dataset))
    monkeypatch.setattr(TokenCentroids, "predict", lambda self, X: np.asarray(["O"] * (len(X.values) - 1)))
    result = run_cell(_task(dataset, path, np.array([0, 1, 2]), dataset.split_index("test"), ["toy_span_f1"]))
    assert "predictions for 9 tokens" in result["error"] or "for 12 tokens" in result["error"]
