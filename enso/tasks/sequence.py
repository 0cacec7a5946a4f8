"""``sequence-labelling``: one sentence per row, a tag per token (named entities, chunks).

The frame has ``tokens`` (a list of strings), ``tags`` (a list of strings, as many as tokens)
and ``split``. Tags are stored in the IOB2 scheme (``B-X`` opens every span, ``I-X`` continues
it, ``O`` is outside; ``enso.data.conll`` converts IOB1 and IOBES files on load and the card
records the scheme of the source).

- Featurizers see token units (:func:`enso.tasks.base.token_units`): one vector per token,
  stored flat with per-sentence offsets; ``target_input`` slices a cell's sentences out of
  the stored (memory-mapped) matrix as a :class:`Ragged` whose offsets say where each
  sentence's tokens are.
- Targets are fitted on the tags as a ``Ragged`` of strings (``label_unit = "token"``).
- Rows are sentences: training sizes count sentences and samplers draw sentences. A
  sentence's stratum is ``"entity"`` when it holds at least one tag other than ``O``, else
  ``"none"``, so a stratified draw (and a capped dataset) keeps the share of sentences with
  entities that the pool has; no per-token label can stratify a row.
- Two rows are the same example (test-in-train) when their token sequences are equal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from enso.tasks.base import Layout, Ragged, TaskType, Units, hash_rows, token_units

OUTSIDE = "O"
STORED_SCHEME = "IOB2"


def _as_strings(value: Any, what: str, name: str, row: int) -> list[str]:
    """A list column's value (a list, a tuple, or a numpy array read back from Parquet) as a list of str."""
    if isinstance(value, str) or not hasattr(value, "__len__"):
        raise ValueError(f"dataset {name}: row {row} has {what} {value!r}, not a list of strings")
    return [str(v) for v in value]


def entity_type(tag: str) -> str | None:
    """The type of an IOB2 tag (``B-PER`` -> ``PER``), None for ``O``."""
    if tag == OUTSIDE:
        return None
    return tag[2:] if len(tag) > 2 and tag[1] == "-" else tag


def count_spans(tags: Sequence[str]) -> Counter:
    """Entities per type in one IOB2 sentence: each ``B-X``, and each ``I-X`` not continuing an ``X`` span."""
    counts: Counter = Counter()
    previous = None
    for tag in tags:
        kind = entity_type(tag)
        if kind is not None and (tag.startswith("B-") or kind != previous):
            counts[kind] += 1
        previous = kind
    return counts


