"""Synthetic results tables for the report's fast tests: the schema the experiment stage writes
(enso.engine.plan.COLUMNS), values drawn from a seeded generator, no model fitted.

``synthetic_results`` makes any grid of datasets x featurizers x targets x sizes x resamples x
metrics, each configuration with its own level (``levels``) and spread, so a test can say which
configuration must come out better; per-cell timings (``seconds``, ``fit_seconds``,
``predict_seconds``) scale with ``cost`` per target. ``per_type`` adds the per-type rows a
metric with ``per_type`` gives (``span_f1:PER``...).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from enso.seeds import derive_seed


def synthetic_results(*, name: str = "synthetic", datasets=("A",), featurizers=("f1", "f2"), targets=("logreg",),
                      sizes=(8, 32, 128), resamples: int = 6, metrics=("accuracy",), levels: dict | None = None,
                      spread: dict | None = None, cost: dict | None = None, per_type: dict | None = None,
                      pairs: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Rows of a results table.

    ``levels`` maps (featurizer, target) (or a target, or a featurizer) to the score a
    configuration approaches at the largest size (default 0.7); ``spread`` the same to the
    sd across resamples (default 0.02); ``cost`` a target to its seconds per cell (default
    0.01); ``per_type`` a metric to its types (each type gets a row ``metric:type``);
    ``pairs`` a (featurizer, target) to the featurizers it is paired with only (fine-tuning
    targets pair with the featurizer they name).
    """
    levels, spread, cost, per_type, pairs = levels or {}, spread or {}, cost or {}, per_type or {}, pairs or {}
    rows = []
    largest = max(sizes)

    def lookup(table, featurizer, target, default):
        for key in ((featurizer, target), target, featurizer):
            if key in table:
                return table[key]
        return default

    for dataset in datasets:
        for featurizer in featurizers:
            for target in targets:
                if target in pairs and featurizer not in pairs[target]:
                    continue
                level = lookup(levels, featurizer, target, 0.7)
                sd = lookup(spread, featurizer, target, 0.02)
                seconds = lookup(cost, featurizer, target, 0.01)
                for size in sizes:
                    for resample in range(resamples):
                        cell_seed = derive_seed(seed, dataset, size, resample)
                        rng = np.random.default_rng(derive_seed(cell_seed, featurizer, target))
                        shared = np.random.default_rng(cell_seed).normal(0, sd)  # the sample's luck, paired
                        base = 0.5 + (level - 0.5) * (np.log(size) / np.log(largest))
                        cell = hashlib.sha256(f"{dataset}|{featurizer}|{target}|{size}|{resample}".encode()).hexdigest()
                        names = [(m, None) for m in metrics]
                        names += [(f"{m}:{t}", m) for m, types in per_type.items() for t in types]
                        for metric, parent in names:
                            value = float(np.clip(base + shared + rng.normal(0, sd / 2), 0, 1))
                            rows.append({
                                "experiment": name, "protocol": "enso", "dataset": dataset, "featurizer": featurizer,
                                "featurizer_id": f"{featurizer}-0123456789", "target": target,
                                "target_params": "{}", "chosen_params": "{}", "sampler": "random",
                                "resampler": "none", "train_size": int(size), "resample": resample,
                                "metric": metric, "value": value, "train_value": min(1.0, value + 0.1),
                                "seconds": seconds * 1.1, "fit_seconds": seconds, "predict_seconds": seconds * 0.1,
                                "n_train": int(size), "n_test": 200, "n_classes": 2, "seed": cell_seed,
                                "cell": cell,
                                "test_ci_low": value - 0.03 if parent is None else np.nan,
                                "test_ci_high": value + 0.03 if parent is None else np.nan,
                                "majority_share": 0.6, "baseline_value": 0.5 if parent is None else 0.0,
                            })
    return pd.DataFrame(rows)


def long_labels(n: int = 12, length: int = 60) -> list[str]:
    """``n`` distinct featurizer labels of ``length`` characters, as a model folder given by path makes them."""
    out = []
    for i in range(n):
        head = "hf-encoder(path=/srv/models/sentence-encoders/"
        tail = f"-run{i:02d})"
        filler = "finetuned-checkpoint-final"[:max(0, length - len(head) - len(tail))]
        filler += "x" * max(0, length - len(head) - len(tail) - len(filler))
        out.append(head + filler + tail)
    assert len(set(out)) == n and all(len(label) == length for label in out)
    return out


def write_run(folder, **info) -> None:
    """run.json as the experiment stage writes it (only what a test gives)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps({"experiment": folder.name, **info}, indent=2), encoding="utf-8")
