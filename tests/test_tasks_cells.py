"""A sentence-pair task type written outside enso runs its cells end to end (fast tier).

The toy task type is registered from this module under the name issue 13 will use,
``pair-classification`` (the name targets' and metrics' tags already list), with a toy
featurizer: no module of enso is edited. A tiny pair dataset stored in the workspace goes
through config validation, the plan and its checks, featurization (each distinct text
once), the worker (which builds each cell's input with the task type's ``target_input``
from the stored per-text features and the dataset's layout) and the results table.
"""

from __future__ import annotations

import json
import random
import zlib
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from enso.components import load_config
from enso.data import Dataset, load_dataset, resolve_dataset
from enso.data.build import make_card, write_dataset
from enso.data.local import KIND as LOCAL_KIND
from enso.engine import run_experiment
from enso.features.base import Featurizer, FeaturizerTags
from enso.params import Choice, ListOf
from enso.tasks import TASKS, TaskType, distinct_text_units
from enso.workspace import Workspace
from tests.tiny import write_config

PARTS = ("a", "b", "absdiff", "product")
DIM = 8
TOPICS = {"cats": ["cat", "kitten", "purr", "whisker"], "boats": ["boat", "sail", "harbour", "keel"],
          "bread": ["bread", "flour", "oven", "crust"], "rain": ["rain", "cloud", "storm", "drizzle"]}


class Pairs(TaskType):
    name = "pair-classification"
    description = "two texts per row, one label (toy, from the test)"
    columns = ("text_a", "text_b", "label", "split")
    dtypes: ClassVar = {"text_a": str, "text_b": str, "label": str, "split": str}
    row_noun = "pair"
    metrics = ("accuracy", "macro_f1")
    default_metrics = ("accuracy",)
    option_defaults: ClassVar = {"pair_features": list(PARTS)}
    _option_constraints: ClassVar = {"pair_features": ListOf(Choice(*PARTS))}
    calls: ClassVar[list] = []

    def units(self, frame):
        return distinct_text_units(frame, ("text_a", "text_b"))

    def labels(self, frame):
        return frame["label"].to_numpy()

    def row_keys(self, frame):
        return pd.Series(list(zip(frame["text_a"], frame["text_b"], strict=True)), dtype=object).to_numpy()

    def target_input(self, features, frame, rows, options=None):
        options = self.resolve_options(options)
        index = self.layout_of(frame).unit_index(rows)
        a, b = np.asarray(features[index[:, 0]]), np.asarray(features[index[:, 1]])
        parts = {"a": a, "b": b, "absdiff": np.abs(a - b), "product": a * b}
        X = np.hstack([parts[p] for p in options["pair_features"]])
        Pairs.calls.append((len(rows), features.shape, X.shape))
        return X


class HashedWords(Featurizer):
    """Counts of words hashed into 8 buckets: learns nothing from data, needs no model."""

    name = "toy-hashed-words"
    tags = FeaturizerTags()

    def featurize(self, texts):
        X = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                X[i, zlib.crc32(word.encode()) % DIM] += 1.0
        return X


def _register(monkeypatch, registry, name, obj):
    monkeypatch.setitem(registry._items, name, obj)
    monkeypatch.setitem(registry._names, name.lower(), name)


@pytest.fixture
def pairs_workspace(tmp_path, monkeypatch):
    from enso.features import FEATURIZERS

    _register(monkeypatch, TASKS, Pairs.name, Pairs())  # replaces a real pair task type, if one exists, for this test
    _register(monkeypatch, FEATURIZERS, HashedWords.name, HashedWords)
    Pairs.calls.clear()
    workspace = Workspace(tmp_path / "ws")
    frame = pair_frame()
    dataset = Dataset.from_frame("ToyPairs", frame, task=Pairs.name)
    summary = {"name": "ToyPairs", "aliases": [], "task": Pairs.name, "description": "toy pairs", "classes": [],
               "license": "the user's own data", "citation": "", "homepage": "", "sources": [], "local": True}
    write_dataset(workspace.dataset_dir("ToyPairs"), key="toy-pairs-1", kind=LOCAL_KIND, dataset=dataset,
                  card=make_card(summary, dataset, {}), params={}, inputs={})
    return workspace


