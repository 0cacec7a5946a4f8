"""Tiny datasets for the fast tier: written as CSV text in memory, imported as local datasets.

``tiny_workspace(root)`` makes a workspace with ``Tiny`` (two classes) and ``Tiny3`` (three
classes), each 16 train and 8 test rows per class, imported through enso's own local-dataset
import, and ``experiments/tiny.toml``: TF-IDF features, logreg and k-NN, two training sizes and
two resamples (16 cells a dataset and metric set). Everything runs in well under a second.
"""

from __future__ import annotations

import csv
import io
import random
import textwrap
from pathlib import Path

from enso.workspace import Workspace

# Each class has its own words; every text also carries two shared words, so the classes are
# learnable from a few rows without being trivially separable by one token.
WORDS = {
    "neg": ["awful", "broken", "dull", "late", "rude", "noisy", "cold", "bland"],
    "pos": ["great", "lovely", "quick", "kind", "bright", "warm", "tasty", "calm"],
    "neu": ["table", "monday", "paper", "window", "street", "chair", "number", "train"],
}
SHARED = ["the", "a", "service", "food", "room", "very", "and", "was"]

CONFIG = """\
name = "tiny"
description = "Fast-tier sweep on tiny in-memory datasets."
datasets = {datasets}
featurizers = ["tfidf"]
targets = ["logreg", "knn"]
train_sizes = [8, 16]
resamples = 2
metrics = ["accuracy", "macro_f1"]
seed = 0
"""


def tiny_rows(classes=("neg", "pos"), train_per_class: int = 16, test_per_class: int = 8, seed: int = 0):
    """(text, label, split) rows; deterministic for a given seed."""
    rng = random.Random(seed)
    rows = []
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for i in range(count):
            for label in classes:
                words = rng.sample(WORDS[label], 3) + rng.sample(SHARED, 2) + [f"w{rng.randrange(40)}"]
                rng.shuffle(words)
                rows.append((" ".join(words), label, split))
    return rows


def tiny_csv(classes=("neg", "pos"), train_per_class: int = 16, test_per_class: int = 8, seed: int = 0) -> str:
    """The rows as CSV text with a header ``text,label,split``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "label", "split"])
    writer.writerows(tiny_rows(classes, train_per_class, test_per_class, seed))
    return out.getvalue()


def import_csv(workspace: Workspace, name: str, text: str):
    """Store CSV ``text`` as the local dataset ``name`` (split column ``split``)."""
    from enso.data import import_local

    source = workspace.root / "inputs" / f"{name}.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(text, encoding="utf-8")
    return import_local(source, workspace, name=name, split_column="split")


def write_config(workspace: Workspace, name: str, body: str) -> Path:
    """``experiments/<name>.toml`` holding ``name = "<name>"`` and ``body`` (dedented)."""
    path = workspace.experiments / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'name = "{name}"\n' + textwrap.dedent(body), encoding="utf-8")
    return path


def tiny_workspace(root: Path, datasets=("Tiny", "Tiny3")) -> Workspace:
    root = Path(root)
    (root / "experiments").mkdir(parents=True, exist_ok=True)
    workspace = Workspace(root)
    made = {"Tiny": ("neg", "pos"), "Tiny3": ("neg", "pos", "neu")}
    for name in datasets:
        import_csv(workspace, name, tiny_csv(made[name], seed=len(made[name])))
    (root / "experiments" / "tiny.toml").write_text(CONFIG.format(datasets=list(datasets)).replace("'", '"'),
                                                    encoding="utf-8")
    return workspace
