"""Sentence-pair files: a tab-separated table with a header, two text columns and a label column.

Both registered pair datasets come this way: SICK (``pair_ID sentence_A sentence_B
relatedness_score entailment_judgment``; the test file has CRLF line ends, the train and
trial files LF; some sentences end in spaces) and MRPC (``Quality #1 ID #2 ID #1 String
#2 String``, UTF-8 with a byte-order mark, untokenized, with ``"`` inside fields and one
original ``\\x12`` byte in the train file). The reader, for each file:

- splits lines on ``\\n`` only (never ``str.splitlines()``) and removes one final ``\\r``;
- splits each line on tabs only, with no CSV quoting (a ``"`` is part of the text); the
  first line is the header, and every other non-blank line must have exactly as many
  fields as the header (else an error naming the line);
- strips spaces, tabs and line ends around both texts and the label; a pair with an empty
  text is an error (a pair needs two texts), never silently dropped;
- maps labels through ``label_map`` when given (an unlisted label is an error).

A byte-order mark is not data: declare the file's encoding ``utf-8-sig``.
"""

from __future__ import annotations

from typing import Any

from enso.errors import EnsoError

PARSER_VERSION = 1
_STRIP = " \t\r\n\f\v"


def parse_pair_tsv(text: str, *, where: str, label: str | None, text_a_column: str, text_b_column: str,
                   label_column: str, label_map: dict[str, str] | None = None):
    """Rows ``(text_a, text_b, label)`` of a tab-separated pair file with a header (see the module doc).

    Returns an ``enso.data.formats.Parsed`` whose ``columns`` hold ``text_a``, ``text_b`` and ``label``.
    """
    from enso.data.formats import Parsed, split_lines  # formats dispatches here: no module-level cycle

    lines = [line[:-1] if line.endswith("\r") else line for line in split_lines(text)]
    if not lines:
        raise EnsoError(f"{where}: the file is empty; expected a header line")
    header = lines[0].split("\t")
    positions = {}
    for role, column in (("text_a", text_a_column), ("text_b", text_b_column), ("label", label_column)):
        if column not in header:
            raise EnsoError(f"{where}: no column {column!r} in the header (columns: {', '.join(header)})")
        positions[role] = header.index(column)
    text_a, text_b, labels = [], [], []
    for number, line in enumerate(lines[1:], 2):
        if not line.strip(_STRIP):
            continue  # a blank line (e.g. an extra line end at the end of the file)
        fields = line.split("\t")
        if len(fields) != len(header):
            raise EnsoError(f"{where}: line {number} has {len(fields)} tab-separated fields, the header "
                            f"{len(header)}: {line[:60]!r}")
        a = fields[positions["text_a"]].strip(_STRIP)
        b = fields[positions["text_b"]].strip(_STRIP)
        value = fields[positions["label"]].strip(_STRIP)
        if not a or not b:
            raise EnsoError(f"{where}: line {number} has an empty {'text_a' if not a else 'text_b'} "
                            f"({text_a_column if not a else text_b_column}); a pair needs two texts")
        if label_map is not None:
            if value not in label_map:
                raise EnsoError(f"{where}: line {number} has label {value!r}, not one of {sorted(label_map)}; "
                                "the file is not what the record describes")
            value = label_map[value]
        elif not value:
            raise EnsoError(f"{where}: line {number} has no label in column {label_column!r}")
        text_a.append(a)
        text_b.append(b)
        labels.append(value)
    columns: dict[str, list[Any]] = {"text_a": text_a, "text_b": text_b, "label": labels}
    return Parsed(text_a, labels, columns=columns)


DESCRIBE = ("tab-separated pair table with a header, no CSV quoting: text_a, text_b and label columns by name "
            "(enso.data.pair_formats)")
