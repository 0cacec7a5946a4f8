"""CoNLL-column files (one token a line, sentences split by blank lines) and IOB tag schemes.

A CoNLL-column file holds one token per line with its annotations in columns (CoNLL-2003:
``token POS chunk NER``, space-separated; WNUT-17: ``token<TAB>tag``). What this reader does,
in order, for every line (split on ``\\n`` only, a final ``\\r`` removed):

- a line that is empty or holds only spaces and tabs ends the current sentence (WNUT-17's
  train file separates 2,394 sentences by a line holding one tab); several in a row make no
  empty sentence;
- a line whose first field is ``-DOCSTART-`` (a document boundary in CoNLL-2003, whatever its
  other columns say: eng.testb writes ``-DOCSTART- -X- -X- O``) is dropped and ends the sentence;
- any other line is split on the record's ``separator`` (``"tab"``: tab characters only, so a
  token may hold a space; ``"space"``: runs of spaces and tabs, never other Unicode
  whitespace, so U+00A0 or U+200B inside a token stay in it) and gives the token
  (``token_column``) and the tag (``tag_column``, negative counts from the end).

Tags are converted to **IOB2** on load (every span opens with ``B-``), from the scheme the
record declares:

- ``IOB1`` (CoNLL-2003's files): ``I-X`` inside a span; ``B-X`` only where a span follows a
  span of the same type;
- ``IOB2``: ``B-X`` opens every span; a stray ``I-X`` that continues no ``X`` span opens one
  (repaired to ``B-X``, counted);
- ``IOBES`` (also ``BIOES``): ``S-X`` a one-token span, ``E-X`` its last token; ``BILOU``
  (``U-X``, ``L-X``) is read the same way.

``to_iob2`` / ``from_iob2`` convert one sentence; converting IOB2 to any scheme and back
gives the same tags (``tests/test_data_conll.py``), and so does IOB1 -> IOB2 -> IOB1 for
canonical IOB1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enso.errors import EnsoError

PARSER_VERSION = 1
SCHEMES = ("IOB1", "IOB2", "IOBES")
_ALIASES = {"BIO": "IOB2", "BIOES": "IOBES", "BILOU": "IOBES", "IOBES": "IOBES", "IOB1": "IOB1", "IOB2": "IOB2"}
SEPARATORS = ("space", "tab")
DOCSTART = "-DOCSTART-"
OUTSIDE = "O"
_SPACES = re.compile(r"[ \t]+")
_PREFIXES = {"IOB1": "BI", "IOB2": "BI", "IOBES": "BIESUL"}


def canonical_scheme(scheme: str) -> str:
    """``IOB1``, ``IOB2`` or ``IOBES`` for a scheme name (``BIO``, ``BIOES``, ``BILOU`` accepted), any case."""
    found = _ALIASES.get(str(scheme).upper())
    if found is None:
        raise ValueError(f"unknown tag scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    return found


def _split_tag(tag: str, scheme: str) -> tuple[str, str | None]:
    """``(prefix, type)`` of a tag (``("O", None)`` for outside); ValueError for a tag the scheme lacks."""
    if tag == OUTSIDE:
        return OUTSIDE, None
    if len(tag) > 2 and tag[1] == "-" and tag[0] in _PREFIXES[scheme]:
        return tag[0], tag[2:]
    raise ValueError(f"tag {tag!r} is not O or {'/'.join(p + '-TYPE' for p in _PREFIXES[scheme])} ({scheme})")


def to_iob2(tags: Sequence[str], scheme: str) -> tuple[list[str], int]:
    """One sentence's tags in IOB2, and how many stray ``I-`` tags (that continued no span) opened one.

    For IOB1 input those are no repair but the scheme's rule (``I-X`` after ``O`` or another type
    opens a span), so the count is 0 there.
    """
    scheme = canonical_scheme(scheme)
    out: list[str] = []
    repaired = 0
    previous: str | None = None  # type of the span the previous token is in (None: outside or span ended)
    for tag in tags:
        prefix, kind = _split_tag(tag, scheme)
        if kind is None:
            out.append(OUTSIDE)
            previous = None
            continue
        if prefix in "BSU":
            out.append(f"B-{kind}")
        elif kind == previous:  # I, E, L continuing a span of the same type
            out.append(f"I-{kind}")
        else:  # an inside tag that continues nothing opens a span
            out.append(f"B-{kind}")
            repaired += scheme != "IOB1"
        previous = None if prefix in "ESUL" else kind
    return out, repaired


def from_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """IOB2 tags of one sentence in ``scheme`` (IOB1: ``B-`` only where a span follows one of its type)."""
    scheme = canonical_scheme(scheme)
    iob2, _ = to_iob2(tags, "IOB2")
    if scheme == "IOB2":
        return iob2
    out: list[str] = []
    for i, tag in enumerate(iob2):
        if tag == OUTSIDE:
            out.append(tag)
            continue
        prefix, kind = tag[0], tag[2:]
        if scheme == "IOB1":
            before = iob2[i - 1] if i else OUTSIDE
            follows_same = before != OUTSIDE and before[2:] == kind
            out.append(f"B-{kind}" if prefix == "B" and follows_same else f"I-{kind}")
        else:  # IOBES
            after = iob2[i + 1] if i + 1 < len(iob2) else OUTSIDE
            continues = after == f"I-{kind}"
            if prefix == "B":
                out.append(f"B-{kind}" if continues else f"S-{kind}")
            else:
                out.append(f"I-{kind}" if continues else f"E-{kind}")
    return out


@dataclass(frozen=True)
class Sentences:
    """Sentences read from one CoNLL-column file, tags as in the file, and what was skipped."""

    tokens: list[list[str]]
    tags: list[list[str]]
    docstarts: int = 0
    blank_lines: int = 0


def read_columns(text: str, *, where: str, token_column: int = 0, tag_column: int = -1,
                 separator: str = "space", docstart: bool = True) -> Sentences:
    """Sentences of a CoNLL-column text (see the module docstring for every rule)."""
    if separator not in SEPARATORS:
        raise EnsoError(f"{where}: separator must be one of {', '.join(SEPARATORS)}, got {separator!r}")
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    labels: list[str] = []
    docstarts = blanks = 0

    def close() -> None:
        if words:
            tokens.append(list(words))
            tags.append(list(labels))
            words.clear()
            labels.clear()

    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        line = line.removesuffix("\r")
        if not line.strip(" \t"):
            blanks += 1
            close()
            continue
        fields = line.split("\t") if separator == "tab" else _SPACES.split(line.strip(" \t"))
        if docstart and fields[0] == DOCSTART:
            docstarts += 1
            close()
            continue
        try:
            word, tag = fields[token_column], fields[tag_column]
        except IndexError:
            raise EnsoError(f"{where}: line {number} has {len(fields)} {separator}-separated fields, but the "
                            f"token is column {token_column} and the tag column {tag_column}: {line[:60]!r}") from None
        tag = tag.strip(" \t")
        if not word.strip(" \t") or not tag:
            raise EnsoError(f"{where}: line {number} has an empty token or tag: {line[:60]!r}")
        words.append(word)
        labels.append(tag)
    close()
    return Sentences(tokens, tags, docstarts, blanks)


def convert(sentences: Sentences, scheme: str, where: str) -> tuple[list[list[str]], int]:
    """Every sentence's tags in IOB2 (and the count of repaired stray ``I-`` tags); EnsoError naming a bad tag."""
    out, repaired = [], 0
    for number, tags in enumerate(sentences.tags, 1):
        try:
            converted, fixed = to_iob2(tags, scheme)
        except ValueError as exc:
            raise EnsoError(f"{where}: sentence {number}: {exc}; declare the file's tag scheme") from None
        out.append(converted)
        repaired += fixed
    return out, repaired


