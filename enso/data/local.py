"""The user's own labelled data (CSV, JSONL or Parquet) stored like any registered dataset.

One text column makes a ``classification`` dataset; a second one (``text_b_column``, the
command's ``--text-b-column``) a ``pair-classification`` dataset whose ``text_a`` comes from
``text_column`` and ``text_b`` from ``text_b_column``: both texts of every row are checked
like a text, and a row with either empty is refused (or dropped with ``drop_empty``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from enso.data.build import CARD_FILE, write_dataset
from enso.data.dataset import SPLITS, Dataset
from enso.data.formats import decode
from enso.data.splits import stratified_test_split
from enso.errors import ConfigError, EnsoError
from enso.hashing import file_sha256, stable_hash
from enso.store import Reuse
from enso.workspace import Workspace

log = logging.getLogger(__name__)

KIND = "local-dataset"
FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
             ".pq": "parquet"}
PARSER_VERSION = 1


MAX_NAME_LENGTH = 100


def read_table(path: Path, fmt: str, encoding: str) -> pd.DataFrame:
    """Every column as read, values as strings where the file has text (empty cells are None).

    For JSONL, ``table.attrs["lines"]`` holds each row's line number in the file.
    """
    if fmt == "parquet":
        try:
            return pd.read_parquet(path, engine="pyarrow")
        except Exception as exc:  # pyarrow raises many types for a bad file
            raise EnsoError(f"{path}: not a readable Parquet file ({exc}); check the path and format") from None
    # A byte-order mark (Excel writes one) is not data: left in, it hides the first column's name.
    text = decode(path.read_bytes(), encoding, str(path)).removeprefix("\ufeff")
    if fmt == "csv":
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
        twice = sorted({name for name in header if header.count(name) > 1})
        if twice:  # pandas would rename the second one silently and read the first
            raise EnsoError(f"{path}: column {twice[0]!r} appears {header.count(twice[0])} times in the header; "
                            "give each column its own name")
        try:
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[],
                               sep=delimiter, skip_blank_lines=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise EnsoError(f"{path}: not a readable CSV file ({str(exc).strip()})") from None
    records, numbers = [], []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EnsoError(f"{path}: line {number} is not valid JSON ({exc.msg}); "
                            "JSONL needs one JSON object per line") from None
        if not isinstance(value, dict):
            raise EnsoError(f"{path}: line {number} is a JSON {type(value).__name__}, not an object")
        records.append(value)
        numbers.append(number)
    if not records:
        raise EnsoError(f"{path}: no rows")
    table = pd.DataFrame.from_records(records)
    table.attrs["lines"] = numbers
    return table


def _json_type(value: Any) -> str:
    """The JSON type of a value as pandas hands it over (numpy scalars for columns of one numeric type)."""
    import numbers

    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "array" if isinstance(value, (list, tuple, np.ndarray)) else "object" if isinstance(value, dict) \
        else type(value).__name__


def check_label_types(name: str, labels: pd.Series, lines: list[int], column: str, line: str = "line") -> None:
    """Labels are scalars of one type only: ``1`` and ``"1"`` would otherwise become one class ``"1"``."""
    first: tuple[int, Any, str] | None = None
    for number, value in zip(lines, labels):
        if _missing(value):
            continue  # reported with the other rows that have no label
        kind = _json_type(value)
        if kind not in ("boolean", "number", "string"):
            raise EnsoError(f"{name}: {line} {number} has a{'n' if kind[0] in 'aeiou' else ''} {kind} as its "
                            f"{column!r}; a label must be a string, a number or true/false")
        if first is None:
            first = (number, value, kind)
        elif kind != first[2]:
            raise EnsoError(f"{name}: {line} {number} has {column!r} {_shown(value)} (a {kind}) but {line} "
                            f"{first[0]} has {_shown(first[1])} (a {first[2]}); give every label the same "
                            "type, so that 1 and \"1\" are not taken for one class")


def _shown(value: Any) -> str:
    return json.dumps(value.item() if hasattr(value, "item") else value)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _rows(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:5])
    return shown + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")


def check_name(name: str) -> None:
    """A local dataset's name: a plain folder name of at most 100 characters, not a registered name."""
    from enso.data import DATASETS

    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"--name is {len(name)} characters long ({name[:20]!r}...); "
                          f"use at most {MAX_NAME_LENGTH}")
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise ConfigError(f"--name {name!r} must be a plain folder name (letters, digits, '-', '_', '.'), "
                          "not starting with '.'")
    if name.lower().endswith(".lock"):
        raise ConfigError(f"--name {name!r}: names ending in '.lock' are the store's lock files; choose another")
    if DATASETS.is_registered(name):
        raise ConfigError(f"--name {name!r} is a registered dataset ({DATASETS.canonical(name)}); "
                          "choose another name for your own data")


