"""Cells as verified artifacts of predictions, on real TREC data: identity, reuse, damage, the results table.

Fits are counted by wrapping the target classes' ``fit`` in this process (``--jobs 1`` runs
cells here), so "nothing refitted" is observed, not inferred from file times.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest

from enso.components import load_config
from enso.engine import load_results, run_experiment
from enso.errors import EnsoError
from enso.hashing import file_sha256
from enso.store import Reuse
from tests.cli import enso
from tests.engine_helpers import comparable
from tests.tiny import write_config

CELLS = """
datasets = ["TREC"]
featurizers = [{ name = "tfidf", ngram_max = 1 }]
targets = [{ name = "logreg", C = 1.0 }, "knn"]
train_sizes = [30, 60]
resamples = 2
metrics = ["accuracy", "macro_f1"]
seed = 3
max_examples = 600
"""
N_CELLS = 2 * 2 * 2  # targets x sizes x resamples


@pytest.fixture
def ws(real_workspace):
    return real_workspace


@pytest.fixture
def fits(monkeypatch):
    """Every target fit in this process, as (target class name, rows)."""
    from enso.targets import TARGETS

    seen: list[tuple[str, int]] = []
    for name in ("logreg", "knn"):
        cls = TARGETS.get(name)
        original = cls.fit

        def counting(self, X, y, *args, __original=original, **kwargs):
            seen.append((type(self).__name__, len(y)))
            return __original(self, X, y, *args, **kwargs)

        monkeypatch.setattr(cls, "fit", counting)
    return seen


def config_of(ws, name, body=CELLS):
    return load_config(write_config(ws, name, body), ws)


def run_info(ws, name):
    return json.loads((ws.results_dir(name) / "run.json").read_text())


def cell_entries(ws, name):
    """One entry per stored cell, whatever the layout (a folder per cell; a JSON file before)."""
    return sorted(p for p in (ws.results_dir(name) / "cells").glob("*/*") if not p.name.startswith("."))


# -- 9.1: a cell's identity includes the features it was computed on --

def test_a_changed_featurizer_identity_recomputes_its_cells_and_never_mixes_two(ws, fits, monkeypatch):
    from enso.features.tfidf import TfidfFeaturizer

    config = config_of(ws, "identity")
    first = run_experiment(config, ws)
    assert len(fits) == N_CELLS and first.featurizer_id.nunique() == 1
    old_id = first.featurizer_id.iloc[0]
    # half a sweep ran on the new features (a partial run after an update), half is stored from before
    for entry in cell_entries(ws, "identity")[: N_CELLS // 2]:
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    monkeypatch.setattr(TfidfFeaturizer, "version", TfidfFeaturizer.version + 1)  # a new release of tfidf
    fits.clear()
    second = run_experiment(config, ws)
    assert second.groupby("featurizer").featurizer_id.nunique().eq(1).all(), "one identity per featurizer label"
    new_id = second.featurizer_id.iloc[0]
    assert new_id != old_id
    assert len(fits) == N_CELLS, "every cell is computed again on the new features"
    assert {label: entry["id"] for label, entry in run_info(ws, "identity")["featurizers"].items()} == \
        {"tfidf(ngram_max=1)": new_id}


@pytest.mark.slow
def test_a_changed_model_file_under_the_same_config_recomputes_the_cells(ws, fits, tmp_path):
    """hf-encoder on a copy of the MiniLM folder: the config stays the same, a model file changes."""
    from enso.features.transformer import minilm_folder

    model = tmp_path / "model"
    shutil.copytree(minilm_folder(), model)
    body = CELLS.replace('[{ name = "tfidf", ngram_max = 1 }]', f'[{{ name = "hf-encoder", path = "{model}" }}]')
    body = body.replace("max_examples = 600", "max_examples = 300").replace('"knn"', '{ name = "knn", n_neighbors = 3 }')
    config = config_of(ws, "model", body)
    first = run_experiment(config, ws)
    assert len(fits) == N_CELLS
    tokenizer = model / "tokenizer_config.json"
    settings = json.loads(tokenizer.read_text())
    tokenizer.write_text(json.dumps(settings, indent=1))  # same settings, other bytes: an updated model file
    fits.clear()
    second = run_experiment(config, ws)
    assert len(fits) == N_CELLS
    assert second.featurizer_id.nunique() == 1 and second.featurizer_id.iloc[0] != first.featurizer_id.iloc[0]
    pd.testing.assert_series_equal(second.value, first.value)  # the same model: the same numbers


# -- 9.2: metrics come from stored predictions; adding one fits nothing --

def test_adding_metrics_fits_nothing_and_computes_them_from_the_stored_predictions(ws, fits):
    from sklearn.metrics import f1_score, log_loss

    run_experiment(config_of(ws, "metrics", CELLS.replace('["accuracy", "macro_f1"]', '["accuracy"]')), ws)
    assert len(fits) == N_CELLS
    before = load_results("metrics", ws)
    fits.clear()
    more = CELLS.replace('["accuracy", "macro_f1"]', '["accuracy", "macro_f1", "roc_auc", "log_loss", "mcc"]')
    table = run_experiment(config_of(ws, "metrics", more), ws)
    assert fits == [], "a metric added to the config refits nothing"
    assert len(table) == 5 * N_CELLS
    accuracy = table[table.metric == "accuracy"].reset_index(drop=True)
    pd.testing.assert_frame_equal(accuracy, before.loc[:, accuracy.columns])
    for cell_dir in sorted((ws.results_dir("metrics") / "cells").glob("*/*/")):
        info = json.loads((cell_dir / "cell.json").read_text())
        with np.load(cell_dir / "predictions.npz", allow_pickle=False) as stored:
            classes, y, pred = stored["classes"], stored["y_test"], stored["test_pred"]
            assert (y >= 0).all()
            rows = table[table.cell == info["key"]].set_index("metric")
            assert rows.loc["accuracy", "value"] == np.mean(y == pred)
            f1 = f1_score(classes[y], classes[pred], labels=np.union1d(classes[y], classes[pred]), average="macro")
            assert rows.loc["macro_f1", "value"] == pytest.approx(f1, abs=1e-12)
            if str(stored["score_kind"]) == "proba":
                proba = stored["test_scores"].astype(float)
                proba /= proba.sum(axis=1, keepdims=True)  # float32 as stored: rows sum to 1 within 1e-7
                assert rows.loc["log_loss", "value"] == pytest.approx(log_loss(classes[y], proba, labels=classes),
                                                                      rel=1e-6)


def test_each_row_has_its_interval_majority_share_and_baseline(ws):
    table = run_experiment(config_of(ws, "columns"), ws)
    for cell_dir in sorted((ws.results_dir("columns") / "cells").glob("*/*/")):
        info = json.loads((cell_dir / "cell.json").read_text())
        with np.load(cell_dir / "predictions.npz", allow_pickle=False) as stored:
            y_test, pred, y_train = stored["y_test"], stored["test_pred"], stored["y_train"]
            assert info["n_test"] == len(y_test) == len(stored["test_rows"])
        rows = table[table.cell == info["key"]].set_index("metric")
        assert rows.majority_share.eq(np.bincount(pred).max() / len(pred)).all()
        counts = np.bincount(y_train)
        majority = np.flatnonzero(counts == counts.max())[0]  # classes are sorted: the first label on a tie
        assert rows.loc["accuracy", "baseline_value"] == np.mean(y_test == majority)
        for metric, row in rows.iterrows():
            assert row.test_ci_low <= row.value <= row.test_ci_high, metric
            assert 0 < row.test_ci_high - row.test_ci_low < 0.5
    assert table.cell.nunique() == N_CELLS and not table.duplicated(["cell", "metric"]).any()
    again = run_experiment(config_of(ws, "columns"), ws, reuse=Reuse.RECOMPUTE)
    pd.testing.assert_frame_equal(comparable(again), comparable(table))  # intervals are seeded from the cell


# -- 10: cells are verified and schema-checked on read --

def _rehash(cell_dir) -> None:
    """Rewrite the manifest to match the files, as a careless tool might: only the schema check is left."""
    manifest = json.loads((cell_dir / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = {"sha256": file_sha256(cell_dir / name), "size": (cell_dir / name).stat().st_size}
    (cell_dir / "manifest.json").write_text(json.dumps(manifest))


def _tamper_cell(cell_dir, case: str) -> None:
    info_path, npz_path = cell_dir / "cell.json", cell_dir / "predictions.npz"
    info = json.loads(info_path.read_text())
    with np.load(npz_path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if case == "a changed digit":
        text = info_path.read_text()
        digit = next(i for i, c in enumerate(text) if c.isdigit())
        info_path.write_text(text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1:])
        return  # no rehash: the manifest's sha256 catches it
    if case == "an empty rows list":
        for name in ("test_rows", "y_test", "test_pred", "test_scores"):
            if name in arrays:
                arrays[name] = arrays[name][:0]
    elif case == "a missing metric":
        del arrays["test_pred"]
    elif case == "a non-numeric value":
        info["timings"]["seconds"] = "fast"
    np.savez(npz_path, **arrays)
    info_path.write_text(json.dumps(info))
    _rehash(cell_dir)


def _tamper_legacy(path, case: str) -> None:
    """The same damage to a cell file of the engine before version 2 (a JSON list of metric rows)."""
    stored = json.loads(path.read_text())
    if case == "a changed digit":
        stored["rows"][0]["value"] = round(stored["rows"][0]["value"] + 0.1, 6)
    elif case == "an empty rows list":
        stored["rows"] = []
    elif case == "a missing metric":
        stored["rows"] = stored["rows"][:1]
    elif case == "a non-numeric value":
        stored["rows"][0]["value"] = "fast"
    path.write_text(json.dumps(stored))


@pytest.mark.parametrize("case", ["a changed digit", "an empty rows list", "a missing metric", "a non-numeric value"])
def test_a_damaged_cell_is_a_warning_and_recomputed_alone(ws, fits, caplog, case):
    config = config_of(ws, "damaged")
    table = run_experiment(config, ws)
    victim = cell_entries(ws, "damaged")[2]
    _tamper_cell(victim, case) if victim.is_dir() else _tamper_legacy(victim, case)
    fits.clear()
    with caplog.at_level(logging.WARNING, logger="enso"):
        again = run_experiment(config, ws)
    assert len(fits) == 1, f"{case}: exactly the damaged cell is fitted again"
    assert any(victim.name in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)
    pd.testing.assert_frame_equal(comparable(again), comparable(table))


# -- 10: the results table is verified on read and rebuilt from the cells --

def _flip_a_bit_that_still_parses(path, value: float) -> None:
    """Flip one exponent bit of ``value`` where the file stores it: the file still reads, with another number."""
    import struct

    data = bytearray(path.read_bytes())
    at = data.find(struct.pack("<d", value))
    assert at >= 0, "the value is stored as plain bytes (snappy keeps short literals as they are)"
    data[at + 6] ^= 0x40
    path.write_bytes(bytes(data))


def test_a_flipped_bit_in_the_results_table_is_refused_then_rebuilt_from_the_cells(ws, fits):
    config = config_of(ws, "flipped")
    table = run_experiment(config, ws)
    path = ws.results_dir("flipped") / "results.parquet"
    _flip_a_bit_that_still_parses(path, table.value.iloc[5])
    unverified = pd.read_parquet(path)
    assert unverified.value.iloc[5] != table.value.iloc[5], "the flipped file reads back with a wrong value"
    with pytest.raises(EnsoError) as refused:
        load_results("flipped", ws)
    message = str(refused.value)
    assert "\n" not in message and "do not verify" in message and "python -m enso.experiment flipped" in message
    fits.clear()
    rebuilt = run_experiment(config, ws)
    assert fits == [], "the table is rebuilt from the stored cells"
    pd.testing.assert_frame_equal(load_results("flipped", ws), table)
    pd.testing.assert_frame_equal(rebuilt, table)


# -- 10: a config where every (dataset, size) is impossible is an error, not empty results --

def test_a_sweep_with_nothing_possible_is_an_error_that_says_why(ws):
    write_config(ws, "impossible", CELLS.replace("train_sizes = [30, 60]", "train_sizes = [4, 100000]"))
    for args in (("impossible",), ("impossible", "--dry-run")):
        done = enso("experiment", *args, root=ws)
        assert done.code == 1, done.output
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("error: experiment 'impossible' has nothing to run: TREC: random sample of size 4")
        assert "pick train_sizes" in last
    assert not (ws.results_dir("impossible") / "results.parquet").exists()


def test_the_table_refuses_two_featurizer_ids_under_one_label():
    from enso.engine.results import assemble_table

    class Cell:
        def __init__(self, key):
            self.key = key

    row = {"experiment": "x", "protocol": "enso", "dataset": "TREC", "featurizer": "minilm", "target": "logreg",
           "target_params": "{}", "chosen_params": {}, "sampler": "random", "resampler": "none",
           "train_size": 30, "resample": 0, "metric": "accuracy", "value": 0.5, "train_value": 1.0,
           "seconds": 1.0, "fit_seconds": 1.0, "predict_seconds": 0.1, "n_train": 30, "n_test": 100,
           "n_classes": 6, "seed": 1, "test_ci_low": 0.4, "test_ci_high": 0.6, "majority_share": 0.3,
           "baseline_value": 0.2}
    finished = {"a": [{**row, "cell": "a", "featurizer_id": "minilm-aaaa"}],
                "b": [{**row, "cell": "b", "resample": 1, "featurizer_id": "minilm-bbbb"}]}
    with pytest.raises(EnsoError, match="featurizer minilm with two identities"):
        assemble_table([Cell("a"), Cell("b")], finished)


def test_a_dry_run_of_many_resamples_does_not_grow_with_them(ws):
    """1,000 resamples plan 8,000 cells; the dry run counts them as they come instead of holding them."""
    import gc
    import tracemalloc

    peaks = {}
    for resamples in (10, 1000):
        config = config_of(ws, f"dry{resamples}", CELLS.replace("resamples = 2", f"resamples = {resamples}")
                           .replace("[30, 60]", "[30, 60, 90, 120]"))
        run_experiment(config, ws, dry_run=True)  # warm: imports, caches
        gc.collect()
        tracemalloc.start()
        plan = run_experiment(config, ws, dry_run=True)
        peaks[resamples] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert plan.attrs["plan"]["cells"] == plan.attrs["plan"]["to_run"] == 4 * 2 * resamples
    assert peaks[1000] - peaks[10] < 1_000_000, peaks


# -- what a protocol may ask of a cell: a given validation set, in-domain features fit on chosen rows --

def test_validation_rows_reach_the_target_and_fit_rows_the_features(ws, monkeypatch):
    import enso.features
    from enso.protocols import PROTOCOLS, Draw, Protocol
    from enso.targets import TARGETS

    class Toy(Protocol):
        name = "toy"
        description = "a given validation set and features fit on part of the train split"

        def build(self, config, dataset, plan):
            train, test = dataset.split_index("train"), dataset.split_index("test")
            sample = train[100:160]
            for fit_rows, validation in ((None, None), (train[100:], train[:100])):
                plan.add_cell(dataset=dataset, featurizer=config.featurizers[0], target=config.targets[0],
                              sampler="toy", resampler="none", train_size=60, resample=0, seed=1,
                              draw=Draw(dataset.name, "toy", 60, 0, 1, rows=sample), test_rows=test,
                              options={}, fit_rows=fit_rows, validation_rows=validation)

    monkeypatch.setitem(PROTOCOLS._items, "toy", Toy())
    monkeypatch.setitem(PROTOCOLS._names, "toy", "toy")
    validations, fit_rows_seen = [], []
    logreg = TARGETS.get("logreg")
    original_fit = logreg.fit

    def fit(self, X, y, validation=None):
        validations.append(None if validation is None else (validation[0].shape[0], len(validation[1])))
        return original_fit(self, X, y, validation=validation)

    original_load = enso.features.load_features

    def load(*args, fit_rows=None, **kwargs):
        fit_rows_seen.append(None if fit_rows is None else len(fit_rows))
        return original_load(*args, fit_rows=fit_rows, **kwargs)

    monkeypatch.setattr(logreg, "fit", fit)
    monkeypatch.setattr(enso.features, "load_features", load)
    body = CELLS.replace("datasets", 'protocol = "toy"\ndatasets').replace(
        'targets = [{ name = "logreg", C = 1.0 }, "knn"]', 'targets = [{ name = "logreg", Cs = [0.1, 10.0] }]')
    table = run_experiment(config_of(ws, "toy", body), ws)
    assert sorted(validations, key=str) == [(100, 100), None]
    assert sorted(fit_rows_seen, key=str) == [449, None]  # TREC capped at 600: 549 train rows, 100 held out
    assert table.cell.nunique() == 2
    searches = {json.loads(c)["search"] for c in table.chosen_params}
    assert len(searches) == 2 and any("validation" in search for search in searches), searches
