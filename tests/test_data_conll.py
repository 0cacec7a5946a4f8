"""CoNLL-column files and tag schemes: the reader's rules on in-memory text (fast), and the real
CoNLL-2003 and WNUT-17 files downloaded through enso from the loopback mirror (real tier):
exact sentence, token and entity counts, IOB1 -> IOB2 conversion checked against seqeval."""

from __future__ import annotations

import random

import pytest

from enso.data.conll import canonical_scheme, from_iob2, import_conll, parse_conll, read_columns, to_iob2
from enso.errors import ConfigError, EnsoError

# -- the reader ---------------------------------------------------------------------------------

CONLL03_LIKE = (
    "-DOCSTART- -X- O O\n"
    "\n"
    "EU NNP I-NP I-ORG\n"
    "rejects VBZ I-VP O\n"
    "German JJ I-NP I-MISC\n"
    "\n"
    "\n"
    "-DOCSTART- -X- -X- O\n"  # eng.testb's variant
    "Peter NNP I-NP I-PER\r\n"  # a CRLF line end
    "Blackburn NNP I-NP I-PER\n"
    "\n"
    "\n"
)


def test_docstart_lines_and_blank_lines_end_sentences_and_never_make_an_empty_one():
    sentences = read_columns(CONLL03_LIKE, where="x", tag_column=3)
    assert sentences.tokens == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert sentences.tags == [["I-ORG", "O", "I-MISC"], ["I-PER", "I-PER"]]
    assert sentences.docstarts == 2
    # a DOCSTART line directly after a sentence (no blank line between) ends it too
    assert read_columns("a x O\n-DOCSTART- -X- O O\nb x O\n", where="x").tokens == [["a"], ["b"]]
    # kept when asked: then it is a token like any other
    assert read_columns("-DOCSTART- -X- O O\n", where="x", docstart=False).tokens == [["-DOCSTART-"]]


def test_tab_separated_lines_keep_spaces_and_unicode_in_tokens_and_a_lone_tab_separates():
    text = "New York\tB-location\ncity\tO\n\t\n\u200bhi\ufeff\tO\n \t \nx\u00a0y\tB-person\n"
    sentences = read_columns(text, where="x", separator="tab", tag_column=1)
    assert sentences.tokens == [["New York", "city"], ["\u200bhi\ufeff"], ["x\u00a0y"]]
    assert sentences.tags == [["B-location", "O"], ["O"], ["B-person"]]
    # space-separated: runs of spaces and tabs split, U+00A0 does not
    assert read_columns("x\u00a0y  NN\t B-X\n", where="x").tokens == [["x\u00a0y"]]


def test_a_line_without_the_tag_column_is_an_error_naming_the_line():
    with pytest.raises(EnsoError, match="line 2 has 2 space-separated fields"):
        read_columns("a NN I-NP O\nb NN\n", where="f.txt", tag_column=3)
    with pytest.raises(EnsoError, match="separator must be one of"):
        read_columns("a O\n", where="x", separator="comma")


# -- tag schemes --------------------------------------------------------------------------------

IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG", "B-PER"]
IOB1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "O", "I-ORG", "I-PER"]
IOBES = ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-ORG", "S-PER"]


def test_conversions_between_iob1_iob2_and_iobes_by_hand():
    assert to_iob2(IOB1, "IOB1") == (IOB2, 0)
    assert to_iob2(IOBES, "IOBES") == (IOB2, 0)
    assert to_iob2(IOB2, "IOB2") == (IOB2, 0)
    assert from_iob2(IOB2, "IOB1") == IOB1
    assert from_iob2(IOB2, "IOBES") == IOBES
    assert to_iob2(["U-X", "B-Y", "L-Y"], "BILOU") == (["B-X", "B-Y", "I-Y"], 0)
    # a stray I- in IOB2 data opens a span and is counted as repaired
    assert to_iob2(["O", "I-PER", "I-LOC"], "IOB2") == (["O", "B-PER", "B-LOC"], 2)
    assert canonical_scheme("bio") == "IOB2" and canonical_scheme("BIOES") == "IOBES"
    with pytest.raises(ValueError, match="unknown tag scheme"):
        canonical_scheme("IO")
    with pytest.raises(ValueError, match="'S-PER' is not O or B-TYPE/I-TYPE"):
        to_iob2(["S-PER"], "IOB1")


