"""Task types (enso.tasks): classification as it always was, and toy pair and sequence tasks
registered from this test module (through ``TASKS``, no edit of enso) to show that the
interface carries what issue 13's sentence pairs and sequence labelling need."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from enso.data import DataFile, Dataset, DatasetRecord, Format, UrlSource
from enso.data.build import make_card, read_dataset, write_dataset
from enso.data.cards import card_text
from enso.errors import UnknownNameError
from enso.params import Choice, ListOf
from enso.tasks import TASKS, Classification, Layout, Ragged, TaskType, distinct_text_units, get_task, token_units

# -- toy task types, as a plug-in would write them ---------------------------------------------

PAIR_PARTS = ("a", "b", "absdiff", "product")


class ToyPairs(TaskType):
    """Sentence pairs the way issue 13 describes them: two texts and a label per row."""

    name = "toy-pairs"
    description = "two texts per row, labelled with one class"
    columns = ("text_a", "text_b", "label", "split")
    dtypes = {"text_a": str, "text_b": str, "label": str, "split": str}  # noqa: RUF012
    row_noun = "pair"
    metrics = ("accuracy", "macro_f1")
    default_metrics = ("accuracy",)
    option_defaults = {"pair_features": list(PAIR_PARTS)}  # noqa: RUF012
    _option_constraints = {"pair_features": ListOf(Choice(*PAIR_PARTS))}  # noqa: RUF012

    def units(self, frame):
        return distinct_text_units(frame, ("text_a", "text_b"))

    def labels(self, frame):
        return frame["label"].to_numpy()

    def row_keys(self, frame):
        return pd.Series(list(zip(frame["text_a"], frame["text_b"], strict=True)), dtype=object).to_numpy()

    def target_input(self, features, frame, rows, options=None):
        options = self.resolve_options(options)
        index = self.layout_of(frame).unit_index(rows)
        a, b = np.asarray(features[index[:, 0]]), np.asarray(features[index[:, 1]])
        parts = {"a": a, "b": b, "absdiff": np.abs(a - b), "product": a * b}
        return np.hstack([parts[part] for part in options["pair_features"]])


class ToyTags(TaskType):
    """Sequence labelling: a token list and a tag per token per row (one row per sentence)."""

    name = "toy-tags"
    columns = ("tokens", "tags", "split")
    dtypes = {"split": str}  # noqa: RUF012
    unit = "token"
    label_unit = "token"
    row_noun = "sentence"
    metrics = ("token_accuracy",)
    default_metrics = ("token_accuracy",)

    def check_values(self, frame, name):
        frame = frame.assign(tokens=[[str(t) for t in ts] for ts in frame["tokens"]],
                             tags=[[str(t) for t in ts] for ts in frame["tags"]])
        bad = [i for i, (ts, gs) in enumerate(zip(frame["tokens"], frame["tags"], strict=True)) if len(ts) != len(gs)]
        if bad:
            raise ValueError(f"dataset {name}: row {bad[0]} has {len(frame['tokens'][bad[0]])} tokens but "
                             f"{len(frame['tags'][bad[0]])} tags")
        return frame

    def units(self, frame):
        return token_units(frame, "tokens")

    def labels(self, frame):
        return Ragged.from_lists(frame["tags"])

    def row_keys(self, frame):
        return pd.Series([tuple(t) for t in frame["tokens"]], dtype=object).to_numpy()

    def target_input(self, features, frame, rows, options=None):
        return Ragged(features, self.layout_of(frame).offsets)[rows]


@pytest.fixture
def toy_tasks():
    TASKS.register(ToyPairs.name, ToyPairs)
    TASKS.register(ToyTags.name, ToyTags())
    try:
        yield
    finally:
        TASKS.unregister(ToyPairs.name)
        TASKS.unregister(ToyTags.name)


def pair_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "text_a": ["a cat sits", "a dog runs", "a cat sits", "birds fly", "a dog runs", "fish swim"],
        "text_b": ["a cat is sitting", "a cat sits", "nobody sits", "a dog runs", "a dog runs", "birds fly"],
        "label": ["entail", "neutral", "contradict", "neutral", "entail", "neutral"],
        "split": ["train", "train", "train", "test", "test", "test"],
    })


def tag_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "tokens": [["John", "lives", "in", "Paris"], ["Hi"], ["Mary", "met", "John"]],
        "tags": [["B-PER", "O", "O", "B-LOC"], ["O"], ["B-PER", "O", "B-PER"]],
        "split": ["train", "train", "test"],
    })


# -- classification -------------------------------------------------------------------------------


def classification_frame() -> pd.DataFrame:
    return pd.DataFrame({"text": ["a b", "ünï code", "a b", "x"], "label": ["pos", "neg", "pos", "neg"],
                         "split": ["train", "train", "test", "test"]})


def test_classification_keeps_the_content_hash_datasets_had_before_task_types():
    # computed by the code of commit 7827c55 (enso/data/dataset.py's content_hash) on this frame
    dataset = Dataset.from_frame("D", classification_frame())
    assert dataset.content_hash == "fa82e914e29134097f72ab67092601631f7395c5b8b0b4753d5725506398185c"
    assert dataset.task is get_task("classification") and dataset.task.name == "classification"
    # a prefix-free generic hash over (split, label, text) is the same bytes; the task name is not hashed
    assert Classification().content_hash(dataset.frame) == dataset.content_hash


def test_classification_units_are_every_rows_text_and_its_input_is_features_of_those_rows():
    dataset = Dataset.from_frame("D", classification_frame())
    units = dataset.units
    assert units.kind == "text" and units.items == ["a b", "ünï code", "a b", "x"]  # duplicates kept
    assert units.layout.index is None and units.feature_rows == 4 and dataset.texts == units.items
    assert units.for_rows(np.array([3, 0, 2])) == ["x", "a b", "a b"]  # fit rows as given, in their order
    assert dataset.labels.tolist() == ["pos", "neg", "pos", "neg"] and dataset.classes == ["neg", "pos"]
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    rows = np.array([3, 0, 0])
    assert np.array_equal(dataset.target_input(X, rows), X[rows])
    S = sp.csr_matrix(X)
    assert (dataset.task.target_input(S, dataset.frame, rows) != S[rows]).nnz == 0
    assert dataset.task.applies("accuracy") and not dataset.task.applies("span_f1")
    assert dataset.task.applies("plugin_metric", ("classification",))
    assert list(dataset.task.default_metrics) == ["accuracy", "macro_f1"]


def test_the_frame_is_checked_by_its_task_type():
    with pytest.raises(ValueError, match=r"dataset D lacks columns \['label'\]"):
        Dataset.from_frame("D", classification_frame().drop(columns="label"))
    with pytest.raises(ValueError, match="unknown splits"):
        Dataset.from_frame("D", classification_frame().assign(split="valid"))
    with pytest.raises(ValueError, match=r"lacks columns \['text_a', 'text_b'\]"):
        Dataset.from_frame("D", classification_frame(), task=ToyPairs())
    with pytest.raises(UnknownNameError, match="unknown task type 'pairs'"):
        Dataset.from_frame("D", classification_frame(), task="pairs")


def test_task_registry_names_and_refusals():
    assert TASKS.canonical("Classification") == "classification" and "classification" in TASKS
    with pytest.raises(UnknownNameError, match="did you mean 'classification'"):
        TASKS.canonical("clasification")
    with pytest.raises(ValueError, match="must have name"):
        TASKS.register("other-name", ToyPairs)
    with pytest.raises(TypeError, match="must be a TaskType"):
        TASKS.register("thing", object())


# -- a pair task ---------------------------------------------------------------------------------


def test_a_pair_task_featurizes_each_distinct_text_once_and_maps_rows_to_both(toy_tasks):
    dataset = Dataset.from_frame("Pairs", pair_frame(), task="toy-pairs")
    assert dataset.task.name == "toy-pairs"
    units = dataset.units
    assert units.items == ["a cat sits", "a cat is sitting", "a dog runs", "nobody sits", "birds fly", "fish swim"]
    assert units.layout.index.tolist() == [[0, 1], [2, 0], [0, 3], [4, 2], [2, 2], [5, 4]]
    for row, (a, b) in enumerate(zip(pair_frame()["text_a"], pair_frame()["text_b"], strict=True)):
        assert (units.items[units.layout.index[row, 0]], units.items[units.layout.index[row, 1]]) == (a, b)
    # an in-domain featurizer fitted on the training pairs sees both sides of them, and no test-only text
    train = dataset.split_index("train")
    assert units.for_rows(train) == ["a cat sits", "a cat is sitting", "a dog runs", "nobody sits"]
    assert units.for_rows(np.array([4, 1])) == ["a dog runs", "a cat sits"]  # each once, in order of first use
    assert dataset.labels[train].tolist() == ["entail", "neutral", "contradict"]
    assert dataset.classes == ["contradict", "entail", "neutral"]


def test_a_pair_tasks_target_input_combines_per_text_features_per_cell(toy_tasks):
    dataset = Dataset.from_frame("Pairs", pair_frame(), task="toy-pairs")
    features = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [2.0, 2.0], [-1.0, 4.0], [0.0, 1.0]])  # one per unit
    rows = np.array([1, 3])
    X = dataset.target_input(features, rows)
    # row 1: a = "a dog runs" (unit 2), b = "a cat sits" (unit 0); row 3: a = unit 4, b = unit 2
    assert X.tolist() == [[0.5, 0.5, 1.0, 2.0, 0.5, 1.5, 0.5, 1.0],
                          [-1.0, 4.0, 0.5, 0.5, 1.5, 3.5, -0.5, 2.0]]
    only_absdiff = dataset.task.target_input(features, dataset.layout, rows, {"pair_features": ["absdiff"]})
    assert only_absdiff.tolist() == [[0.5, 1.5], [1.5, 3.5]]
    # the layout alone (what a worker holds, no frame) gives the same input
    assert np.array_equal(dataset.task.target_input(features, dataset.frame, rows), X)
    with pytest.raises(ValueError, match="pair_features"):
        dataset.task.resolve_options({"pair_features": ["sum"]})
    with pytest.raises(ValueError, match="takes no option 'pooling'"):
        dataset.task.resolve_options({"pooling": "mean"})


def test_a_pair_dataset_hashes_counts_caps_and_stores_like_any_other(toy_tasks, tmp_path):
    frame = pair_frame()
    dataset = Dataset.from_frame("Pairs", frame, task="toy-pairs")
    swapped = Dataset.from_frame("Pairs", frame.assign(text_a=frame["text_b"], text_b=frame["text_a"]),
                                 task="toy-pairs")
    assert dataset.content_hash != swapped.content_hash  # order within a pair matters
    assert len(dataset.content_hash) == 64
    # the test pair ("a dog runs", "a dog runs") is not a training pair; none is in train
    assert dataset.test_in_train() == {"count": 0, "share": 0.0}
    copied = Dataset.from_frame("Pairs", pd.concat([frame, frame.iloc[[0]].assign(split="test")]), task="toy-pairs")
    assert copied.duplicate_test_rows().tolist() == [6]
    capped = dataset.capped(3)
    assert len(capped) == 3 and capped.task.name == "toy-pairs"

    card = make_card({"name": "Pairs", "task": "toy-pairs", "description": "toy pairs"}, dataset, {})
    assert card["task"] == "toy-pairs" and card["rows"] == 6
    location = tmp_path / "datasets" / "Pairs"
    write_dataset(location, key="k", kind="dataset", dataset=dataset, card=card, params={}, inputs={})
    back = read_dataset("Pairs", location, "k")
    assert back.task.name == "toy-pairs" and back.content_hash == dataset.content_hash
    assert "task:             toy-pairs" in card_text(back)


def test_a_record_names_a_registered_task_type(toy_tasks):
    source = UrlSource("https://example.org/pairs.tsv", "a" * 64)
    record = DatasetRecord(name="P", description="d", files=(DataFile(source),), format=Format("lines"),
                           classes=("no", "yes"), rows=2, license="l", citation="c", homepage="h",
                           task="Toy-Pairs")
    assert record.task == "toy-pairs" and record.task_type.name == "toy-pairs"
    # classification records keep their keys; another task type is part of the record's identity
    as_classification = dataclasses.replace(record, task="classification")
    assert "task" not in as_classification.identity() and record.key() != as_classification.key()
    with pytest.raises(ValueError, match="unknown task type 'sequence'"):
        dataclasses.replace(record, task="sequence")


# -- a sequence-labelling task ----------------------------------------------------------------------


def test_a_sequence_task_featurizes_tokens_flat_with_offsets_and_labels_per_token(toy_tasks):
    dataset = Dataset.from_frame("Tags", tag_frame(), task="toy-tags")
    units = dataset.units
    assert units.kind == "token" and units.items[1] == ["Hi"]
    assert units.layout.offsets.tolist() == [0, 4, 5, 8] and units.feature_rows == 8
    labels = dataset.labels
    assert isinstance(labels, Ragged) and labels.values.tolist()[4:] == ["O", "B-PER", "O", "B-PER"]
    picked = labels[np.array([2, 0])]  # sentences drawn in any order keep their tokens together
    assert picked.tolist() == [["B-PER", "O", "B-PER"], ["B-PER", "O", "O", "B-LOC"]]
    assert picked.offsets.tolist() == [0, 3, 7]
    assert dataset.classes == ["B-LOC", "B-PER", "O"]
    assert dataset.strata.tolist() == ["", "", ""]  # no label per row: caps and splits keep split shares only

    token_features = np.arange(16, dtype=np.float32).reshape(8, 2)  # one row per token
    X = dataset.target_input(token_features, np.array([2, 1]))
    assert isinstance(X, Ragged) and X.offsets.tolist() == [0, 3, 4]
    assert X.values.tolist() == token_features[[5, 6, 7, 4]].tolist()
    with pytest.raises(ValueError, match="row 1 has 1 tokens but 2 tags"):
        Dataset.from_frame("Tags", tag_frame().assign(tags=[["O"] * 4, ["O", "O"], ["O"] * 3]), task="toy-tags")


def test_a_sequence_dataset_keeps_its_hash_through_parquet(toy_tasks, tmp_path):
    dataset = Dataset.from_frame("Tags", tag_frame(), task="toy-tags")
    path = tmp_path / "tags.parquet"
    dataset.frame.to_parquet(path)
    back = Dataset.from_frame("Tags", pd.read_parquet(path), {"task": "toy-tags"})  # list columns come back as arrays
    assert back.content_hash == dataset.content_hash and back.frame["tokens"][0] == ["John", "lives", "in", "Paris"]
    other = Dataset.from_frame("Tags", tag_frame().assign(tags=[["O"] * 4, ["O"], ["O"] * 3]), task="toy-tags")
    assert other.content_hash != dataset.content_hash


# -- shapes -----------------------------------------------------------------------------------------


def test_ragged_takes_sequences_in_order_and_refuses_bad_offsets():
    ragged = Ragged.from_lists([[1, 2], [], [3, 4, 5]], dtype=np.int64)
    assert len(ragged) == 3 and ragged.lengths.tolist() == [2, 0, 3]
    assert ragged[np.array([2, 1, 0, 2])].tolist() == [[3, 4, 5], [], [1, 2], [3, 4, 5]]
    assert ragged.positions(np.array([], dtype=np.int64)).tolist() == []
    assert ragged[np.array([True, False, True])].tolist() == [[1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="offsets end at 4 but there are 5 values"):
        Ragged(np.arange(5), np.array([0, 2, 4]))
    with pytest.raises(ValueError, match="non-decreasing"):
        Ragged(np.arange(5), np.array([0, 3, 2, 5]))


def test_a_layout_is_small_and_travels_to_workers(toy_tasks):
    import pickle

    dataset = Dataset.from_frame("Pairs", pair_frame(), task="toy-pairs")
    layout = pickle.loads(pickle.dumps(dataset.layout))
    assert isinstance(layout, Layout) and layout.index.tolist() == dataset.layout.index.tolist()
    task = pickle.loads(pickle.dumps(dataset.task))
    assert task == dataset.task and task.name == "toy-pairs"
