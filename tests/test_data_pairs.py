"""Sentence-pair data (issue 13): the pair_tsv parser, the SICK and MRPC records, the card, and
``--csv`` imports with two text columns. SICK's real files come from ``../shared/datasets``
through the loopback mirror (``pair_root``); MRPC is registered by URL and checksum only, so its
parser is tested on a small file written in MRPC's documented format."""

from __future__ import annotations

import re

import pytest

from enso.data import DATASETS, import_local, load_dataset
from enso.data.formats import PARSERS, parse_file
from enso.errors import EnsoError
from enso.workspace import Workspace
from tests.cli import enso
from tests.conftest import SHARED_DATASETS

# MRPC's documented format: UTF-8 with a byte-order mark, tab-separated, header
# 'Quality #1 ID #2 ID #1 String #2 String', '"' inside fields (no CSV quoting), one \x12 byte in train.
MRPC_SAMPLE = ("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
               "1\t702876\t702977\tAmrozi accused his brother , whom he called \" the witness \" , of deliberately "
               "distorting his evidence .\tReferring to him as only \" the witness \" , Amrozi accused his brother of "
               "deliberately distorting his evidence .\n"
               "0\t2108705\t2108831\tYucaipa owned Dominick 's before selling the chain to Safeway in 1998 for $ 2.5 "
               "billion .\tYucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for $ 1.8 "
               "billion in 1998 .\n"
               "1\t1330381\t1330521\tThe company\x12s shares rose 5 percent .\tShares of the company rose 5 percent "
               ".\r\n")


def _parse(record_name: str, raw: bytes, split: str = "train"):
    record = DATASETS.record(record_name)
    data_file = next(f for f in record.files if f.split == split)
    return parse_file(record.format.kind, record.format.options, raw, encoding=data_file.encoding,
                      where=f"{record_name}: {data_file.name}", label=data_file.label)


def test_mrpc_parser_reads_its_documented_format_quotes_bom_and_the_x12_byte():
    parsed = _parse("MRPC", MRPC_SAMPLE.encode("utf-8"))
    columns = parsed.columns
    assert columns["label"] == ["1", "0", "1"]
    assert columns["text_a"][0].startswith("Amrozi accused") and '" the witness "' in columns["text_a"][0]
    assert columns["text_b"][0].startswith('Referring to him as only " the witness "')
    assert columns["text_a"][2] == "The company\x12s shares rose 5 percent ."  # the original byte is kept
    assert columns["text_b"][2] == "Shares of the company rose 5 percent ."  # the CRLF's \r is gone
    assert not any(t.startswith("\ufeff") for t in columns["text_a"])
    assert len(parsed.texts) == 3


def test_pair_parser_refuses_a_short_line_an_empty_text_and_an_unknown_column_naming_them():
    header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    with pytest.raises(EnsoError, match=r"MRPC: msr_paraphrase_train.txt: line 2 has 4 tab-separated fields"):
        _parse("MRPC", (header + "1\t1\t2\tonly one sentence\n").encode())
    with pytest.raises(EnsoError, match=r"line 3 has an empty text_b \(#2 String\)"):
        _parse("MRPC", (header + "1\t1\t2\ta\tb\n0\t3\t4\tc\t  \n").encode())
    with pytest.raises(EnsoError, match=r"no column '#1 String' in the header"):
        _parse("MRPC", "Quality\tA\tB\n1\ta\tb\n".encode())


def test_mrpc_is_registered_with_the_readme_urls_checksums_and_counts():
    record = DATASETS.record("MRPC")
    assert DATASETS.canonical("msrp") == "MRPC" and record.task == "pair-classification"
    assert record.split_rows == {"train": 4076, "test": 1725} and record.rows == 5801
    assert record.classes == ("0", "1")  # as published; "1" (paraphrase) sorts second: f1's positive class
    if not (SHARED_DATASETS / "README.md").is_file():
        pytest.skip(f"no {SHARED_DATASETS / 'README.md'} to compare the record with")
    readme = (SHARED_DATASETS / "README.md").read_text(encoding="utf-8")
    for data_file in record.files:
        assert data_file.source.sha256 in readme and data_file.encoding == "utf-8-sig"
        row = next(line for line in readme.splitlines() if data_file.source.sha256 in line)
        assert data_file.source.filename in row
    base = re.search(r"`(https://raw\.githubusercontent\.com/wasiahmad/[^`]+/)msr_paraphrase_train\.txt`", readme)
    assert base and all(f.source.url.startswith(base.group(1)) for f in record.files)
    assert "pair_tsv" in PARSERS


