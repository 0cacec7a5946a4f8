"""The user's own labelled data (CSV, JSONL or Parquet) stored like any registered dataset."""

from __future__ import annotations

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
from enso.workspace import Workspace

log = logging.getLogger(__name__)

KIND = "local-dataset"
FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
             ".pq": "parquet"}
PARSER_VERSION = 1


def read_table(path: Path, fmt: str, encoding: str) -> pd.DataFrame:
    """Every column as read, values as strings where the file has text (empty cells are None)."""
    if fmt == "parquet":
        try:
            return pd.read_parquet(path, engine="pyarrow")
        except Exception as exc:  # pyarrow raises many types for a bad file
            raise EnsoError(f"{path}: not a readable Parquet file ({exc}); check the path and format") from None
    # A byte-order mark (Excel writes one) is not data: left in, it hides the first column's name.
    text = decode(path.read_bytes(), encoding, str(path)).removeprefix("\ufeff")
    if fmt == "csv":
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        try:
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[],
                               sep=delimiter, skip_blank_lines=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise EnsoError(f"{path}: not a readable CSV file ({str(exc).strip()})") from None
    records = []
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
    if not records:
        raise EnsoError(f"{path}: no rows")
    return pd.DataFrame.from_records(records)


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
    from enso.data import DATASETS

    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise ConfigError(f"--name {name!r} must be a plain folder name (letters, digits, '-', '_', '.')")
    if DATASETS.is_registered(name):
        raise ConfigError(f"--name {name!r} is a registered dataset ({DATASETS.canonical(name)}); "
                          "choose another name for your own data")


def import_local(path: str | Path, workspace: Workspace, *, name: str, text_column: str = "text",
                 label_column: str = "label", split_column: str | None = None, fmt: str | None = None,
                 encoding: str = "utf-8", drop_empty: bool = False, test_fraction: float = 0.2,
                 force: bool = False) -> Dataset:
    """Check ``path`` and store it as ``datasets/<name>/``; see the checks in the README."""
    path = Path(path).expanduser()
    check_name(name)
    if not path.is_file():
        raise ConfigError(f"{path} is not a file; pass the path of your CSV, JSONL or Parquet data")
    fmt = fmt or _SUFFIXES.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise ConfigError(f"cannot tell the format of {path.name}; use --csv, --jsonl or --parquet")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"--test-fraction must be between 0 and 1, got {test_fraction}")

    sha256 = file_sha256(path)
    options = {"format": fmt, "text_column": text_column, "label_column": label_column,
               "split_column": split_column, "encoding": encoding, "drop_empty": drop_empty,
               "test_fraction": test_fraction if split_column is None else None, "parser_version": PARSER_VERSION}
    key = stable_hash({"local-dataset": name, "sha256": sha256, "options": options})
    location = workspace.dataset_dir(name)

    from enso.data.build import read_dataset
    from enso.store import read_artifact

    existing = read_artifact(location)
    if existing is not None and not force:
        if existing.key == key:
            log.info("%s is already stored from this file; nothing to do", name)
            dataset = read_dataset(name, location, key)
            if dataset is not None:
                return dataset
        else:
            source = existing.manifest.get("params", {}).get("path", "another source")
            raise EnsoError(f"datasets/{name} already holds another dataset (from {source}); "
                            "pass --force to replace it, or choose another --name")

    table = read_table(path, fmt, encoding)
    columns = [str(c) for c in table.columns]
    wanted = [c for c in (text_column, label_column, split_column) if c is not None]
    absent = [c for c in wanted if c not in columns]
    if absent:
        raise ConfigError(f"{path.name} has no column {absent[0]!r} (columns: {', '.join(columns)}); "
                          "pass --text-column/--label-column/--split-column")

    texts = table[text_column]
    labels = table[label_column]
    offset = 2 if fmt == "csv" else 1  # row numbers as the user sees them in the file
    bad_labels = [i + offset for i, v in enumerate(labels) if _missing(v) or not str(v).strip()]
    if bad_labels:
        raise EnsoError(f"{path.name}: {len(bad_labels)} rows have no label in column {label_column!r} "
                        f"(rows {_rows(bad_labels)}); fill them in or remove those rows")
    not_text = [i + offset for i, v in enumerate(texts) if not _missing(v) and not isinstance(v, str)]
    if not_text:
        raise EnsoError(f"{path.name}: column {text_column!r} holds non-text values (rows {_rows(not_text)}); "
                        "pick the column with the texts")
    empty = [i for i, v in enumerate(texts) if _missing(v) or not str(v).strip()]
    if empty and not drop_empty:
        raise EnsoError(f"{path.name}: {len(empty)} rows have an empty or whitespace-only text "
                        f"(rows {_rows([i + offset for i in empty])}); fix them or pass --drop-empty")
    frame = pd.DataFrame({"text": texts.astype(object), "label": labels.map(lambda v: str(v).strip())})
    if split_column is not None:
        splits = table[split_column].map(lambda v: "" if _missing(v) else str(v).strip().lower())
        bad = sorted(set(splits) - set(SPLITS))
        if bad:
            raise EnsoError(f"{path.name}: column {split_column!r} has values {bad[:5]}; "
                            "use 'train' and 'test' only")
        frame["split"] = splits
    if empty:
        frame = frame.drop(index=empty).reset_index(drop=True)
        log.warning("%s: dropped %d rows with an empty text", path.name, len(empty))
    frame["text"] = frame["text"].map(str)

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
        for split in SPLITS:
            if not (frame["split"] == split).any():
                raise EnsoError(f"{path.name}: column {split_column!r} has no {split!r} rows; "
                                "a dataset needs both splits")
    duplicated = int(frame["text"].duplicated().sum())
    if duplicated:
        log.warning("%s: %d texts occur more than once (kept; see the card)", path.name, duplicated)

    from enso.data.build import make_card

    summary = {
        "name": name, "aliases": [], "task": "classification",
        "description": f"the user's own data from {path.name}",
        "classes": sorted(counts.index), "license": "the user's own data", "citation": "", "homepage": "",
        "sources": [{"source": str(path.resolve()), "sha256": sha256, "member": None, "encoding": encoding,
                     "split": None, "label": None}],
        "format": {"kind": fmt, "text_column": text_column, "label_column": label_column,
                   "split_column": split_column, "parser_version": PARSER_VERSION},
        "parsing": (f"{fmt} file; text from column {text_column!r}, label from {label_column!r}"
                    + (f", split from {split_column!r}" if split_column else "")),
        "split": (f"given by column {split_column!r}" if split_column else
                  f"stratified {test_fraction:.0%} test split per class, seed derive_seed('test-split', name)"),
        "local": True,
    }
    dataset = Dataset.from_frame(name, frame)
    card = make_card(summary, dataset, {"dropped_empty": len(empty)})
    return write_dataset(location, key=key, kind=KIND, dataset=dataset, card=card,
                         params={"path": str(path.resolve()), **options}, inputs={str(path.resolve()): sha256})


def local_names(workspace: Workspace) -> dict[str, str]:
    """Local datasets stored in ``workspace``: lower-case name -> name."""
    found = {}
    if not workspace.datasets.is_dir():
        return found
    for manifest in workspace.datasets.glob("*/manifest.json"):
        try:
            kind = json.loads(manifest.read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError):
            continue
        if kind == KIND and (manifest.parent / CARD_FILE).is_file():
            found[manifest.parent.name.lower()] = manifest.parent.name
    return found
