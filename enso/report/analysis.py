"""Everything a report says, computed once from the results table before any section is drawn."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from enso.report import checks
from enso.report.across import AcrossDatasets, across_datasets
from enso.report.leaderboard import (
    ENTRY_SEPARATOR,
    best_per_dataset,
    entry_columns,
    ranks,
    scores,
    with_entry,
)
from enso.report.options import Options
from enso.report.results import EXTRA_DIMENSIONS, base_name, order_of
from enso.report.significance import pairwise_tests

OPTIMIZER_PAIR = ("logreg", "logreg-sgd")


@dataclass
class Analysis:
    name: str
    frame: pd.DataFrame
    options: Options
    info: dict
    source: Path
    results_sha256: str
    verified: bool
    bar_size: int
    metrics: list[str] = field(default_factory=list)
    entry: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    scores: pd.DataFrame | None = None
    ranks: pd.DataFrame | None = None
    featurizer_tests: pd.DataFrame | None = None
    optimizer_targets: list[str] = field(default_factory=list)
    optimizer_tests: pd.DataFrame | None = None
    best: pd.DataFrame | None = None
    across: list[AcrossDatasets] = field(default_factory=list)
    one_class: list[checks.OneClass] = field(default_factory=list)
    reference: pd.DataFrame | None = None
    reference_source: str = ""
    test_in_train: dict[str, tuple[int, float]] = field(default_factory=dict)
    per_type: pd.DataFrame | None = None  # "<metric>:<type>" rows, kept out of everything else
    finetuned: list[str] = field(default_factory=list)  # targets that fine-tune their source model
    finetune_tests: pd.DataFrame | None = None  # each fine-tuned target against each frozen one

    @property
    def primary(self) -> str:
        return self.metrics[0]

    @property
    def alpha(self) -> float:
        return self.options.alpha

    @property
    def family(self) -> list[str] | None:
        """Holm family: None (each group its own) or [] (every test in the report)."""
        return None if self.options.holm_family == "cell" else []

    def label(self, frame: pd.DataFrame) -> pd.Series:
        """Each row's configuration: featurizer · target (· any other varying dimension)."""
        return frame[self.entry].astype(str).agg(ENTRY_SEPARATOR.join, axis=1)


def analyse(name: str, frame: pd.DataFrame, options: Options, info: dict, source: Path, results_sha256: str,
            verified: bool, bar_size: int, per_type: pd.DataFrame | None = None) -> Analysis:
    a = Analysis(name, frame, options, info, source, results_sha256, verified, bar_size)
    a.per_type = per_type if per_type is not None else frame.iloc[0:0]
    a.metrics = order_of(frame, "metric")
    a.entry = entry_columns(frame)
    a.extra = [d for d in EXTRA_DIMENSIONS if d in a.entry]
    a.scores = scores(frame, a.entry)
    a.ranks = ranks(a.scores, a.entry)
    a.featurizer_tests = pairwise_tests(frame, "featurizer", ["dataset", "metric", "target", *a.extra],
                                        alpha=a.alpha, family=a.family)
    a.optimizer_targets = _optimizer_targets(frame)
    if a.optimizer_targets:
        part = frame[frame["target"].isin(a.optimizer_targets)]
        a.optimizer_tests = pairwise_tests(  # L-BFGS against SGD only, not variants of one optimizer
            part, "target", ["dataset", "metric", "featurizer", *a.extra], alpha=a.alpha,
            family=a.family, keep_pair=lambda x, y: base_name(x) != base_name(y))
    a.best = best_per_dataset(frame, a.scores, a.entry, a.primary, a.alpha)
    entries = with_entry(a.scores, a.entry)
    a.across = [across_datasets(entries, a.primary, size, a.alpha) for size in sorted(frame["train_size"].unique())]
    primary_rows = frame[frame["metric"] == a.primary]
    # the majority target predicts one class by design: it is the reference, not a degenerate model
    primary_rows = primary_rows[primary_rows["target"].map(base_name) != checks.MAJORITY_TARGET]
    a.one_class = checks.one_class_cells(primary_rows, a.label(primary_rows))
    a.reference, a.reference_source = checks.majority_reference(frame)
    copies = checks.test_in_train(info)
    a.test_in_train = {d: copies[d] for d in order_of(frame, "dataset") if d in copies}
    a.finetuned = finetuned_targets(frame, target_names(info))
    if a.finetuned:
        a.finetune_tests = finetune_tests(frame, a.finetuned, a.extra, a.alpha, a.family)
    return a


def fine_tunes(target_label: str) -> bool:
    """Whether a results label names a target that fine-tunes its source model (``tags.input ==
    "texts"``: finetune, setfit, lora, or a plug-in's), by the registered class's tags."""
    try:
        from enso.targets import TARGETS

        tags = getattr(TARGETS.get(base_name(target_label)), "tags", None)
    except Exception:  # not registered here (a plug-in not installed): not known to fine-tune
        return False
    return getattr(tags, "input", "features") == "texts"


def target_names(info: dict) -> dict[str, str]:
    """Results label -> registered target name, from run.json's config: a target table with a
    ``label = "..."`` shows that label in the results, not its name."""
    config = info.get("config") if isinstance(info, dict) else None
    targets = config.get("targets") if isinstance(config, dict) else None
    out: dict[str, str] = {}
    if not isinstance(targets, list):
        return out
    from enso.config import Spec

    for entry in targets:
        if isinstance(entry, str):
            out[entry] = entry
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            params = {k: v for k, v in entry.items() if k not in ("name", "label")}
            try:
                label = entry["label"] if isinstance(entry.get("label"), str) else Spec(entry["name"], params).label
            except (TypeError, ValueError):
                continue
            out[label] = entry["name"]
    return out


def finetuned_targets(frame: pd.DataFrame, names: dict[str, str] | None = None) -> list[str]:
    """The targets of the results that fine-tune their source model, in the config's order;
    ``names`` maps a results label to its target's registered name where the label hides it."""
    names = names or {}
    return [t for t in order_of(frame, "target") if fine_tunes(names.get(t, t))]


def finetune_tests(frame: pd.DataFrame, tuned: list[str], extra: list[str], alpha: float,
                   family: list[str] | None) -> pd.DataFrame:
    """Each fine-tuned target against each frozen target on the same source featurizer, dataset,
    size and metric: paired Wilcoxon over the shared resamples (the same training sample),
    Holm-corrected over those pairs (``family``: the report's)."""
    from enso.report.checks import MAJORITY_TARGET

    frozen_rows = frame["target"].map(base_name) != MAJORITY_TARGET
    part = frame[frozen_rows & frame["featurizer"].isin(frame.loc[frame["target"].isin(tuned), "featurizer"])]
    tuned_set = set(tuned)
    return pairwise_tests(part, "target", ["dataset", "metric", "featurizer", *extra], alpha=alpha, family=family,
                          keep_pair=lambda x, y: (x in tuned_set) != (y in tuned_set))


def _optimizer_targets(frame: pd.DataFrame) -> list[str]:
    present = order_of(frame, "target")
    chosen = [t for t in present if base_name(t) in OPTIMIZER_PAIR]
    if {base_name(t) for t in chosen} != set(OPTIMIZER_PAIR):
        return []
    return chosen