def parse_conll(text: str, *, where: str, label: str | None = None, token_column: int = 0, tag_column: int = -1,
                separator: str = "space", scheme: str = "IOB2", docstart: bool = True):
    """The ``conll`` format of ``enso.data.formats``: one row per sentence, tags converted to IOB2.

    Returns a ``Parsed`` whose ``columns`` hold ``tokens`` and ``tags`` (``texts`` are the
    sentences joined by spaces, for counts and messages only).
    """
    from enso.data.formats import Parsed

    sentences = read_columns(text, where=where, token_column=token_column, tag_column=tag_column,
                             separator=separator, docstart=docstart)
    tags, repaired = convert(sentences, scheme, where)
    return Parsed([" ".join(words) for words in sentences.tokens], [" ".join(t) for t in tags],
                  columns={"tokens": sentences.tokens, "tags": tags},
                  notes={"docstart_lines": sentences.docstarts, "repaired_inside_tags": repaired,
                         "tokens": sum(map(len, sentences.tokens)), "source_scheme": canonical_scheme(scheme)})


# -- the user's own CoNLL-column file ---------------------------------------------------------------


def import_conll(path: str | Path, workspace, *, name: str, token_column: int = 0, tag_column: int = -1,
                 separator: str = "auto", scheme: str = "IOB2", docstart: bool = True, encoding: str = "utf-8",
                 split_files: dict[str, str | Path] | None = None, test_fraction: float = 0.2,
                 reuse: Any = "reuse"):
    """Store the user's CoNLL-column file(s) as ``datasets/<name>/``, a sequence-labelling dataset.

    ``path`` is the train file; ``split_files`` may add ``{"dev": PATH, "test": PATH}``. Without
    a test file, a test split of ``test_fraction`` of the sentences is drawn, stratified on
    whether a sentence holds an entity, with a seed from ``name``. ``separator`` ``"auto"``:
    ``tab`` when the first token line holds a tab, else ``space``. Tags are converted to IOB2
    from ``scheme``; the card records the source scheme.
    """
    import pandas as pd

    from enso.data.build import write_dataset
    from enso.data.dataset import Dataset
    from enso.data.formats import decode
    from enso.data.local import _check_case, _stored, check_name
    from enso.data.splits import stratified_test_split
    from enso.errors import ConfigError
    from enso.hashing import file_sha256, stable_hash
    from enso.store import Reuse, artifact_lock, clean_temporaries, missing

    policy = Reuse.parse(reuse)
    check_name(name)
    try:
        scheme = canonical_scheme(scheme)
    except ValueError as exc:
        raise ConfigError(f"--scheme: {exc}") from None
    files = {"train": Path(path).expanduser(), **{s: Path(p).expanduser() for s, p in (split_files or {}).items()}}
    for split, file in files.items():
        if split not in ("train", "dev", "test"):
            raise ConfigError(f"split file for {split!r}: splits are train, dev and test")
        if not file.is_file():
            raise ConfigError(f"{file} is not a file; pass the path of your CoNLL-column {split} file")
    if "test" not in files and not 0 < test_fraction < 1:
        raise ConfigError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    sha = {split: file_sha256(file) for split, file in files.items()}
    options = {"format": "conll", "token_column": token_column, "tag_column": tag_column, "separator": separator,
               "scheme": scheme, "docstart": docstart, "encoding": encoding,
               "test_fraction": None if "test" in files else test_fraction, "parser_version": PARSER_VERSION}
    key = stable_hash({"local-dataset": name, "sha256": sha, "options": options})
    location = workspace.dataset_dir(name)
    clean_temporaries(workspace.datasets)
    _check_case(name, workspace)
    stored = _stored(name, location, key, not policy.reads)
    if stored is not None:
        return stored
    if not policy.computes:
        raise missing(f"dataset {name} from {files['train'].name}",
                      f"python -m enso.download --conll {files['train']} --name {name}",
                      reason="--offline (only-cached) forbids importing it")
    rows, notes = [], []
    for split, file in files.items():
        text = decode(file.read_bytes(), encoding, str(file)).removeprefix("\ufeff")
        sep = separator
        if sep == "auto":
            first = next((line for line in text.split("\n") if line.strip(" \t\r")), "")
            sep = "tab" if "\t" in first else "space"
        parsed = parse_conll(text, where=file.name, token_column=token_column, tag_column=tag_column,
                             separator=sep, scheme=scheme, docstart=docstart)
        if not parsed.texts:
            raise EnsoError(f"{file.name}: no sentences (tokens one per line, sentences split by blank lines)")
        rows += [(t, g, split) for t, g in zip(parsed.columns["tokens"], parsed.columns["tags"])]
        notes.append({"file": file.name, "rows": len(parsed.texts), "separator": sep, **parsed.notes})
    frame = pd.DataFrame(rows, columns=["tokens", "tags", "split"])
    if "test" not in files:
        from enso.tasks import get_task

        frame["split"] = stratified_test_split(get_task("sequence-labelling").strata(frame), fraction=test_fraction,
                                               name=name)
    dataset = Dataset.from_frame(name, frame, task="sequence-labelling")
    from enso.data.build import make_card

    summary = {"name": name, "aliases": [], "task": "sequence-labelling",
               "description": f"the user's own CoNLL-column data from {files['train'].name}",
               "license": "the user's own data", "citation": "", "homepage": "",
               "sources": [{"source": str(f.resolve()), "sha256": sha[s], "member": None, "encoding": encoding,
                            "split": s, "label": None} for s, f in files.items()],
               "format": {"kind": "conll", **{k: v for k, v in options.items() if k not in ("format",)}},
               "source_scheme": scheme, "local": True,
               "parsing": "CoNLL columns: one token a line, blank lines end sentences, -DOCSTART- lines dropped; "
                          + (f"tags converted from {scheme} to IOB2" if scheme != "IOB2" else "tags IOB2"),
               "split": "given by the files" if "test" in files else
                        f"a {test_fraction:.0%} test split drawn once, stratified on sentences with entities"}
    card = make_card(summary, dataset, {"parse_notes": notes})
    with artifact_lock(workspace.datasets / name.lower()):
        _check_case(name, workspace)
        stored = _stored(name, location, key, not policy.reads)
        if stored is not None:
            return stored
        return write_dataset(location, key=key, kind="local-dataset", dataset=dataset, card=card,
                             params={"path": str(files["train"].resolve()), **options},
                             inputs={str(f.resolve()): sha[s] for s, f in files.items()})