def _random_iob2(rng: random.Random, n: int) -> list[str]:
    tags, previous = [], "O"
    for _ in range(n):
        choice = rng.random()
        if choice < 0.4:
            tag = "O"
        elif choice < 0.7 or previous == "O":
            tag = f"B-{rng.choice('XYZ')}"
        else:
            tag = f"I-{previous[2:]}"
        tags.append(tag)
        previous = tag
    return tags


@pytest.mark.parametrize("scheme", ["IOB1", "IOB2", "IOBES"])
def test_iob2_to_any_scheme_and_back_is_the_identity(scheme):
    rng = random.Random(13)
    for _ in range(500):
        tags = _random_iob2(rng, rng.randint(1, 12))
        there = from_iob2(tags, scheme)
        assert to_iob2(there, scheme)[0] == tags
        # and the spans are the ones seqeval reads in that scheme
    assert from_iob2(["B-X", "I-X", "B-X"], "IOB1") == ["I-X", "I-X", "B-X"]


def test_spans_survive_conversion_as_seqeval_reads_them():
    from seqeval.metrics.sequence_labeling import get_entities

    rng = random.Random(7)
    for _ in range(300):
        tags = _random_iob2(rng, rng.randint(1, 15))
        expected = get_entities(tags)
        assert get_entities(to_iob2(from_iob2(tags, "IOB1"), "IOB1")[0]) == expected
        assert get_entities(from_iob2(tags, "IOBES")) == expected  # seqeval's default reads E-/S- too


def test_parse_conll_gives_the_columns_the_frame_is_built_from():
    parsed = parse_conll(CONLL03_LIKE, where="x", tag_column=3, scheme="IOB1")
    assert parsed.columns == {"tokens": [["EU", "rejects", "German"], ["Peter", "Blackburn"]],
                              "tags": [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]}
    assert parsed.texts == ["EU rejects German", "Peter Blackburn"]
    assert parsed.notes["docstart_lines"] == 2 and parsed.notes["tokens"] == 5
    with pytest.raises(EnsoError, match="sentence 1: tag 'E-ORG'"):
        parse_conll("a E-ORG\n", where="x", scheme="IOB2")


# -- the user's own file ------------------------------------------------------------------------