@pytest.fixture
def sick(pair_root):
    return load_dataset("SICK", Workspace(pair_root))


def test_sick_pairs_per_split_and_labels_are_exactly_the_published_counts(sick):
    frame = sick.frame
    assert sick.task.name == "pair-classification" and len(sick) == 9927
    assert frame["split"].value_counts().to_dict() == {"train": 4500, "dev": 500, "test": 4927}
    train = frame[frame["split"] == "train"]["label"].value_counts().to_dict()
    assert train == {"NEUTRAL": 2536, "ENTAILMENT": 1299, "CONTRADICTION": 665}
    assert sick.classes == ["CONTRADICTION", "ENTAILMENT", "NEUTRAL"]
    # the test file's CRLF and the sentences' trailing spaces are gone
    for column in ("text_a", "text_b"):
        assert not frame[column].str.contains("\r").any()
        assert (frame[column] == frame[column].str.strip()).all()
    # each distinct sentence is one unit: fewer units than the 2 x 9,927 sides
    units = sick.units
    assert len(units) == len(set(frame["text_a"]) | set(frame["text_b"])) < 2 * len(frame)
    index = units.layout.index
    assert index.shape == (9927, 2)
    assert [units.items[i] for i in index[:5, 0]] == frame["text_a"].head(5).tolist()
    assert [units.items[i] for i in index[:5, 1]] == frame["text_b"].head(5).tolist()


def test_sick_card_shows_pairs_texts_and_classes_per_split(pair_root):
    ran = enso("download", "--info", "SICK", root=pair_root)
    assert ran.code == 0, ran.output
    text = ran.output
    assert "task:             pair-classification" in text
    assert "rows:             9,927 (train 4,500, dev 500, test 4,927)" in text
    assert re.search(r"texts:\s+[\d,]+ distinct, each featurized once \(train [\d,]+, dev [\d,]+, test [\d,]+\)",
                     text)
    assert re.search(r"NEUTRAL\s+2,536\s+282\s+2,793", text)
    assert "test in train:    49 of 4,927 test pairs (1.0%) are also a train pair (both texts, in order)" in text


PAIRS_CSV = "query,answer,label,split\n" + "".join(
    f"question {i} about {topic},reply {i} on {topic if same else 'other'},{'yes' if same else 'no'},"
    f"{'test' if i % 4 == 0 else 'train'}\n"
    for i, (topic, same) in enumerate([(t, s) for t in ("cats", "boats", "bread") for s in (True, False)] * 3))


def test_a_csv_with_two_text_columns_imports_as_a_pair_dataset(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(PAIRS_CSV, encoding="utf-8")
    workspace = Workspace(tmp_path / "ws")
    dataset = import_local(path, workspace, name="MyPairs", text_column="query", text_b_column="answer",
                           split_column="split")
    assert dataset.task.name == "pair-classification"
    assert list(dataset.frame.columns) == ["text_a", "text_b", "label", "split"]
    assert dataset.frame["text_a"].iloc[1] == "question 1 about cats" and dataset.frame["text_b"].iloc[1] == \
        "reply 1 on other"
    again = load_dataset("MyPairs", workspace)
    assert again.task.name == "pair-classification" and again.content_hash == dataset.content_hash
    # through the command, and a pair with an empty second text is refused naming its row
    ran = enso("download", "--csv", path, "--name", "MyPairs2", "--text-column", "query", "--text-b-column",
               "answer", "--split-column", "split", root=tmp_path / "ws")
    assert ran.code == 0, ran.output
    assert enso("download", "--info", "MyPairs2", root=tmp_path / "ws").output.count("pair-classification") >= 1
    bad = tmp_path / "bad.csv"
    bad.write_text(PAIRS_CSV.replace("reply 2 on boats", " "), encoding="utf-8")
    with pytest.raises(EnsoError, match=r"1 rows have an empty or whitespace-only text \(in either text column\) "
                                        r"\(rows 4\)"):
        import_local(bad, workspace, name="Bad", text_column="query", text_b_column="answer", split_column="split")