def same_name_other_case(name: str, workspace: Workspace) -> str | None:
    """A folder in ``datasets/`` whose name differs from ``name`` only by case (names ignore case)."""
    from enso.store import is_temporary

    if not workspace.datasets.is_dir():
        return None
    for entry in sorted(workspace.datasets.iterdir()):
        if entry.name != name and entry.name.lower() == name.lower() and not is_temporary(entry.name) \
                and entry.is_dir():
            return entry.name
    return None


def _check_case(name: str, workspace: Workspace) -> None:
    other = same_name_other_case(name, workspace)
    if other is not None:
        raise ConfigError(f"--name {name!r}: the local dataset {other!r} already exists and dataset names "
                          f"ignore case; use --name {other} (with --force to replace it) or another name")


def import_local(path: str | Path, workspace: Workspace, *, name: str, text_column: str = "text",
                 label_column: str = "label", split_column: str | None = None, fmt: str | None = None,
                 encoding: str = "utf-8", drop_empty: bool = False, test_fraction: float = 0.2,
                 reuse: Reuse | str = Reuse.REUSE, text_b_column: str | None = None) -> Dataset:
    """Check ``path`` and store it as ``datasets/<name>/``; see the checks in the README.

    ``reuse`` (``enso.store.Reuse``): ``REUSE`` (default) keeps a dataset already imported
    from this very file and refuses to replace another one; ``RECOMPUTE`` imports again and
    replaces whatever ``datasets/<name>/`` holds (``--force``); ``ONLY_CACHED`` only returns
    the stored import of this file. ``text_b_column`` names a second text column: the rows are
    sentence pairs (``pair-classification``).
    """
    from enso.store import missing

    policy = Reuse.parse(reuse)
    force = not policy.reads
    path = Path(path).expanduser()
    check_name(name)
    if not path.is_file():
        raise ConfigError(f"{path} is not a file; pass the path of your CSV, JSONL or Parquet data")
    fmt = fmt or _SUFFIXES.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise ConfigError(f"cannot tell the format of {path.name}; use --csv, --jsonl or --parquet")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    if text_b_column is not None and text_b_column in (text_column, label_column, split_column):
        raise ConfigError(f"--text-b-column {text_b_column!r} is also the text, label or split column; "
                          "name the column with each pair's second text")

    sha256 = file_sha256(path)
    options = {"format": fmt, "text_column": text_column, "label_column": label_column,
               "split_column": split_column, "encoding": encoding, "drop_empty": drop_empty,
               "test_fraction": test_fraction if split_column is None else None, "parser_version": PARSER_VERSION}
    if text_b_column is not None:  # only for pairs: every single-text import keeps its key
        options["text_b_column"] = text_b_column
    key = stable_hash({"local-dataset": name, "sha256": sha256, "options": options})
    location = workspace.dataset_dir(name)

    from enso.store import artifact_lock, clean_temporaries

    clean_temporaries(workspace.datasets)
    _check_case(name, workspace)
    stored = _stored(name, location, key, force)
    if stored is not None:
        return stored
    if not policy.computes:
        raise missing(f"dataset {name} from {path.name}", f"python -m enso.download --{fmt} {path} --name {name}",
                      reason="--offline (only-cached) forbids importing it")
    dataset, card = _parse(path, fmt, name=name, sha256=sha256, text_column=text_column,
                           label_column=label_column, split_column=split_column, encoding=encoding,
                           drop_empty=drop_empty, test_fraction=test_fraction, text_b_column=text_b_column)
    # One import per name at a time, whatever its case: a second one waits, then finds the first's
    # dataset (and refuses to replace it without --force) instead of silently writing over it.
    with artifact_lock(workspace.datasets / name.lower()):
        _check_case(name, workspace)
        stored = _stored(name, location, key, force)
        if stored is not None:
            return stored
        return write_dataset(location, key=key, kind=KIND, dataset=dataset, card=card,
                             params={"path": str(path.resolve()), **options}, inputs={str(path.resolve()): sha256})