def pair_frame(seed: int = 0) -> pd.DataFrame:
    """Pairs of short texts; ``same`` when both are about one topic. Texts repeat across pairs."""
    rng = random.Random(seed)
    texts = {topic: [" ".join(rng.sample(words, 2) + ["today"]) for _ in range(5)] for topic, words in TOPICS.items()}
    rows = []
    for split, count in (("train", 24), ("test", 12)):
        for i in range(count):
            first = rng.choice(sorted(TOPICS))
            second = first if i % 2 else rng.choice([t for t in sorted(TOPICS) if t != first])
            rows.append((rng.choice(texts[first]), rng.choice(texts[second]), "same" if i % 2 else "diff", split))
    return pd.DataFrame(rows, columns=["text_a", "text_b", "label", "split"])


def test_pair_cells_run_end_to_end_from_per_text_features(pairs_workspace):
    workspace = pairs_workspace
    write_config(workspace, "pairs", """
        datasets = ["toypairs"]
        featurizers = ["toy-hashed-words"]
        targets = ["logreg", "majority"]
        train_sizes = [8, 16]
        resamples = 2
        metrics = ["accuracy", "macro_f1"]
        seed = 0
        """)
    assert resolve_dataset("toypairs", workspace) == "ToyPairs"
    dataset = load_dataset("ToyPairs", workspace)
    assert dataset.task.name == "pair-classification" and len(dataset) == 36
    n_units = len(dataset.units)
    assert n_units < 2 * len(dataset)  # texts shared between pairs are one unit each

    table = run_experiment(load_config("pairs", workspace), workspace)

    # 2 targets x 2 sizes x 2 resamples x 2 metrics, every cell computed
    assert len(table) == 16 and set(table["dataset"]) == {"ToyPairs"}
    assert table["value"].between(0, 1).all() and table["train_size"].isin([8, 16]).all()
    # the worker asked the task type for each cell's input: from one feature row per distinct text,
    # a + b + |a - b| + a*b of the two texts of each pair
    assert Pairs.calls and all(shape == (n_units, DIM) for _, shape, _ in Pairs.calls)
    assert {width for _, _, (_, width) in Pairs.calls} == {4 * DIM}
    assert {n for n, _, _ in Pairs.calls} >= {8, 16, len(dataset.split_index("test"))}
    stored = list((workspace.featurizers).glob("toy-hashed-words-*/*/manifest.json"))
    assert len(stored) == 1  # one feature artifact for the dataset, one row per unit
    assert json.loads(stored[0].read_text(encoding="utf-8"))["meta"]["shape"] == [n_units, DIM]


class FittedWords(HashedWords):
    """An in-domain toy: remembers the texts it was fitted on."""

    name = "toy-fitted-words"
    tags = FeaturizerTags(in_domain=True)
    fitted: ClassVar[list] = []

    def fit(self, texts):
        FittedWords.fitted.append(list(texts))
        return self


def test_an_in_domain_featurizer_fits_on_both_texts_of_the_training_pairs_only(pairs_workspace, monkeypatch):
    from enso.config import Spec
    from enso.features import FEATURIZERS, load_features

    _register(monkeypatch, FEATURIZERS, FittedWords.name, FittedWords)
    FittedWords.fitted.clear()
    dataset = load_dataset("ToyPairs", pairs_workspace)
    train = dataset.split_index("train")
    load_features(Spec(FittedWords.name), dataset, pairs_workspace, progress=False)
    expected = dataset.units.for_rows(train)
    assert FittedWords.fitted == [expected]
    frame = dataset.frame
    train_texts = set(frame.loc[train, "text_a"]) | set(frame.loc[train, "text_b"])
    assert set(expected) == train_texts  # both sides of every training pair, nothing a test pair alone holds
