"""FileRows: a sequence cell's token rows read from the feature file when a target asks, never mapped."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from enso.tasks import FileRows, Ragged, get_task
from enso.tasks.rows import take_rows


@pytest.fixture
def stored(tmp_path):
    values = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    path = tmp_path / "features.npy"
    np.save(path, values)
    return values, np.load(path, mmap_mode="r", allow_pickle=False)


def test_rows_read_from_the_file_equal_the_memory_map_rows(stored):
    values, mapped = stored
    positions = np.array([7, 8, 9, 3, 40, 41, 0, 0, 49])  # runs, a jump back, a repeat, the last row
    rows = FileRows.of(mapped, positions)
    assert isinstance(rows, FileRows) and rows.shape == (9, 6) and rows.dtype == np.float32 and len(rows) == 9
    assert np.array_equal(np.asarray(rows), values[positions])
    assert np.array_equal(rows[2:5], values[positions[2:5]])
    assert np.array_equal(rows[np.array([4, 0])], values[positions[[4, 0]]])
    assert np.array_equal(rows[-1], values[49])
    assert np.asarray(rows, dtype=np.float64).dtype == np.float64
    subset = rows.take(np.array([5, 1]))
    assert isinstance(subset, FileRows) and np.array_equal(np.asarray(subset), values[positions[[5, 1]]])
    assert np.asarray(FileRows.of(mapped, np.zeros(0, dtype=np.int64))).shape == (0, 6)


def test_per_layer_rows_keep_their_shape(tmp_path):
    values = np.arange(5 * 3 * 4, dtype=np.float32).reshape(5, 3, 4)
    np.save(tmp_path / "layers.npy", values)
    rows = FileRows.of(np.load(tmp_path / "layers.npy", mmap_mode="r"), np.array([4, 1, 2]))
    assert rows.shape == (3, 3, 4) and rows.ndim == 3
    assert np.array_equal(np.asarray(rows), values[[4, 1, 2]])


def test_anything_but_a_whole_file_map_is_copied_as_before(stored):
    values, mapped = stored
    positions = np.array([1, 2, 3])
    for features in (values, mapped[10:], np.asarray(mapped)):  # an array, a view of a map, a copy
        taken = FileRows.of(features, positions)
        assert isinstance(taken, np.ndarray) and np.array_equal(taken, features[positions])
    assert np.array_equal(take_rows(values, positions), values[positions])


def test_a_position_outside_the_file_or_a_truncated_file_is_an_error(stored, tmp_path):
    _, mapped = stored
    with pytest.raises(IndexError, match="outside the 50 rows"):
        FileRows.of(mapped, np.array([50]))
    rows = FileRows.of(mapped, np.array([48, 49]))
    with open(mapped.filename, "r+b") as file:
        file.truncate(128 + 49 * 6 * 4)
    with pytest.raises(OSError, match="truncated"):
        np.asarray(rows)


def test_rows_of_a_file_replaced_since_are_refused_not_read_from_the_new_file(stored, tmp_path):
    values, mapped = stored
    rows = FileRows.of(mapped, np.array([0, 1]))
    replacement = tmp_path / "new.npy"
    np.save(replacement, values + 1)
    replacement.replace(mapped.filename)  # as a rebuilt artifact lands: a new file under the same name
    with pytest.raises(OSError, match="was replaced after its rows were taken"):
        np.asarray(rows)


def test_a_sequence_cell_gets_its_tokens_unread_and_they_equal_the_stored_rows(stored):
    values, mapped = stored
    lengths = [5, 10, 15, 20]
    frame = pd.DataFrame({"tokens": [[f"w{i}" for i in range(n)] for n in lengths],
                          "tags": [["O"] * n for n in lengths], "split": ["train", "train", "test", "train"]})
    task = get_task("sequence-labelling")
    rows = np.array([3, 0, 1])
    lazy = task.target_input(mapped, task.layout_of(frame), rows)
    eager = task.target_input(values, task.layout_of(frame), rows)
    assert isinstance(lazy.values, FileRows) and isinstance(eager.values, np.ndarray)
    assert lazy.offsets.tolist() == eager.offsets.tolist() == [0, 20, 25, 35]
    assert np.array_equal(np.asarray(lazy.values), eager.values)
    again = lazy[np.array([2, 0])]  # a target's inner split of the sentences stays unread too
    assert isinstance(again.values, FileRows)
    assert np.array_equal(np.asarray(again.values), eager[np.array([2, 0])].values)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RssFile from /proc/self/status")
def test_reading_rows_from_the_file_leaves_no_mapped_pages_in_this_process(tmp_path):
    """The point of FileRows: 32 MB read through the map count in RSS; read through it they do not."""
    n = 8192
    np.save(tmp_path / "big.npy", np.ones((n, 1024), dtype=np.float32))

    def rss_file_kib() -> int:
        status = open("/proc/self/status").read()
        return int(status.split("RssFile:")[1].split()[0])

    positions = np.arange(n)
    mapped = np.load(tmp_path / "big.npy", mmap_mode="r")
    before = rss_file_kib()
    assert np.asarray(FileRows.of(mapped, positions)).sum() == n * 1024
    through_file = rss_file_kib() - before
    assert np.asarray(mapped[positions]).sum() == n * 1024
    through_map = rss_file_kib() - before - through_file
    assert through_map > 24 * 1024 and through_file < 2 * 1024, (through_map, through_file)


@pytest.mark.slow  # over a second: two CRF fits
def test_a_crf_fitted_on_rows_from_the_file_is_the_crf_fitted_on_the_array(tmp_path):
    from enso.targets import make_target

    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 8, size=40)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    values = rng.normal(size=(int(offsets[-1]), 5)).astype(np.float32)
    tags = np.where(values[:, 0] > 0.3, "B-X", "O").astype(object)
    np.save(tmp_path / "f.npy", values)
    mapped = np.load(tmp_path / "f.npy", mmap_mode="r")
    y = Ragged(tags, offsets)
    in_memory = make_target("crf", {"max_iterations": 30}).fit(Ragged(values, offsets), y)
    from_file = make_target("crf", {"max_iterations": 30}).fit(
        Ragged(FileRows.of(mapped, np.arange(len(values))), offsets), y)
    assert from_file.model_ == in_memory.model_
    X_file = Ragged(FileRows.of(mapped, np.arange(len(values))), offsets)
    assert np.array_equal(from_file.predict_proba(X_file).values, in_memory.predict_proba(Ragged(values, offsets)).values)
