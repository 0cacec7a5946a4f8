"""``pair-classification``: two texts per row and one class label (entailment, paraphrase).

The frame has ``text_a``, ``text_b``, ``label`` and ``split``; a row is a *pair*, and training
sizes count pairs.

- Featurizers see each distinct text once (:func:`enso.tasks.base.distinct_text_units`): a
  sentence that occurs in several pairs, or on both sides, is one unit and one feature row.
  ``Layout.index`` is ``(n_rows, 2)``: row ``r``'s texts are feature rows ``index[r, 0]`` and
  ``index[r, 1]``. In-domain featurizers are fitted on ``Units.for_rows(train_rows)``: both
  texts of each training pair, never a text that only dev or test pairs hold.
- The pair is combined per cell by the option ``pair_features``, an ordered list of ``a``,
  ``b``, ``absdiff`` (``|a - b|``) and ``product`` (``a * b``, element-wise); the default
  ``["a", "b", "absdiff", "product"]`` is InferSent's and SentEval's combination. The combined
  matrix is never stored: :meth:`PairClassification.target_input` builds it from the stored
  per-text features for the cell's rows only, so one per-text artifact serves every
  ``pair_features`` setting (the option goes to the cell key, not to the feature artifact).
  Dense features give a dense ``float32`` matrix (``(n, k*d)``, or ``(n, layers, k*d)`` with
  ``layers = "all"``: each layer combined on its own); sparse (CSR) features a CSR matrix.
- Cross-encoding (a transformer featurizer's ``pair_encoding = "cross"``): the featurizer encodes
  each distinct pair once, both texts as one sequence (``[CLS] a [SEP] b [SEP]``), so its features
  hold one row per pair (:meth:`PairClassification.cross_units`, ``Layout`` kind ``"pair"``,
  ``index`` ``(n_rows,)``) and a cell's input is the rows' pair vectors as they are:
  ``pair_features`` does not apply.
- Two rows are the same example (test-in-train) when both texts are equal, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from enso.params import AllOf, Choice, ListOf, Satisfies
from enso.tasks.base import Layout, TaskType, Units, distinct_pair_units, distinct_text_units

PAIR_PARTS = ("a", "b", "absdiff", "product")
DEFAULT_PAIR_FEATURES = ["a", "b", "absdiff", "product"]
TEXT_COLUMNS = ("text_a", "text_b")


def _no_duplicates(value: Any) -> bool:
    return not isinstance(value, (list, tuple)) or len(set(map(str, value))) == len(value)


def combine(a: Any, b: Any, parts: Sequence[str]) -> Any:
    """The parts of a pair's representation side by side (last axis), from the two sides' features.

    ``a`` and ``b`` are equally shaped dense arrays (``(n, d)`` or ``(n, layers, d)``) or scipy
    sparse matrices (``(n, d)``); the result is ``float32`` (dense) or CSR (sparse).
    """
    import scipy.sparse as sp

    if sp.issparse(a) or sp.issparse(b):
        a, b = sp.csr_matrix(a), sp.csr_matrix(b)
        made = {"a": lambda: a, "b": lambda: b, "absdiff": lambda: abs(a - b), "product": lambda: a.multiply(b)}
        blocks = [sp.csr_matrix(made[p]()) for p in parts]
        return sp.hstack(blocks, format="csr", dtype=np.float32)
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    made = {"a": lambda: a, "b": lambda: b, "absdiff": lambda: np.abs(a - b), "product": lambda: a * b}
    return np.concatenate([made[p]() for p in parts], axis=-1)


class PairClassification(TaskType):
    name = "pair-classification"
    description = "two texts per row (text_a, text_b), labelled with one class (entailment, paraphrase)"
    columns = ("text_a", "text_b", "label", "split")
    dtypes: ClassVar[dict[str, Any]] = {"text_a": str, "text_b": str, "label": str, "split": str}
    unit = "text"
    label_unit = "row"
    row_noun = "pair"
    row_texts = 2
    metrics = ("accuracy", "macro_f1", "f1", "roc_auc", "log_loss", "mcc")
    default_metrics = ("accuracy", "macro_f1")
    option_defaults: ClassVar[dict[str, Any]] = {"pair_features": list(DEFAULT_PAIR_FEATURES)}
    _option_constraints: ClassVar = {"pair_features": AllOf(
        ListOf(Choice(*PAIR_PARTS)),
        Satisfies(_no_duplicates, "{name} lists a part twice ({shown}); give each of a, b, absdiff, product "
                                  "at most once"))}

    # ---- frame ---------------------------------------------------------------------------------

    def check_values(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        for column in TEXT_COLUMNS:
            empty = np.flatnonzero(frame[column].str.strip().to_numpy() == "")
            if len(empty):
                raise ValueError(f"dataset {name}: {len(empty)} rows have an empty {column} (first: row "
                                 f"{int(empty[0])}); every pair needs two texts")
        return frame

    # content_hash: the base's, over (text_a, text_b, label, split) prefixed by the task's name

    # ---- what featurizers see and what targets are fitted on ------------------------------------

    def units(self, frame: pd.DataFrame) -> Units:
        return distinct_text_units(frame, TEXT_COLUMNS)

    def cross_units(self, frame: pd.DataFrame) -> Units:
        """Each distinct ordered pair once, in order of first appearance: what a cross-encoder encodes."""
        return distinct_pair_units(frame, TEXT_COLUMNS)

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["label"].to_numpy()

    def classes(self, frame: pd.DataFrame) -> list[str]:
        return sorted(frame["label"].unique())

    def row_keys(self, frame: pd.DataFrame) -> np.ndarray:
        keys = np.empty(len(frame), dtype=object)
        keys[:] = list(zip(frame["text_a"], frame["text_b"]))
        return keys

    def target_input(self, features: Any, frame: pd.DataFrame | Layout, rows: np.ndarray,
                     options: dict[str, Any] | None = None) -> Any:
        """The combined pair features of dataset rows ``rows`` (in that order), built now, never stored.

        Only the feature rows of the cell's pairs are read from ``features`` (a memory map, an
        array or a CSR matrix with one row per distinct text). Cross-encoded features (a layout of
        kind ``"pair"``: one row per distinct pair) are the rows' pair vectors, as stored.
        """
        parts = self.resolve_options(options)["pair_features"]
        layout = self.layout_of(frame)
        if layout.kind == "pair":
            if layout.index is None or layout.index.ndim != 1:
                raise ValueError("a cross-encoded pair layout needs an (n_rows,) index")
            picked = features[layout.unit_index(np.asarray(rows, dtype=np.int64))]
            import scipy.sparse as sp

            return sp.csr_matrix(picked, dtype=np.float32) if sp.issparse(picked) else np.asarray(picked, np.float32)
        if layout.index is None or layout.index.ndim != 2 or layout.index.shape[1] != 2:
            raise ValueError("a pair-classification layout needs an (n_rows, 2) index")
        index = layout.unit_index(np.asarray(rows, dtype=np.int64))
        return combine(features[index[:, 0]], features[index[:, 1]], parts)

    # ---- the card --------------------------------------------------------------------------------

    def card_stats(self, frame: pd.DataFrame, splits: Sequence[str]) -> dict[str, Any]:
        """Classes per split, distinct texts (all, per split), duplicated pairs, texts in both sides."""
        counts = frame.groupby(["split", "label"], sort=True).size()
        by_class = {label: {split: int(counts.get((split, label), 0)) for split in splits}
                    for label in sorted(set(frame["label"]))}
        texts = {split: int(pd.unique(frame.loc[frame["split"] == split, list(TEXT_COLUMNS)].to_numpy().ravel()).size)
                 for split in splits}
        return {"n_classes": len(by_class), "class_counts": by_class,
                "distinct_texts": int(len(self.units(frame))), "distinct_texts_per_split": texts,
                "duplicated_pairs": int(pd.Series(self.row_keys(frame)).duplicated().sum())}

    def card_fields(self, card: dict[str, Any]) -> list[tuple[str, str]]:
        fields = []
        if "distinct_texts" in card:
            per = card.get("distinct_texts_per_split") or {}
            shown = ", ".join(f"{s} {per[s]:,}" for s in ("train", "dev", "test") if per.get(s))
            fields.append(("texts", f"{card['distinct_texts']:,} distinct, each featurized once"
                                    + (f" ({shown})" if shown else "")))
        if "duplicated_pairs" in card:
            fields.append(("duplicates", f"{card['duplicated_pairs']:,} pairs occur more than once"))
        return fields
