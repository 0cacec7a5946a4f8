"""Dataset cards and the dataset listing as text: what ``download --info`` and ``--list`` print.

The library formats, the command prints: ``info_text(name, workspace)`` is the card of one
dataset (stored counts when it is downloaded, the record's description otherwise),
``listing_text(workspace)`` the table of every registered and local dataset, and
``download_line(dataset, workspace)`` the one line ``download`` prints per dataset.
``card_text`` formats one dataset or record, ``listing_rows`` gives the table's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass
from typing import Any

from enso.data.dataset import Dataset
from enso.data.records import DatasetRecord
from enso.errors import ConfigError
from enso.workspace import Workspace

__all__ = ["ListingRow", "card_text", "download_line", "format_card", "info_text", "listing_rows",
           "listing_text", "split_sizes"]


def split_sizes(splits: dict, separator: str) -> str:
    """``train 7,792 / test 1,821``, with dev between them when the dataset has one."""
    shown = [split for split in ("train", "dev", "test") if split != "dev" or splits.get("dev")]
    return separator.join(f"{split} {splits.get(split, 0):,}" for split in shown)


def _test_in_train(dataset: Dataset) -> str:
    found = dataset.test_in_train()
    return f"{found['count']:,} ({found['share']:.1%})"


def download_line(dataset: Dataset, workspace: Workspace) -> str:
    """``TREC   5,952 rows   6 classes  train 5,452 / test 500  /ws/datasets/TREC``."""
    return (f"{dataset.name:<20} {len(dataset):>7,} rows  {len(dataset.classes):>3} classes  "
            f"{split_sizes(dataset.card.get('splits', {}), ' / ')}  {workspace.dataset_dir(dataset.name)}")


# -- the listing ---------------------------------------------------------------------------------

LISTING_HEADER = ("name", "aliases", "classes", "rows", "license", "test-in-train", "downloaded")
_RIGHT = {2, 3, 5}  # right-aligned columns: classes, rows, test-in-train


@dataclass(frozen=True)
class ListingRow:
    """One line of ``download --list``, as the text it shows."""

    name: str
    aliases: str
    classes: str
    rows: str
    license: str
    test_in_train: str
    state: str  # "yes", "no", "stale" (built from another version of the record), "local", "broken"


def listing_rows(workspace: Workspace) -> list[ListingRow]:
    """Every registered dataset (in registration order), then the user's own in ``workspace``."""
    from enso.data import DATASETS
    from enso.data.build import read_dataset

    rows: list[ListingRow] = []
    for name, record in DATASETS.items():
        location = workspace.dataset_dir(name)
        dataset = read_dataset(name, location, record.key())
        if dataset is not None:
            state = "yes"
        elif (location / "manifest.json").exists():
            state = "stale"
        else:
            state = "no"
        license_ = record.license if len(record.license) <= 40 else record.license[:37] + "..."
        rows.append(ListingRow(name, ",".join(record.aliases), str(record.class_count), f"{record.rows:,}",
                               license_, _test_in_train(dataset) if dataset is not None else "-", state))
    for name in DATASETS.in_workspace(workspace).local_names():  # store temporaries are never listed
        dataset = read_dataset(name, workspace.dataset_dir(name))
        if dataset is None:
            rows.append(ListingRow(name, "", "?", "?", "the user's own data", "-", "broken"))
        else:
            rows.append(ListingRow(name, "", str(len(dataset.classes)), f"{len(dataset):,}", "the user's own data",
                                   _test_in_train(dataset), "local"))
    return rows