def _stored(name: str, location: Path, key: str, force: bool) -> Dataset | None:
    """The dataset already stored from this very file; an error if another one is stored (unless ``force``)."""
    from enso.data.build import read_dataset
    from enso.store import read_artifact

    existing = read_artifact(location)
    if existing is None or force:
        return None
    if existing.key == key:
        dataset = read_dataset(name, location, key)
        if dataset is not None:
            log.info("%s is already stored from this file; nothing to do", name)
            return dataset
        return None
    params = existing.manifest.get("params", {})
    source = params.get("path") if isinstance(params.get("path"), str) else "another source"
    raise EnsoError(f"datasets/{name} already holds another dataset (from {source}); "
                    "pass --force to replace it, or choose another --name")


def _parse(path: Path, fmt: str, *, name: str, sha256: str, text_column: str, label_column: str,
           split_column: str | None, encoding: str, drop_empty: bool,
           test_fraction: float, text_b_column: str | None = None) -> tuple[Dataset, dict[str, Any]]:
    """The checked dataset and its card, from the user's file."""
    table = read_table(path, fmt, encoding)
    columns = [str(c) for c in table.columns]
    wanted = [c for c in (text_column, text_b_column, label_column, split_column) if c is not None]
    absent = [c for c in wanted if c not in columns]
    if absent:
        raise ConfigError(f"{path.name} has no column {absent[0]!r} (columns: {', '.join(columns)}); "
                          "pass --text-column/--text-b-column/--label-column/--split-column")
    text_columns = [text_column] + ([text_b_column] if text_b_column is not None else [])

    if len(table) == 0:
        raise EnsoError(f"{path.name}: no data rows" + (" (only a header)" if fmt == "csv" else "")
                        + "; add rows of text and label")
    labels = table[label_column]
    # Row numbers as the user sees them in the file (a CSV's header is line 1).
    numbers = table.attrs["lines"] if fmt == "jsonl" else [i + (2 if fmt == "csv" else 1) for i in range(len(table))]
    check_label_types(path.name, labels, numbers, label_column, line="line" if fmt == "jsonl" else "row")
    bad_labels = [numbers[i] for i, v in enumerate(labels) if _missing(v) or not str(v).strip()]
    if bad_labels:
        raise EnsoError(f"{path.name}: {len(bad_labels)} rows have no label in column {label_column!r} "
                        f"(rows {_rows(bad_labels)}); fill them in or remove those rows")
    empty_rows: set[int] = set()
    for column in text_columns:
        texts = table[column]
        not_text = [numbers[i] for i, v in enumerate(texts) if not _missing(v) and not isinstance(v, str)]
        if not_text:
            raise EnsoError(f"{path.name}: column {column!r} holds non-text values (rows {_rows(not_text)}); "
                            "pick the column with the texts")
        empty_rows.update(i for i, v in enumerate(texts) if _missing(v) or not str(v).strip())
    empty = sorted(empty_rows)
    if empty and not drop_empty:
        where = "text" if text_b_column is None else "text (in either text column)"
        raise EnsoError(f"{path.name}: {len(empty)} rows have an empty or whitespace-only {where} "
                        f"(rows {_rows([numbers[i] for i in empty])}); fix them or pass --drop-empty")
    if text_b_column is None:
        frame = pd.DataFrame({"text": table[text_column].astype(object)})
    else:
        frame = pd.DataFrame({"text_a": table[text_column].astype(object),
                              "text_b": table[text_b_column].astype(object)})
    frame["label"] = labels.map(lambda v: str(v).strip())
    if split_column is not None:
        splits = table[split_column].map(lambda v: "" if _missing(v) else str(v).strip().lower())
        bad = sorted(set(splits) - set(SPLITS))
        if bad:
            raise EnsoError(f"{path.name}: column {split_column!r} has values {bad[:5]}; "
                            "use 'train', 'dev' and 'test' only")
        frame["split"] = splits
    if empty:
        frame = frame.drop(index=empty).reset_index(drop=True)
        log.warning("%s: dropped %d rows with an empty text", path.name, len(empty))
    for column in ("text",) if text_b_column is None else ("text_a", "text_b"):
        frame[column] = frame[column].map(str)

    counts = frame["label"].value_counts()
    rare = sorted(counts[counts < 2].index)
    if rare:
        raise EnsoError(f"{path.name}: {len(rare)} classes have fewer than 2 examples "
                        f"({', '.join(map(repr, rare[:5]))}); add examples or remove those rows")
    if len(counts) < 2:
        raise EnsoError(f"{path.name}: only one class ({counts.index[0]!r}); classification needs two or more")
    if split_column is None:
        frame["split"] = stratified_test_split(frame["label"], fraction=test_fraction, name=name)
    else:
        for split in ("train", "test"):
            if not (frame["split"] == split).any():
                raise EnsoError(f"{path.name}: column {split_column!r} has no {split!r} rows; "
                                "a dataset needs train and test rows (dev is optional)")
    duplicated = int(frame.duplicated(["text"] if text_b_column is None else ["text_a", "text_b"]).sum())
    if duplicated:
        log.warning("%s: %d %s occur more than once (kept; see the card)", path.name, duplicated,
                    "texts" if text_b_column is None else "pairs")
    task = "classification" if text_b_column is None else "pair-classification"
    if text_b_column is None:
        parsing = f"{fmt} file; text from column {text_column!r}, label from {label_column!r}"
    else:
        parsing = (f"{fmt} file; sentence pairs: text_a from column {text_column!r}, text_b from "
                   f"{text_b_column!r}, label from {label_column!r}")

    from enso.data.build import make_card

    summary = {
        "name": name, "aliases": [], "task": task,
        "description": f"the user's own data from {path.name}",
        "classes": sorted(counts.index), "license": "the user's own data", "citation": "", "homepage": "",
        "sources": [{"source": str(path.resolve()), "sha256": sha256, "member": None, "encoding": encoding,
                     "split": None, "label": None}],
        "format": {"kind": fmt, "text_column": text_column, "label_column": label_column,
                   "split_column": split_column, "parser_version": PARSER_VERSION,
                   **({"text_b_column": text_b_column} if text_b_column is not None else {})},
        "parsing": parsing + (f", split from {split_column!r}" if split_column else ""),
        "split": (f"given by column {split_column!r}" if split_column else
                  f"stratified {test_fraction:.0%} test split per class, seed derive_seed('test-split', name)"),
        "local": True,
    }
    dataset = Dataset.from_frame(name, frame, task=task)
    return dataset, make_card(summary, dataset, {"dropped_empty": len(empty)})


