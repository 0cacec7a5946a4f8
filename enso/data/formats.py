"""Parsers: the bytes of a record's files become rows of (text, label, split).

Every parser decodes with the file's declared encoding (strictly: a byte that does not
decode is an error naming the file and the offset) and splits lines on ``\\n`` only,
never with ``str.splitlines()``, which also breaks at U+0085 and other separators that
latin-1 files contain inside sentences. Texts are stripped of surrounding spaces, tabs
and line ends; rows whose text is then empty are dropped and counted.

A parser's ``version`` is part of every record's identity: bump it when the rows it
produces change, so artifacts built by the old code are rebuilt.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pandas as pd

from enso.data import conll, pair_formats
from enso.errors import EnsoError

_STRIP = " \t\r\n\f\v"
csv.field_size_limit(1 << 30)


@dataclass(frozen=True)
class Parsed:
    """Rows from one file, plus what the parser dropped and why."""

    texts: list[str]
    labels: list[str]
    dropped_empty: int = 0
    dropped_filtered: int = 0
    #: a task type's own columns (sequence labelling: ``tokens``, ``tags``), one value per row; when given,
    #: ``to_frame`` builds the frame from them (``texts``/``labels`` then only count and describe the rows)
    columns: dict[str, list] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Parser:
    version: int
    parse: Callable[..., Parsed]
    describe: str


def decode(raw: bytes, encoding: str, where: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise EnsoError(
            f"{where}: byte 0x{raw[exc.start]:02x} at offset {exc.start} is not valid {encoding}; "
            "declare the file's real encoding"
        ) from None
    except LookupError:
        raise EnsoError(f"{where}: unknown encoding {encoding!r}") from None


def split_lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only; a final line end does not make an extra empty line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _finish(pairs: Iterable[tuple[str, str]], label_map: dict[str, str] | None, where: str,
            filtered: int = 0) -> Parsed:
    texts, labels, empty = [], [], 0
    for text, label in pairs:
        text = text.strip(_STRIP)
        if not text:
            empty += 1
            continue
        label = label.strip(_STRIP)
        if label_map is not None:
            if label not in label_map:
                raise EnsoError(f"{where}: label {label!r} is not one of {sorted(label_map)}; "
                                "the file is not what the record describes")
            label = label_map[label]
        texts.append(text)
        labels.append(label)
    return Parsed(texts, labels, empty, filtered)


def parse_lines(text: str, *, where: str, label: str | None) -> Parsed:
    """One text per line; every row gets the file's label."""
    if label is None:
        raise EnsoError(f"{where}: format 'lines' needs a label on each file")
    return _finish(((line, label) for line in split_lines(text)), None, where)


def parse_label_first(text: str, *, where: str, label: str | None, label_map: dict[str, str] | None = None,
                      label_part: str | None = None) -> Parsed:
    """``LABEL text`` per line; with ``label_part=':'``, ``COARSE:fine text`` keeps ``COARSE``."""
    pairs = []
    for number, line in enumerate(split_lines(text), 1):
        line = line.strip(_STRIP)
        if not line:
            pairs.append(("", ""))
            continue
        head, _, rest = line.partition(" ")
        if not rest.strip(_STRIP):
            raise EnsoError(f"{where}: line {number} has a label but no text: {line[:60]!r}")
        if label_part is not None:
            head = head.split(label_part, 1)[0]
        pairs.append((rest, head))
    return _finish(pairs, label_map, where)


def parse_label_last(text: str, *, where: str, label: str | None, label_map: dict[str, str] | None = None,
                     separator: str = "\t") -> Parsed:
    """``text<SEP>LABEL`` per line, split at the last ``separator`` (SentEval's ``phrase<TAB>label`` files)."""
    pairs = []
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip(_STRIP):
            pairs.append(("", ""))
            continue
        head, sep, tail = line.rpartition(separator)
        if not sep:
            raise EnsoError(f"{where}: line {number} has no {separator!r} before its label: {line[:60]!r}")
        if not head.strip(_STRIP):
            raise EnsoError(f"{where}: line {number} has a label but no text: {line[:60]!r}")
        pairs.append((head, tail))
    return _finish(pairs, label_map, where)


def _column(header: list[str] | None, column: str | int, where: str) -> int:
    if isinstance(column, int):
        return column
    if header is None or column not in header:
        raise EnsoError(f"{where}: no column {column!r} (columns: {header})")
    return header.index(column)


