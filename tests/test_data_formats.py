"""Parsers, encodings and the drawn test split, on small inputs with the real files' traps."""

from __future__ import annotations

import numpy as np
import pytest

from enso.data.formats import (decode, parse_csv, parse_file, parse_label_first, parse_label_last, parse_lines,
                               parse_orange_tab, split_lines)
from enso.data.splits import stratified_test_split
from enso.errors import EnsoError


def test_lines_split_on_newline_only_keeping_nel_inside_sentences():
    raw = b"a film \x85 that works\nsecond line\r\n\nthird\n"
    text = decode(raw, "latin-1", "x")
    assert "\x85" in text
    assert len(text.splitlines()) == 5  # the trap: U+0085 counts as a line break there
    parsed = parse_lines(text, where="x", label="positive")
    assert parsed.texts == ["a film \x85 that works", "second line", "third"]
    assert parsed.labels == ["positive"] * 3
    assert parsed.dropped_empty == 1


def test_split_lines_does_not_invent_a_last_empty_line():
    assert split_lines("a\nb\n") == ["a", "b"]
    assert split_lines("a\nb") == ["a", "b"]
    assert split_lines("") == []


def test_strict_decoding_names_file_byte_and_offset():
    with pytest.raises(EnsoError, match=r"TREC.train: byte 0xe9 at offset 4 is not valid utf-8"):
        decode(b"abc \xe9t\xe9", "utf-8", "TREC.train")


def test_label_last_splits_at_the_last_tab_and_strips_the_text():
    """SentEval's sentiment-* files: 'phrase <TAB>label', a space before the tab."""
    text = "hide new secretions from the parental units \t0\na tab\tinside \t1\n\n"
    parsed = parse_label_last(text, where="x", label=None, label_map={"0": "negative", "1": "positive"})
    assert parsed.texts == ["hide new secretions from the parental units", "a tab\tinside"]
    assert parsed.labels == ["negative", "positive"] and parsed.dropped_empty == 1
    with pytest.raises(EnsoError, match=r"x: line 2 has no '\\t' before its label"):
        parse_label_last("good\t1\nno label here\n", where="x", label=None)
    with pytest.raises(EnsoError, match="line 1 has a label but no text"):
        parse_label_last(" \t1\n", where="x", label=None)
    with pytest.raises(EnsoError, match="label '2' is not one of"):
        parse_label_last("fine\t2\n", where="x", label=None, label_map={"0": "negative", "1": "positive"})


def test_label_first_with_coarse_label():
    text = "DESC:manner How did serfdom develop ?\nNUM:dist How far is it ?\n"
    parsed = parse_label_first(text, where="x", label=None, label_part=":")
    assert parsed.labels == ["DESC", "NUM"]
    assert parsed.texts == ["How did serfdom develop ?", "How far is it ?"]


def test_label_first_maps_labels_and_refuses_unknown_ones():
    parsed = parse_label_first("1 good\n0 bad\n", where="x", label=None, label_map={"0": "neg", "1": "pos"})
    assert parsed.labels == ["pos", "neg"]
    with pytest.raises(EnsoError, match="label '2' is not one of"):
        parse_label_first("2 odd\n", where="x", label=None, label_map={"0": "neg", "1": "pos"})
    with pytest.raises(EnsoError, match="line 1 has a label but no text"):
        parse_label_first("1\n", where="x", label=None)


def test_csv_with_bom_quoted_line_ends_and_no_header():
    raw = '\ufeff"1","first line\nsecond line "" quoted"\r\n"-1","plain"\r\n'.encode("utf-8")
    parsed = parse_file("csv", {"header": False, "text_column": 1, "label_column": 0,
                                "label_map": {"1": "pos", "-1": "neg"}}, raw, encoding="utf-8-sig",
                        where="x", label=None)
    assert parsed.labels == ["pos", "neg"]
    assert parsed.texts == ['first line\nsecond line " quoted', "plain"]


def test_csv_row_filter_counts_what_it_drops():
    text = "sentiment,confidence,text\r\nnegative,1,@united late again\r\npositive,1,nice car\r\n" \
           "neutral,,\"@JetBlue\rsee you\"\r\npositive,1,@unitedway is a charity\r\n"
    parsed = parse_csv(text, where="x", label=None, text_column="text", label_column="sentiment",
                       keep_if_text_matches=r"@(?:united|jetblue)(?![a-z0-9_])")
    assert parsed.labels == ["negative", "neutral"]
    assert parsed.dropped_filtered == 2


def test_csv_missing_column_and_short_rows_are_errors():
    with pytest.raises(EnsoError, match="no column 'body'"):
        parse_csv("text,label\na,b\n", where="x", label=None, text_column="body", label_column="label")
    with pytest.raises(EnsoError, match="row 2 has 1 fields"):
        parse_csv("text,label\nonly\n", where="x", label=None, text_column="text", label_column="label")


def test_orange_tab_uses_the_flagged_class_column():
    text = ("Is retweet\tAuthor\tContent\r\ndiscrete\tdiscrete\tstring\r\n\tclass\tmeta\r\n"
            "False\tHillaryClinton\t\"a \"\"quoted\"\" tweet\"\r\nTrue\trealDonaldTrump\tanother\r\n"
            "False\t\t\r\n")
    parsed = parse_orange_tab(text, where="x", label=None, text_column="Content")
    assert parsed.labels == ["HillaryClinton", "realDonaldTrump"]
    assert parsed.texts == ['a "quoted" tweet', "another"]
    assert parsed.dropped_empty == 1


def test_stratified_split_is_fixed_per_name_and_keeps_class_shares():
    labels = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 2 + ["d"] * 1)
    first = stratified_test_split(labels, fraction=0.2, name="Example")
    again = stratified_test_split(labels, fraction=0.2, name="Example")
    other = stratified_test_split(labels, fraction=0.2, name="Other")
    assert (first == again).all()
    assert not (first == other).all()
    counts = {label: int(((labels == label) & (first == "test")).sum()) for label in "abcd"}
    assert counts == {"a": 10, "b": 6, "c": 1, "d": 0}  # c keeps one row on each side
