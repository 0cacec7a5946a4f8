"""What a task type owns: the frame's schema, its content hash, what featurizers see, labels, metrics.

A dataset is one frame, one row per example, with a ``split`` column (``train``, ``dev``,
``test``). The *task type* declared on its record says what the other columns are and how
every stage reads them:

- ``check_frame``: the frame's columns and types (a bad frame is refused, naming the dataset);
- ``content_hash``: the hash that addresses features and cells made from the rows;
- ``units``: what featurizers encode (the texts, or the token lists, in feature order) and
  how rows map to them (:class:`Units`); its :class:`Layout` is the part a worker needs;
- ``labels``: what a target is fitted on (one label per row, or per token as :class:`Ragged`);
- ``metrics`` / ``default_metrics``: the metric names that apply;
- ``target_input``: a cell's input from the stored features for given rows.

Rows are what protocols draw and training sizes count (examples, pairs, sentences), for
every task type. Only numpy and pandas here: a task type is layer 2 (it imports layers 0-1).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from enso.params import Constraint, validate_params
from enso.tasks.rows import take_rows

SPLITS = ("train", "dev", "test")
UNIT_KINDS = ("text", "token", "pair")


# -- shapes --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Ragged:
    """Variable-length sequences stored flat: sequence ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    ``values`` is anything indexable by rows (a numpy array of labels, a feature matrix
    with one row per token, a memory map, a :class:`enso.tasks.rows.FileRows`); ``offsets``
    has one entry more than there are sequences and starts at 0. ``ragged[rows]`` takes
    sequences ``rows``, in that order; from a ``FileRows`` or a whole ``.npy`` file's memory
    map its values are a ``FileRows``, read when asked (``enso.tasks.rows.take_rows``).
    """

    values: Any
    offsets: np.ndarray

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets, dtype=np.int64)
        if offsets.ndim != 1 or not len(offsets) or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
            raise ValueError("offsets must be a non-decreasing 1-d array starting at 0")
        if offsets[-1] != _length(self.values):
            raise ValueError(f"offsets end at {offsets[-1]} but there are {_length(self.values)} values")
        object.__setattr__(self, "offsets", offsets)

    @classmethod
    def from_lists(cls, sequences: Iterable[Sequence[Any]], dtype: Any = object) -> Ragged:
        sequences = list(sequences)
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = [value for sequence in sequences for value in sequence]
        return cls(np.asarray(flat, dtype=dtype) if flat else np.zeros(0, dtype=dtype), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """Flat positions of the values of sequences ``rows``, in that order (int64)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        if not len(rows):
            return np.zeros(0, dtype=np.int64)
        lengths = ends - starts
        # one arange over the total, shifted per sequence: no Python loop over rows
        shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return np.arange(int(lengths.sum()), dtype=np.int64) + shift

    def __getitem__(self, rows) -> Ragged:
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64)
        lengths = self.lengths[rows]
        return Ragged(take_rows(self.values, self.positions(rows)), np.concatenate([[0], np.cumsum(lengths)]))

    def tolist(self) -> list[list[Any]]:
        return [list(self.values[self.offsets[i]:self.offsets[i + 1]]) for i in range(len(self))]


def _length(values: Any) -> int:
    shape = getattr(values, "shape", None)
    return int(shape[0]) if shape is not None else len(values)


