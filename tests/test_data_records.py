"""The dataset registry and its declarative records."""

from __future__ import annotations

import dataclasses

import pytest

from enso.data import DATASETS, DataFile, DatasetRecord, Format, UrlSource
from enso.data.catalog import RECORDS
from enso.errors import UnknownNameError

EXPECTED = {
    "AirlineSentiment", "PangLeeSentences", "PangLeeReviews", "Uncertainty", "Reuters8", "Reuters52",
    "NewsGroups20", "ElectionTweets2016", "TREC", "SST2", "CustomerReviews", "MPQA", "Subjectivity",
    "MovieReviews", "Banking77",
}


def test_every_issue_dataset_is_registered():
    assert EXPECTED <= set(DATASETS.names())


@pytest.mark.parametrize("spelling,name", [
    ("cr", "CustomerReviews"), ("SUBJ", "Subjectivity"), ("mr", "MovieReviews"), ("trec", "TREC"),
    ("pangleesentences", "PangLeeSentences"), ("20NG", "NewsGroups20"), ("sst-2", "SST2"),
])
def test_lookup_ignores_case_and_knows_aliases(spelling, name):
    assert DATASETS.canonical(spelling) == name
    assert spelling in DATASETS


def test_unknown_name_suggests_the_closest(monkeypatch, tmp_path):
    monkeypatch.setenv("ENSO_ROOT", str(tmp_path))
    with pytest.raises(UnknownNameError, match="did you mean 'Subjectivity'"):
        DATASETS.canonical("Subjectivty")


def test_records_are_complete_and_checksummed():
    for record in RECORDS:
        assert record.description and record.license and record.citation and record.homepage, record.name
        assert record.parsing, record.name
        assert record.rows > 0
        for data_file in record.files:
            assert len(data_file.source.sha256) == 64


def test_key_depends_on_sources_and_parser_but_not_on_prose():
    record = DATASETS.get("CR")
    reworded = dataclasses.replace(record, description="other words", citation="x")
    assert reworded.key() == record.key()
    first = record.files[0]
    moved = dataclasses.replace(first, source=UrlSource(first.source.url, "f" * 64))
    assert dataclasses.replace(record, files=(moved, *record.files[1:])).key() != record.key()
    assert dataclasses.replace(record, format=Format("lines", {"x": 1})).key() != record.key()


def test_record_validation():
    source = UrlSource("https://example.org/a.txt", "a" * 64)
    with pytest.raises(ValueError, match="sha256"):
        UrlSource("https://example.org/a.txt", "abc")
    with pytest.raises(ValueError, match="http"):
        UrlSource("ftp://example.org/a.txt", "a" * 64)
    with pytest.raises(ValueError, match="two distinct"):
        DatasetRecord(name="X", description="d", files=(DataFile(source, label="a"),), format=Format("lines"),
                      classes=("a",), rows=1, license="l", citation="c", homepage="h")


def test_registering_twice_is_refused_and_unregister_undoes_it():
    record = dataclasses.replace(DATASETS.get("CR"), name="PluginData", aliases=("plug",))
    DATASETS.register(record.name, record, record.aliases)
    try:
        with pytest.raises(ValueError, match="already registered"):
            DATASETS.register("plug", record)
        assert DATASETS.canonical("PLUG") == "PluginData"
    finally:
        DATASETS.unregister("PluginData")
    assert "plug" not in DATASETS


class _Entry:
    def __init__(self, name, obj):
        self.name, self.value, self._obj = name, f"plugin:{name}", obj

    def load(self):
        if isinstance(self._obj, Exception):
            raise self._obj
        return self._obj


def test_plugins_register_records_with_their_aliases(monkeypatch, caplog):
    from importlib import metadata

    from enso.data import DatasetRegistry

    record = dataclasses.replace(DATASETS.get("CR"), name="PluginReviews", aliases=("plugrev",))
    entries = [_Entry("good", record), _Entry("many", lambda: [dataclasses.replace(record, name="Second",
                                                                                   aliases=())]),
               _Entry("broken", ImportError("no module named x")), _Entry("wrong", object())]
    monkeypatch.setattr(metadata, "entry_points", lambda group: entries if group == "enso.datasets" else [])
    registry = DatasetRegistry("dataset", "enso.datasets")
    assert registry.canonical("PLUGREV") == "PluginReviews"
    assert registry.canonical("second") == "Second"
    assert "could not load dataset plug-in 'broken'" in caplog.text
    assert "is not a DatasetRecord" in caplog.text


def test_dataset_splits_are_train_dev_and_test():
    import pandas as pd

    from enso.data import Dataset

    frame = pd.DataFrame({"text": ["a", "b", "c", "d", "a", "b"], "label": ["x", "y", "x", "y", "x", "x"],
                          "split": ["train", "train", "dev", "dev", "test", "test"]})
    dataset = Dataset.from_frame("D", frame)
    assert dataset.split_index("dev").tolist() == [2, 3]
    # "b" is in train and test; "a" too; dev rows count on neither side.
    assert dataset.duplicate_test_rows().tolist() == [4, 5]
    frame.loc[4, "text"] = "c"  # a dev text in test is not a train text
    assert Dataset.from_frame("D", frame).test_in_train() == {"count": 1, "share": 0.5}
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        dataset.split_index("valid")
    with pytest.raises(ValueError, match="unknown splits \\['valid'\\]; use 'train', 'dev' and 'test'"):
        Dataset.from_frame("D", frame.assign(split="valid"))
