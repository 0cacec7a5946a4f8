"""``--dry-run``: how many cells, how many done, how long the rest may take; nothing computed or written.

The plan is streamed: each cell is counted as the protocol adds it and then dropped, so a dry
run's memory grows with the number of (dataset, featurizer, target, size) groups it prints,
not with the number of cells or resamples.

A cell's time is estimated as ``a + b * n_train + c * n_test`` seconds: from the stored cells of
the same target once three or more at two sizes exist (a least-squares line on ``n_train``),
else from the target's own estimate: a classmethod ``estimate_seconds(params, n_train, n_test)``
(a fine-tuning target's time follows its parameters: epochs, steps, batch size), else its
declared ``cost`` (a class attribute ``(a, b)`` or ``(a, b, c)``: how a fine-tuning target,
whose cells cost orders of magnitude more, says so), else from the table below. Featurization
is not included.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd

from enso.store import Reuse

# Rough seconds per cell, ``a + b * n_train``, used until finished cells give real timings.
_COST = {"logreg": (0.05, 4e-4), "logreg-sgd": (0.05, 2e-4), "linear-svm": (0.02, 1e-4),
         "rbf-svm": (0.05, 5e-4), "knn": (0.03, 5e-5), "naive-bayes": (0.02, 5e-5),
         "random-forest": (2.0, 3e-3), "nearest-centroid": (0.01, 1e-5), "mlp": (2.0, 5e-3),
         "layer-mix": (2.0, 5e-3)}
_DEFAULT_COST = (0.05, 2e-4)
GROUP = ["dataset", "featurizer", "target"]


@dataclass
class _Fit:
    """Running sums for a least-squares line of seconds on training size."""

    n: int = 0
    x: float = 0.0
    y: float = 0.0
    xx: float = 0.0
    xy: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, x: float, y: float) -> None:
        self.n += 1
        self.x += x
        self.y += y
        self.xx += x * x
        self.xy += x * y
        self.low, self.high = min(self.low, x), max(self.high, x)

    def line(self) -> tuple[float, float]:
        if self.n >= 3 and self.high > self.low:
            slope = (self.n * self.xy - self.x * self.y) / (self.n * self.xx - self.x * self.x)
            intercept = (self.y - slope * self.x) / self.n
            return max(intercept, 0.0), max(slope, 0.0)
        return 0.0, (self.y / max(self.x, 1.0))


def target_class(name: str):
    """The registered class of target ``name`` (None for an import path or an unknown name)."""
    if ":" in name:
        return None
    from enso.targets import TARGETS

    return TARGETS.get(name) if name in TARGETS else None


def declared_cost(name: str) -> tuple[float, float, float]:
    """``(a, b, c)`` seconds for a cell of target ``name``: its class's ``cost``, the table, or a default."""
    cost = None
    if ":" not in name:
        from enso.targets import TARGETS

        if name in TARGETS:
            cost = getattr(TARGETS.get(name), "cost", None)
    if cost is None:
        cost = _COST.get(name, _DEFAULT_COST)
    a, b, *rest = (float(v) for v in cost)
    return a, b, (rest[0] if rest else 0.0)


def cell_seconds(name: str, params: dict[str, Any], n_train: int, n_test: int) -> float:
    """The estimate of one cell of target ``name``: its own ``estimate_seconds``, else its declared cost."""
    own = getattr(target_class(name), "estimate_seconds", None)
    if own is not None:
        return float(own(params, n_train, n_test))
    a, b, c = declared_cost(name)
    return a + b * n_train + c * n_test


class DryRun:
    """A plan sink: counts cells per group and size, done or to run (``reuse``: RECOMPUTE counts every cell)."""

    def __init__(self, store, *, reuse: Reuse = Reuse.REUSE):
        self.store = store
        self.recompute = reuse is Reuse.RECOMPUTE
        self.todo: dict[tuple, int] = defaultdict(int)  # (dataset, featurizer, target, name, size, n_test) -> cells
        self.done: dict[tuple, int] = defaultdict(int)  # (dataset, featurizer, target) -> cells
        self.order: dict[tuple, None] = {}
        self.observed: dict[str, _Fit] = defaultdict(_Fit)
        self.stored = store.stored_keys()  # one listing, not a path per planned cell
        self.params: dict[str, dict] = {}  # target label -> its parameters as fitted

    def __call__(self, cell) -> None:
        group = (cell.dataset, cell.featurizer.label, cell.target.label)
        self.order.setdefault(group, None)
        stored = self.store.read(cell.key) if cell.key in self.stored else None
        if stored is not None:
            self.observed[cell.target.label].add(stored.info["n_train"], stored.info["timings"]["seconds"])
        if stored is not None and not self.recompute:
            self.done[group] += 1
        else:
            self.todo[(*group, cell.target.name, cell.train_size, len(cell.test))] += 1
            self.params.setdefault(cell.target.label, dict(cell.target_params))

    def table(self, plan, jobs: int) -> pd.DataFrame:
        estimate: dict[tuple, float] = defaultdict(float)
        to_run: dict[tuple, int] = defaultdict(int)
        costs: dict[str, tuple[float, float, float]] = {}
        for (dataset, featurizer, target, name, size, n_test), count in self.todo.items():
            fit = self.observed.get(target)
            own = getattr(target_class(name), "estimate_seconds", None)
            if fit is not None and fit.n:
                (a, b), c = fit.line(), 0.0
            elif own is not None:  # the target's own estimate from its parameters
                estimate[(dataset, featurizer, target)] += count * float(own(self.params.get(target, {}), size, n_test))
                to_run[(dataset, featurizer, target)] += count
                continue
            else:
                if name not in costs:
                    costs[name] = declared_cost(name)
                a, b, c = costs[name]
            estimate[(dataset, featurizer, target)] += count * (a + b * size + c * n_test)
            to_run[(dataset, featurizer, target)] += count
        records = [{"dataset": g[0], "featurizer": g[1], "target": g[2], "cells": self.done[g] + to_run[g],
                    "done": self.done[g], "to_run": to_run[g], "estimate_seconds": estimate[g]}
                   for g in self.order]
        table = pd.DataFrame(records, columns=[*GROUP, "cells", "done", "to_run", "estimate_seconds"])
        table.attrs["plan"] = {
            "experiment": plan.config.name, "protocol": plan.config.protocol, "cells": int(table["cells"].sum()),
            "done": int(table["done"].sum()), "to_run": int(table["to_run"].sum()), "jobs": jobs,
            "estimate_seconds": float(table["estimate_seconds"].sum()) / max(1, jobs),
            "skipped": [s.describe() for s in plan.skipped],
        }
        return table


def describe_plan(table: pd.DataFrame) -> str:
    """A few lines for people: what a dry run found."""
    plan = table.attrs["plan"]
    lines = [(f"experiment {plan['experiment']} (protocol {plan['protocol']}): {plan['cells']} cells, "
              f"{plan['done']} done, {plan['to_run']} to run")]
    for record in table.itertuples(index=False):
        lines.append(f"  {record.dataset} x {record.featurizer} x {record.target}: {record.cells} cells, "
                     f"{record.to_run} to run")
    for skip in plan["skipped"]:
        lines.append(f"  skipped: {skip}")
    minutes = plan["estimate_seconds"] / 60
    lines.append(f"estimated time for the cells to run with --jobs {plan['jobs']}: "
                 f"{minutes:.1f} min (rough; featurization not included)")
    return "\n".join(lines)