def test_import_conll_stores_a_sequence_dataset_with_a_drawn_test_split(tmp_path):
    from enso.data import load_dataset
    from enso.workspace import Workspace

    lines = []
    for i in range(30):
        lines += [f"Word{i} I-PER", "likes O", f"town{i} I-LOC", ""] if i % 2 else [f"w{i} O", "here O", ""]
    path = tmp_path / "mine.conll"
    path.write_text("-DOCSTART- O\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    dataset = import_conll(path, ws, name="MyNER", scheme="IOB1")
    assert dataset.task.name == "sequence-labelling" and len(dataset) == 30
    assert dataset.frame["tags"][1] == ["B-PER", "O", "B-LOC"]
    assert set(dataset.frame["split"]) == {"train", "test"}
    assert dataset.card["format"]["scheme"] == "IOB1" and dataset.card["tag_scheme"] == "IOB2"
    again = load_dataset("MyNER", ws)
    assert again.content_hash == dataset.content_hash and again.frame["tokens"][1] == ["Word1", "likes", "town1"]
    assert import_conll(path, ws, name="MyNER", scheme="IOB1").content_hash == dataset.content_hash  # reused
    with pytest.raises(EnsoError, match="already holds another dataset"):
        import_conll(path, ws, name="MyNER", scheme="IOB2")
    with pytest.raises(ConfigError, match="--scheme: unknown tag scheme"):
        import_conll(path, ws, name="Other", scheme="XYZ")
    with pytest.raises(ConfigError, match="is not a file"):
        import_conll(tmp_path / "none.conll", ws, name="Other")


def test_the_download_command_imports_a_conll_file(tmp_path):
    from tests.cli import enso

    path = tmp_path / "train.tsv"
    path.write_text("Ann\tB-PER\nsings\tO\n\nit\tO\nrains\tO\n\n", encoding="utf-8")
    test = tmp_path / "test.tsv"
    test.write_text("Bo\tB-PER\n\n", encoding="utf-8")
    result = enso("download", "--conll", str(path), "--conll-test", str(test), "--name", "Mine", root=tmp_path / "ws")
    assert result.code == 0, result.output
    assert "Mine" in result.stdout and "3 rows" in result.stdout and "train 2 / test 1" in result.stdout
    refused = enso("download", "--conll-test", str(test), "--name", "Mine", root=tmp_path / "ws")
    assert refused.code == 2 and refused.errors == ["error: --conll PATH imports one CoNLL-column dataset (with "
                                                    "--conll-dev/--conll-test); give it alone, with --name"]
    info = enso("download", "--info", "Mine", root=tmp_path / "ws")
    assert "tag scheme:       IOB2" in info.stdout and "tokens:           5 (train 4, test 1)" in info.stdout


# -- the real files -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conll03(sequence_root):
    from enso.data import load_dataset
    from enso.workspace import Workspace

    return load_dataset("CoNLL2003", Workspace(sequence_root))


@pytest.fixture(scope="module")
def wnut17(sequence_root):
    from enso.data import load_dataset
    from enso.workspace import Workspace

    return load_dataset("WNUT17", Workspace(sequence_root))


def test_conll2003_sentences_tokens_and_entities_are_exactly_the_published_counts(conll03):
    card = conll03.card
    assert card["splits"] == {"train": 14041, "dev": 3250, "test": 3453}
    assert card["tokens"] == {"train": 203621, "dev": 51362, "test": 46435}
    assert {kind: counts["train"] for kind, counts in card["entity_counts"].items()} == \
        {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}
    assert conll03.classes == ["B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER", "O"]
    assert card["format"]["scheme"] == "IOB1" and card["tag_scheme"] == "IOB2"
    assert conll03.frame["tokens"][0] == ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    assert conll03.frame["tags"][0] == ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]
    assert not any("-DOCSTART-" in tokens for tokens in conll03.frame["tokens"])


def test_conll2003_iob1_conversion_keeps_every_span_and_round_trips_but_for_the_two_original_b_misc(
        conll03, shared_datasets):
    from seqeval.metrics.sequence_labeling import get_entities

    original = read_columns((shared_datasets / "eng.train").read_text("utf-8"), where="eng.train", tag_column=3)
    stored = [t for t, s in zip(conll03.frame["tags"], conll03.frame["split"]) if s == "train"]
    assert len(original.tags) == len(stored) == 14041
    differ = 0
    for source, converted in zip(original.tags, stored):
        # seqeval's default (conlleval) reading of the IOB1 tags finds the spans stored as IOB2
        assert get_entities(source) == get_entities(converted)
        back = from_iob2(converted, "IOB1")
        differ += sum(a != b for a, b in zip(source, back))
        if back != source:
            assert {a for a, b in zip(source, back) if a != b} == {"B-MISC"}
    assert differ == 2  # the README's two IOB1-invalid B-MISC: a B- that follows no MISC span


def test_wnut17_sentences_tokens_and_entities_are_exactly_the_published_counts(wnut17):
    card = wnut17.card
    assert card["splits"] == {"train": 3394, "dev": 1009, "test": 1287}
    assert card["tokens"] == {"train": 62730, "dev": 15733, "test": 23394}
    entities = {split: sum(c[split] for c in card["entity_counts"].values()) for split in ("train", "dev", "test")}
    assert entities == {"train": 1975, "dev": 836, "test": 1079}
    assert card["entity_types"] == ["corporation", "creative-work", "group", "location", "person", "product"]
    assert any("\u200b" in token for tokens in wnut17.frame["tokens"] for token in tokens)


def test_conll2000_is_registered_by_url_and_checksum_only():
    from enso.data import DATASETS

    record = DATASETS.record("conll-2000")
    assert record.name == "CoNLL2000" and record.task == "sequence-labelling"
    assert record.split_rows == {"train": 8936, "test": 2012}
    assert [f.source.sha256[:8] for f in record.files] == ["82033cd7", "73b7b1e5"]
    assert record.format.options["tag_column"] == 2