@dataclass(frozen=True, eq=False)
class Layout:
    """How a dataset's rows map onto its stored features: the part of :class:`Units` a worker needs.

    Small and picklable (numpy arrays only). ``index`` is None when row ``r`` is feature row
    ``r`` (one text per row); else an int64 array, ``(n_rows,)`` or ``(n_rows, k)`` for ``k``
    units per row (pairs: ``k = 2``). ``offsets``, for token units, gives each unit's
    tokens in the flat per-token features (``len(units) + 1`` entries).
    """

    kind: str = "text"
    n_rows: int = 0
    index: np.ndarray | None = None
    offsets: np.ndarray | None = None

    def unit_index(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return rows if self.index is None else self.index[rows]

    def unit_rows(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The units rows use, each once, in order of first use: what an in-domain featurizer fitted on ``rows`` sees.

        With one unit per row (``index`` None) these are ``rows`` themselves, in their order.
        """
        if rows is None:
            return np.arange(self.n_rows if self.index is None else int(self.index.max(initial=-1)) + 1,
                             dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        if self.index is None:
            return rows
        return pd.unique(self.index[rows].ravel()).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Units:
    """What featurizers encode for one dataset, in feature order, and how rows map to it.

    ``kind`` ``"text"``: ``items`` are strings and a featurizer gives one vector per item.
    ``kind`` ``"token"``: ``items`` are token lists (one per sentence) and a featurizer gives
    one vector per token, stored flat; ``layout.offsets`` says where each item's tokens are.
    ``kind`` ``"pair"`` (cross-encoding, ``pair_encoding = "cross"``): ``items`` are ``(text_a,
    text_b)`` tuples, each distinct pair once, and a featurizer gives one vector per pair, both
    texts encoded together; ``layout.index`` is ``(n_rows,)``, row ``r``'s pair is ``index[r]``.
    """

    kind: str
    items: list[Any]
    layout: Layout

    def __post_init__(self) -> None:
        if self.kind not in UNIT_KINDS:
            raise ValueError(f"unit kind must be one of {UNIT_KINDS}, got {self.kind!r}")

    def __len__(self) -> int:
        return len(self.items)

    @property
    def feature_rows(self) -> int:
        """Rows of the stored feature matrix: one per item, or one per token."""
        if self.kind == "token":
            return int(self.layout.offsets[-1]) if self.layout.offsets is not None else 0
        return len(self.items)

    def for_rows(self, rows: np.ndarray | None) -> list[Any]:
        """The items dataset rows ``rows`` use, each once, in order of first use (None: all of them).

        What an in-domain featurizer is fitted on for training rows ``rows``: for pairs both
        texts of each training pair, never a text that only test pairs hold.
        """
        if rows is None:
            return list(self.items)
        return [self.items[i] for i in self.layout.unit_rows(rows).tolist()]


# -- building blocks for task types ---------------------------------------------------------


def row_units(texts: Sequence[str]) -> Units:
    """One unit per row, in row order, duplicates kept (classification's layout)."""
    texts = list(texts)
    return Units("text", texts, Layout("text", len(texts)))


def distinct_text_units(frame: pd.DataFrame, columns: Sequence[str]) -> Units:
    """Each distinct text of ``columns`` once, in order of first appearance row by row.

    Row ``r``'s texts are ``items[index[r, j]]`` for column ``j``; a text that occurs in
    several rows, or in both columns, is one unit and is featurized once (pairs).
    """
    stacked = frame.loc[:, list(columns)].to_numpy(dtype=object)  # (n_rows, k), row-major order
    codes, uniques = pd.factorize(stacked.ravel(), sort=False)
    index = codes.reshape(stacked.shape).astype(np.int64)
    return Units("text", [str(u) for u in uniques], Layout("text", len(frame), index))


def distinct_pair_units(frame: pd.DataFrame, columns: Sequence[str] = ("text_a", "text_b")) -> Units:
    """Each distinct ordered pair of ``columns`` once, in order of first appearance: what a cross-encoder encodes.

    Row ``r``'s pair is ``items[index[r]]`` (``index`` is ``(n_rows,)``); a pair that several rows
    hold is one unit and is encoded once. ``(a, b)`` and ``(b, a)`` are two pairs (the encoder
    sees the order).
    """
    texts = distinct_text_units(frame, columns)
    index = texts.layout.index
    if index is None or not len(index):
        return Units("pair", [], Layout("pair", len(frame), np.zeros(0, dtype=np.int64)))
    # the texts' codes as one int64 per row, factorized: no Python loop, no tuple hashing
    width = np.int64(len(texts.items))
    codes, uniques = pd.factorize(index[:, 0] * width + index[:, 1], sort=False)
    items = [tuple(texts.items[int(i)] for i in divmod(int(u), int(width))) for u in uniques]
    return Units("pair", items, Layout("pair", len(frame), codes.astype(np.int64)))


def token_units(frame: pd.DataFrame, column: str = "tokens") -> Units:
    """One unit per row holding its token list; features are per token, flat, with per-row offsets."""
    tokens = [list(t) for t in frame[column]]
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Units("token", tokens, Layout("token", len(frame), None, offsets))


def hash_rows(rows: Iterable[Iterable[Any]], *, prefix: str | None = None) -> str:
    """sha256 over every value of every row, length-prefixed so that no separator can collide.

    A scalar is hashed as ``str(value)``; a list or tuple (tokens, tags) as its JSON text.
    ``prefix`` (a task type's name) goes first, so that frames of different task types
    never share a hash; classification has none (its hash predates task types).
    """
    digest = hashlib.sha256()

    def put(value: Any) -> None:
        if isinstance(value, (list, tuple, np.ndarray)):
            value = json.dumps([str(v) for v in value], ensure_ascii=False, separators=(",", ":"))
        data = str(value).encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)

    if prefix is not None:
        put(f"task:{prefix}")
    for row in rows:
        for value in row:
            put(value)
    return digest.hexdigest()


# -- the interface ----------------------------------------------------------------------------


class TaskType:
    """Base of every task type; subclasses set the class attributes and the marked methods.

    Instances hold no state: the registry keeps one instance per task type.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: columns of the frame, in stored order (``split`` included)
    columns: ClassVar[tuple[str, ...]] = ()
    #: pandas dtypes the scalar columns are converted to (``str`` for texts and labels)
    dtypes: ClassVar[dict[str, Any]] = {}
    #: what featurizers see: "text" (one vector per text) or "token" (one vector per token)
    unit: ClassVar[str] = "text"
    #: what targets predict: "row" (one label per row) or "token" (one label per token)
    label_unit: ClassVar[str] = "row"
    #: what a row is, for messages and cards: "example", "pair", "sentence"
    row_noun: ClassVar[str] = "row"
    #: texts per row: 2 for pairs, which a cross-encoding featurizer encodes together
    row_texts: ClassVar[int] = 1
    #: metric names that apply (built-in ones; a metric may also name this task in its ``tasks``)
    metrics: ClassVar[tuple[str, ...]] = ()
    default_metrics: ClassVar[tuple[str, ...]] = ()
    #: options a cell's target input takes (e.g. pairs' ``pair_features``), their defaults and rules
    option_defaults: ClassVar[dict[str, Any]] = {}
    _option_constraints: ClassVar[dict[str, Constraint]] = {}

    def __repr__(self) -> str:
        return f"<task type {self.name}>"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskType) and type(other) is type(self)

    def __hash__(self) -> int:
        return hash((type(self).__module__, type(self).__qualname__))

    def __reduce__(self):  # a worker rebuilds the instance from its class, never from state
        return (type(self), ())

    # ---- frame -------------------------------------------------------------------------------

    def check_frame(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """The frame with exactly ``columns``, in order, converted; ValueError naming ``name`` if bad."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"dataset {name} lacks columns {missing}")
        frame = frame.loc[:, list(self.columns)].reset_index(drop=True)
        if self.dtypes:
            frame = frame.astype(self.dtypes)
        bad = sorted(set(frame["split"]) - set(SPLITS))
        if bad:
            raise ValueError(f"dataset {name} has unknown splits {bad}; use 'train', 'dev' and 'test'")
        return self.check_values(frame, name)

    def check_values(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """Checks and conversions beyond columns and splits; returns the frame.

        Sequence tasks check as many tags as tokens here, and turn list columns read back
        from Parquet (numpy arrays) into lists. Nothing by default.
        """
        return frame

    def content_hash(self, frame: pd.DataFrame) -> str:
        """sha256 of the checked frame's rows; features and cells made from the rows are keyed by it."""
        return hash_rows(zip(*(frame[c] for c in self.columns)), prefix=self.name)

    # ---- what featurizers see and what targets are fitted on --------------------------------

    def units(self, frame: pd.DataFrame) -> Units:
        raise NotImplementedError

    def layout(self, frame: pd.DataFrame) -> Layout:
        return self.units(frame).layout

    def cross_units(self, frame: pd.DataFrame) -> Units | None:
        """What a cross-encoding featurizer encodes (``pair_encoding = "cross"``): the texts of a row together.

        None (the default) for a task whose rows hold one text or token list, where there is
        nothing to encode together; pairs give each distinct pair once (``distinct_pair_units``).
        """
        return None

    def labels(self, frame: pd.DataFrame) -> np.ndarray | Ragged:
        """What a target is fitted on: one label per row (``label_unit == "row"``) or per token (Ragged)."""
        raise NotImplementedError

    def classes(self, frame: pd.DataFrame) -> list[str]:
        """The sorted label set (classes, or tags)."""
        labels = self.labels(frame)
        values = labels.values if isinstance(labels, Ragged) else labels
        return sorted(pd.unique(np.asarray(values, dtype=object)).tolist())

    def strata(self, frame: pd.DataFrame) -> np.ndarray:
        """One value per row that stratified splits, caps and samplers keep the shares of.

        The row's label by default; a task without one label per row gives every row "".
        """
        if self.label_unit == "row":
            return np.asarray(self.labels(frame))
        return np.full(len(frame), "", dtype=object)

    def row_keys(self, frame: pd.DataFrame) -> np.ndarray:
        """One hashable value per row: two rows with equal keys are the same example (test-in-train)."""
        raise NotImplementedError

    def target_input(self, features: Any, frame: pd.DataFrame | Layout, rows: np.ndarray,
                     options: dict[str, Any] | None = None) -> Any:
        """A cell's target input for dataset rows ``rows`` from the stored per-unit ``features``.

        ``frame`` is the dataset's frame or its :meth:`layout` (what a worker holds).
        """
        raise NotImplementedError

    # ---- options and metrics -------------------------------------------------------------------

    def resolve_options(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """``options`` over the defaults, checked: ValueError naming an unknown or bad option."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.option_defaults))
        if unknown:
            allowed = ", ".join(sorted(self.option_defaults)) or "none"
            raise ValueError(f"task type {self.name} takes no option {unknown[0]!r} (options: {allowed})")
        validate_params(self._option_constraints, options)
        return {**self.option_defaults, **options}

    def applies(self, metric: str, metric_tasks: Sequence[str] | None = None) -> bool:
        """Whether metric ``metric`` (a canonical name, with its declared ``tasks``) applies to this task."""
        return metric in self.metrics or (metric_tasks is not None and self.name in metric_tasks)

    # ---- the card --------------------------------------------------------------------------------

    def card_stats(self, frame: pd.DataFrame, splits: Sequence[str]) -> dict[str, Any]:
        """Counts the card shows beside rows and splits (classes per split, duplicates, ...)."""
        return {}

    def card_fields(self, card: dict[str, Any]) -> list[tuple[str, str]]:
        """Extra ``(field, text)`` lines of ``--info`` for what ``card_stats`` added; none by default."""
        return []

    def layout_of(self, frame: pd.DataFrame | Layout) -> Layout:
        return frame if isinstance(frame, Layout) else self.layout(frame)