class SequenceLabelling(TaskType):
    name = "sequence-labelling"
    description = "one sentence per row, labelled with one tag per token (IOB2 spans: entities, chunks)"
    columns = ("tokens", "tags", "split")
    dtypes: ClassVar[dict[str, Any]] = {"split": str}
    unit = "token"
    label_unit = "token"
    row_noun = "sentence"
    metrics = ("span_f1", "span_precision", "span_recall", "token_accuracy")
    default_metrics = ("span_f1", "token_accuracy")

    # ---- frame ---------------------------------------------------------------------------------

    def check_values(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """Lists of strings in both list columns (Parquet gives numpy arrays back), as many tags as tokens.

        A sentence without tokens is refused: it has nothing to featurize or tag.
        """
        tokens = [_as_strings(v, "tokens", name, i) for i, v in enumerate(frame["tokens"])]
        tags = [_as_strings(v, "tags", name, i) for i, v in enumerate(frame["tags"])]
        for row, (words, labels) in enumerate(zip(tokens, tags)):
            if len(words) != len(labels):
                raise ValueError(f"dataset {name}: row {row} has {len(words)} tokens but {len(labels)} tags; "
                                 "give one tag per token")
            if not words:
                raise ValueError(f"dataset {name}: row {row} has no tokens; drop empty sentences")
        out = frame.copy()
        out["tokens"] = pd.Series(tokens, index=frame.index, dtype=object)
        out["tags"] = pd.Series(tags, index=frame.index, dtype=object)
        return out

    def content_hash(self, frame: pd.DataFrame) -> str:
        """sha256 over each row's tokens, tags and split, prefixed by the task type's name."""
        return hash_rows(zip(frame["tokens"], frame["tags"], frame["split"]), prefix=self.name)

    # ---- what featurizers see and what targets are fitted on ------------------------------------

    def units(self, frame: pd.DataFrame) -> Units:
        """Each row's token list, in row order: feature rows are the tokens of row 0, then of row 1, ..."""
        return token_units(frame, "tokens")

    def labels(self, frame: pd.DataFrame) -> Ragged:
        return Ragged.from_lists(frame["tags"])

    def classes(self, frame: pd.DataFrame) -> list[str]:
        return sorted({tag for tags in frame["tags"] for tag in tags})

    def strata(self, frame: pd.DataFrame) -> np.ndarray:
        """``"entity"`` for a sentence with a tag other than ``O``, else ``"none"``."""
        return np.asarray(["entity" if any(t != OUTSIDE for t in tags) else "none" for tags in frame["tags"]],
                          dtype=object)

    def row_keys(self, frame: pd.DataFrame) -> np.ndarray:
        keys = np.empty(len(frame), dtype=object)
        keys[:] = [tuple(tokens) for tokens in frame["tokens"]]
        return keys

    def target_input(self, features: Any, frame: pd.DataFrame | Layout, rows: np.ndarray,
                     options: dict[str, Any] | None = None) -> Ragged:
        """The tokens of sentences ``rows`` (in that order) as a Ragged of feature rows.

        ``features`` is the flat per-token matrix (``(n_tokens, d)``, ``(n_tokens, layers, d)``,
        a memory map, or a CSR matrix); only the rows of the cell's tokens are read from it. From
        a ``.npy`` memory map they are not read here at all: the values are a :class:`FileRows`,
        read from the file when the target asks (a CRF, a sentence at a time).
        """
        layout = self.layout_of(frame)
        if layout.offsets is None:
            raise ValueError("a sequence-labelling layout needs token offsets")
        return Ragged(features, layout.offsets)[np.asarray(rows, dtype=np.int64)]

    # ---- the card --------------------------------------------------------------------------------

    def card_stats(self, frame: pd.DataFrame, splits: Sequence[str]) -> dict[str, Any]:
        """Tokens, tags and entities (per type) per split, the stored tag scheme, duplicated sentences."""
        split = frame["split"].to_numpy()
        tokens = {s: 0 for s in splits}
        tag_counts: dict[str, dict[str, int]] = {}
        entities: dict[str, dict[str, int]] = {}
        for tags, where in zip(frame["tags"], split):
            tokens[where] = tokens.get(where, 0) + len(tags)
            for tag, n in Counter(tags).items():
                tag_counts.setdefault(tag, dict.fromkeys(splits, 0))
                tag_counts[tag][where] = tag_counts[tag].get(where, 0) + n
            for kind, n in count_spans(tags).items():
                entities.setdefault(kind, dict.fromkeys(splits, 0))
                entities[kind][where] = entities[kind].get(where, 0) + n
        tag_counts = {tag: tag_counts[tag] for tag in sorted(tag_counts)}
        entities = {kind: entities[kind] for kind in sorted(entities)}
        return {
            "n_classes": len(tag_counts),
            "tokens": {s: int(tokens.get(s, 0)) for s in splits},
            "tag_scheme": STORED_SCHEME,
            "entity_types": list(entities),
            "entity_counts": entities,
            "class_counts": tag_counts,  # the tags are the classes: the card's table of tags per split
            "duplicated_sentences": int(pd.Series(self.row_keys(frame)).duplicated().sum()),
        }

    def card_fields(self, card: dict[str, Any]) -> list[tuple[str, str]]:
        fields = []
        tokens = card.get("tokens")
        if isinstance(tokens, dict):
            shown = ", ".join(f"{s} {tokens[s]:,}" for s in ("train", "dev", "test") if s in tokens
                              and (s != "dev" or tokens[s]))
            fields.append(("tokens", f"{sum(tokens.values()):,} ({shown})"))
        scheme = card.get("tag_scheme")
        if scheme:
            source = card.get("source_scheme") or (card.get("format") or {}).get("scheme")
            note = f" (source files: {source}, converted on load)" if source and source != scheme else ""
            fields.append(("tag scheme", f"{scheme}{note}"))
        entities = card.get("entity_counts")
        if isinstance(entities, dict) and entities:
            fields.append(("entity types", ", ".join(
                f"{kind} {sum(by_split.values()):,}" for kind, by_split in entities.items())))
        if "duplicated_sentences" in card:
            fields.append(("duplicates", f"{card['duplicated_sentences']:,} sentences occur more than once"))
        return fields