def listing_text(rows: Workspace | Iterable[ListingRow]) -> str:
    """The ``download --list`` table of ``rows`` (or of ``listing_rows(workspace)``)."""
    if isinstance(rows, Workspace):
        rows = listing_rows(rows)
    table = [LISTING_HEADER, *(astuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(LISTING_HEADER))]
    lines = []
    for number, row in enumerate(table):
        cells = [cell.rjust(w) if i in _RIGHT else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- the card ---------------------------------------------------------------------------------------


def info_text(name: str, workspace: Workspace) -> str:
    """The card of dataset ``name`` in ``workspace``: stored counts when downloaded, the record otherwise."""
    from enso.data import DATASETS
    from enso.data.build import read_dataset

    datasets = DATASETS.in_workspace(workspace)
    canonical = datasets.canonical(name)
    record = datasets.record(canonical)
    dataset = read_dataset(canonical, workspace.dataset_dir(canonical), record.key() if record else None)
    if dataset is not None:
        return card_text(dataset, state=f"downloaded: {workspace.dataset_dir(canonical)}", record=record)
    if record is not None:
        return card_text(record)
    raise ConfigError(f"local dataset {canonical} is broken; import it again")


def card_text(subject: Dataset | DatasetRecord, *, state: str | None = None,
              record: DatasetRecord | None = None) -> str:
    """The card of a stored dataset (with the counts of its rows) or of a record (its description).

    For a dataset, ``record`` (its registered record, if any) supplies the prose: license,
    citation and the like are not part of the artifact's key, so the record's current words
    are shown. ``state`` is the card's "state:" line.
    """
    if isinstance(subject, DatasetRecord):
        card = subject.summary()
        state = state or f"not downloaded (run `python -m enso.download {subject.name}`)"
    else:
        # Counts that cards written by older versions lack are computed from the stored rows.
        card = {**subject.card, **(record.summary() if record else {}), "test_in_train": subject.test_in_train()}
        state = state or "downloaded"
    return format_card(card, state)


def format_card(card: dict[str, Any], state: str) -> str:
    """A card (``card.json`` or a record's summary) as the lines ``download --info`` prints."""
    from enso.tasks import TASKS

    lines = [card["name"], "=" * len(card["name"]), card.get("description", ""), ""]
    fields = [("aliases", ", ".join(card.get("aliases", [])) or "-"), ("task", card.get("task", "")),
              ("state", state), ("license", card.get("license", "")), ("homepage", card.get("homepage", "")),
              ("citation", card.get("citation", "")), ("split", card.get("split", "")),
              ("parsing", card.get("parsing", ""))]
    if "rows" in card:
        splits = card.get("splits", {})
        fields.insert(3, ("rows", f"{card['rows']:,} ({split_sizes(splits, ', ')})"))
        task = card.get("task")
        if isinstance(task, str) and task in TASKS:
            fields.extend(TASKS.get(task).card_fields(card))
        if "duplicated_texts" in card or task in (None, "classification"):
            fields.append(("duplicated texts", f"{card.get('duplicated_texts', 0):,}"))
        found = card.get("test_in_train")
        if isinstance(found, dict):
            shown = (f"{found['count']:,} of {splits.get('test', 0):,} test rows ({found['share']:.1%}) "
                     "have a text that is also in the train split")
            if task == "pair-classification":  # a pair's key is both texts, in order
                shown = (f"{found['count']:,} of {splits.get('test', 0):,} test pairs ({found['share']:.1%}) "
                         "are also a train pair (both texts, in order)")
            fields.append(("test in train", shown))
        fields.append(("content hash", card.get("content_hash", "")))
    for key, value in fields:
        if value:
            lines.append(f"{key + ':':<17} {value}")
    lines.append("")
    lines.append("sources:")
    for source in card.get("sources", []):
        where = f"{source['source']}" + (f" :: {source['member']}" if source.get("member") else "")
        extras = ", ".join(f"{k} {source[k]}" for k in ("encoding", "split", "label") if source.get(k))
        lines.append(f"  {where}")
        lines.append(f"    sha256 {source['sha256']}" + (f"; {extras}" if extras else ""))
    counts = card.get("class_counts")
    if counts:
        lines.append("")
        width = max(len("class"), *(len(label) for label in counts))
        shown = [split for split in ("train", "dev", "test")
                 if split != "dev" or any(by_split.get("dev") for by_split in counts.values())]
        lines.append(f"  {'class':<{width}}" + "".join(f"  {split:>7}" for split in shown))
        for label, by_split in counts.items():
            lines.append(f"  {label:<{width}}" + "".join(f"  {by_split.get(split, 0):>7,}" for split in shown))
    elif isinstance(card.get("classes"), list):
        lines.append("")
        lines.append("classes: " + ", ".join(card["classes"]))
    return "\n".join(lines)
