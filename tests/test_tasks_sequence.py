"""The sequence-labelling task type on tiny in-memory sentences (fast tier).

One row per sentence (tokens, tags, split); features per token, flat, with per-sentence
offsets; labels a Ragged of tags; strata "entity"/"none"; the card counts tokens, tags and
entities per split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from enso.data import Dataset
from enso.tasks import TASKS, Ragged, hash_rows
from enso.tasks.sequence import SequenceLabelling, count_spans

SENTENCES = [
    (["John", "lives", "in", "New", "York"], ["B-PER", "O", "O", "B-LOC", "I-LOC"], "train"),
    (["hello", "there"], ["O", "O"], "train"),
    (["Mary", "Smith", "left"], ["B-PER", "I-PER", "O"], "train"),
    (["it", "rains"], ["O", "O"], "train"),
    (["Anna", "saw", "Rome"], ["B-PER", "O", "B-LOC"], "dev"),
    (["Tom", "met", "Paris"], ["B-PER", "O", "B-LOC"], "test"),
    (["it", "rains"], ["O", "O"], "test"),
]


def frame(rows=SENTENCES) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["tokens", "tags", "split"])


def dataset(rows=SENTENCES) -> Dataset:
    return Dataset.from_frame("Toy", frame(rows), task="sequence-labelling")


def test_the_task_type_is_registered_with_its_metrics():
    task = TASKS.get("sequence-labelling")
    assert isinstance(task, SequenceLabelling)
    assert task.unit == "token" and task.label_unit == "token" and task.row_noun == "sentence"
    assert set(task.metrics) == {"span_f1", "span_precision", "span_recall", "token_accuracy"}
    assert task.default_metrics == ("span_f1", "token_accuracy")


def test_units_labels_and_offsets_are_per_token_in_row_order():
    data = dataset()
    assert data.units.kind == "token" and data.units.items[0] == ["John", "lives", "in", "New", "York"]
    assert data.layout.offsets.tolist() == [0, 5, 7, 10, 12, 15, 18, 20]
    assert data.units.feature_rows == 20
    labels = data.labels
    assert isinstance(labels, Ragged) and labels.offsets.tolist() == data.layout.offsets.tolist()
    assert labels[[2]].tolist() == [["B-PER", "I-PER", "O"]]
    assert data.classes == ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    with pytest.raises(TypeError, match="token units"):
        data.texts  # noqa: B018


def test_target_input_slices_each_sentences_token_rows_from_the_flat_matrix():
    data = dataset()
    X = np.arange(20 * 3, dtype=np.float32).reshape(20, 3)
    got = data.target_input(X, np.array([5, 0]))
    assert isinstance(got, Ragged) and got.offsets.tolist() == [0, 3, 8]
    assert np.array_equal(got.values, np.concatenate([X[15:18], X[0:5]]))
    # per-layer features (n_tokens, layers, d) and sparse CSR rows slice the same way
    X3 = np.arange(20 * 2 * 3, dtype=np.float32).reshape(20, 2, 3)
    assert np.array_equal(data.target_input(X3, np.array([1])).values, X3[5:7])
    S = scipy.sparse.csr_matrix(X)
    assert np.array_equal(data.target_input(S, np.array([3, 1])).values.toarray(), np.concatenate([X[10:12], X[5:7]]))
    # a memory map is read only at the cell's rows
    assert data.task.target_input(X, data.layout, np.array([], dtype=np.int64)).values.shape == (0, 3)


def test_check_values_turns_parquet_arrays_into_lists_and_refuses_mismatched_tags(tmp_path):
    data = dataset()
    path = tmp_path / "data.parquet"
    data.frame.to_parquet(path, engine="pyarrow", index=False)
    back = pd.read_parquet(path, engine="pyarrow")
    assert isinstance(back["tokens"][0], np.ndarray)
    again = Dataset.from_frame("Toy", back, task="sequence-labelling")
    assert isinstance(again.frame["tokens"][0], list) and again.frame["tags"][0][3] == "B-LOC"
    assert again.content_hash == data.content_hash
    bad = frame([(["a", "b"], ["O"], "train")])
    with pytest.raises(ValueError, match="row 0 has 2 tokens but 1 tags"):
        Dataset.from_frame("Bad", bad, task="sequence-labelling")
    with pytest.raises(ValueError, match="row 0 has no tokens"):
        Dataset.from_frame("Bad", frame([([], [], "train")]), task="sequence-labelling")
    with pytest.raises(ValueError, match="not a list of strings"):
        Dataset.from_frame("Bad", frame([("a b", "O O", "train")]), task="sequence-labelling")


def test_content_hash_is_prefixed_and_sees_tokens_tags_and_split():
    data = dataset()
    rows = [(t, g, s) for t, g, s in SENTENCES]
    assert data.content_hash == hash_rows(rows, prefix="sequence-labelling")
    assert data.content_hash != hash_rows(rows)
    changed = [list(r) for r in SENTENCES]
    changed[0][1] = ["B-PER", "O", "O", "B-LOC", "B-LOC"]
    assert dataset([tuple(r) for r in changed]).content_hash != data.content_hash
    # tokens ["a b"] and ["a", "b"] differ (a token list is hashed as JSON, not joined)
    one = dataset([(["a b"], ["O"], "train")]).content_hash
    two = dataset([(["a", "b"], ["O", "O"], "train")]).content_hash
    assert one != two


def test_strata_say_whether_a_sentence_holds_an_entity_and_keys_are_token_tuples():
    data = dataset()
    assert data.strata.tolist() == ["entity", "none", "entity", "none", "entity", "entity", "none"]
    keys = data.task.row_keys(data.frame)
    assert keys[1] == ("hello", "there")
    # "it rains" is both a train and a test sentence
    assert data.duplicate_test_rows().tolist() == [6]
    assert data.test_in_train() == {"count": 1, "share": 0.5}


def test_count_spans_counts_iob2_entities_and_stray_inside_tags():
    assert count_spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]) == {"PER": 1, "LOC": 2}
    assert count_spans(["I-ORG", "I-ORG", "I-PER"]) == {"ORG": 1, "PER": 1}


def test_the_card_counts_tokens_tags_and_entities_per_split():
    from enso.data.build import make_card
    from enso.data.cards import format_card

    data = dataset()
    card = make_card({"name": "Toy", "format": {"kind": "conll", "scheme": "IOB1"}}, data, {})
    assert card["task"] == "sequence-labelling" and card["rows"] == 7
    assert card["splits"] == {"train": 4, "dev": 1, "test": 2}
    assert card["tokens"] == {"train": 12, "dev": 3, "test": 5}
    assert card["n_classes"] == 5 and card["tag_scheme"] == "IOB2"
    assert card["entity_types"] == ["LOC", "PER"]
    assert card["entity_counts"] == {"LOC": {"train": 1, "dev": 1, "test": 1}, "PER": {"train": 2, "dev": 1, "test": 1}}
    assert card["class_counts"]["O"] == {"train": 7, "dev": 1, "test": 3}
    assert card["duplicated_sentences"] == 1
    text = format_card(card, "downloaded")
    assert "tokens:           20 (train 12, dev 3, test 5)" in text
    assert "tag scheme:       IOB2 (source files: IOB1, converted on load)" in text
    assert "entity types:     LOC 3, PER 4" in text
    assert "duplicated texts" not in text


def test_a_capped_sequence_dataset_keeps_the_share_of_sentences_with_entities():
    rows = [(["A", "b"], ["B-PER", "O"], "train")] * 10 + [(["c"], ["O"], "train")] * 10 + \
           [(["D"], ["B-LOC"], "test")] * 4 + [(["e"], ["O"], "test")] * 4
    data = dataset(rows).capped(14)
    assert len(data) == 14
    assert sorted(zip(data.frame["split"], data.strata)).count(("train", "entity")) == 5