def local_names(workspace: Workspace) -> dict[str, str]:
    """Local datasets stored in ``workspace``: lower-case name -> name.

    A folder is a local dataset when its manifest says so or, when the manifest is damaged
    (unreadable, not a JSON object, no kind), when its card does: it is then listed (as
    broken, since it does not verify) and named, so its errors say how to import it again.
    Store temporaries (``.tmp-``/``.old-`` folders of a write in progress or killed) are
    never datasets.
    """
    from enso.store import is_temporary

    found: dict[str, str] = {}
    if not workspace.datasets.is_dir():
        return found
    for folder in sorted(workspace.datasets.iterdir()):
        if is_temporary(folder.name) or not _is_local_folder(folder):
            continue
        if folder.name.lower() in found:  # written by a version that did not refuse names differing by case
            log.warning("local datasets %s and %s differ only by case; %s is used (rename or remove the other)",
                        found[folder.name.lower()], folder.name, found[folder.name.lower()])
            continue
        found[folder.name.lower()] = folder.name
    return found


def _is_local_folder(folder: Path) -> bool:
    manifest = _json_object(folder / "manifest.json")
    if manifest is not None and isinstance(manifest.get("kind"), str):
        return manifest["kind"] == KIND and (folder / CARD_FILE).is_file()
    if not (folder / "manifest.json").exists():
        return False
    card = _json_object(folder / CARD_FILE)
    return card is not None and card.get("local") is True


def _json_object(path: Path) -> dict | None:
    try:
        if not path.is_file() or path.stat().st_size > (64 << 20):
            return None
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