def parse_csv(text: str, *, where: str, label: str | None, text_column: str | int, label_column: str | int,
              header: bool = True, delimiter: str = ",", label_map: dict[str, str] | None = None,
              header_rows: int = 1, keep_if_text_matches: str | None = None) -> Parsed:
    """A CSV (or tab-separated) table; quoted fields may hold line ends.

    ``keep_if_text_matches`` keeps only rows whose text matches the (case-insensitive)
    regular expression: the declared rule that selects a subset of a larger file.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                        doublequote=True, strict=False)
    rows = list(reader)
    head = rows[0] if header and rows else None
    body = rows[header_rows if header else 0:]
    ti, li = _column(head, text_column, where), _column(head, label_column, where)
    pattern = re.compile(keep_if_text_matches, re.IGNORECASE) if keep_if_text_matches else None
    pairs, filtered = [], 0
    for number, row in enumerate(body, (header_rows if header else 0) + 1):
        if not row or row == [""] * len(row):
            continue  # a blank line, e.g. the file's last line end
        if len(row) <= max(ti, li):
            raise EnsoError(f"{where}: row {number} has {len(row)} fields, expected at least {max(ti, li) + 1}")
        if pattern is not None and not pattern.search(row[ti]):
            filtered += 1
            continue
        pairs.append((row[ti], row[li]))
    return _finish(pairs, label_map, where, filtered)


def parse_orange_tab(text: str, *, where: str, label: str | None, text_column: str,
                     class_column: str | None = None) -> Parsed:
    """An Orange ``.tab`` file: three header rows (names, types, flags), then tab-separated rows.

    The class is the column flagged ``class`` unless ``class_column`` names one.
    """
    rows = list(csv.reader(io.StringIO(text, newline=""), dialect=csv.excel_tab))
    if len(rows) < 3:
        raise EnsoError(f"{where}: an Orange .tab file needs three header rows")
    names, _, flags = rows[:3]
    if class_column is None:
        flagged = [i for i, flag in enumerate(flags) if flag.split(" ")[0] == "class"]
        if len(flagged) != 1:
            raise EnsoError(f"{where}: expected one column flagged 'class', found {len(flagged)}")
        class_column = names[flagged[0]]
    return parse_csv(text, where=where, label=label, text_column=text_column, label_column=class_column,
                     delimiter="\t", header_rows=3)


PARSERS: dict[str, Parser] = {
    "lines": Parser(1, parse_lines, "one text per line ('\\n' only); the file gives the label"),
    "label_first": Parser(1, parse_label_first, "'LABEL text' per line ('\\n' only)"),
    "label_last": Parser(1, parse_label_last, "'text<TAB>LABEL' per line ('\\n' only), split at the last tab"),
    "csv": Parser(1, parse_csv, "CSV with quoted fields (Python csv module)"),
    "orange_tab": Parser(1, parse_orange_tab, "Orange .tab: names, types and flags rows, then tab-separated rows"),
    "conll": Parser(conll.PARSER_VERSION, conll.parse_conll, "CoNLL columns: a token a line, blank lines end "
                    "sentences, -DOCSTART- dropped, tags to IOB2 (enso.data.conll)"),
    "pair_tsv": Parser(pair_formats.PARSER_VERSION, pair_formats.parse_pair_tsv, pair_formats.DESCRIBE),
}


def parse_file(kind: str, options: dict[str, Any], raw: bytes, *, encoding: str, where: str,
               label: str | None) -> Parsed:
    if kind not in PARSERS:
        raise EnsoError(f"{where}: unknown format {kind!r} (known: {', '.join(PARSERS)})")
    text = decode(raw, encoding, where)
    return PARSERS[kind].parse(text, where=where, label=label, **options)


def to_frame(parts: list[tuple[Parsed, str | None]]) -> pd.DataFrame:
    """Rows of every file in order; ``split`` is None where the record draws its own."""
    if parts and all(parsed.columns is not None for parsed, _ in parts):  # a task type's own columns
        names = list(parts[0][0].columns)
        columns = {name: [v for parsed, _ in parts for v in parsed.columns[name]] for name in names}
        return pd.DataFrame({**columns, "split": [s for parsed, s in parts for _ in parsed.texts]})
    texts, labels, splits = [], [], []
    for parsed, split in parts:
        texts.extend(parsed.texts)
        labels.extend(parsed.labels)
        splits.extend([split] * len(parsed.texts))
    return pd.DataFrame({"text": texts, "label": labels, "split": splits})
