"""build_report: read an experiment's results and write its figures, tables and report."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from enso.errors import ConfigError
from enso.hashing import file_sha256, stable_hash, tree_sha256
from enso.report import document as doc
from enso.report import figures
from enso.report.layout import Layout
from enso.report.leaderboard import ENTRY_SEPARATOR, best_per_size, entry_columns, ranks, scores
from enso.report.results import (
    EXTRA_DIMENSIONS, Selection, base_name, experiment_name, load_table, order_of, results_path,
    run_description,
)
from enso.report.significance import ALPHA, min_attainable_p, pairwise_tests
from enso.report.stats import higher_is_better
from enso.store import package_versions, write_json_atomic, write_text_atomic
from enso.workspace import Workspace

log = logging.getLogger(__name__)

FORMATS = ("png", "svg", "pdf")
OPTIMIZER_PAIR = ("logreg", "logreg-sgd")
HOLM_FAMILIES = ("cell", "all")
MAX_TEST_ROWS = 120  # beyond this the report shows the primary metric's tests only


@dataclass(frozen=True)
class Report:
    """Where a report's files are."""

    html: Path
    markdown: Path
    figures: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.html.parent


def build_report(experiment: str | Path, workspace: Workspace | None = None, *, fmt: str = "png",
                 datasets=None, featurizers=None, targets=None, metric=None,
                 lines=("featurizer", "target"), rows: str = "dataset", cols: str = "metric",
                 size: int | None = None, alpha: float = ALPHA, holm_family: str = "cell",
                 force: bool = False) -> Report:
    """Write figures, CSV/Markdown tables, ``report.html`` and ``report.md`` into results/<experiment>/.

    ``metric`` is a name or a list of names; the first is the one the summary, comparisons
    and bar charts use (default: the first metric in the results). ``lines``, ``rows`` and
    ``cols`` place results dimensions on the learning-curve and variance grids. ``size`` is
    the training size of the bar charts (default: the largest). ``holm_family`` is ``cell``
    (correct over the featurizer pairs of one dataset, target, size and metric) or ``all``
    (over every test in the report).

    A report made from the same results with the same options, whose files are all intact,
    is not drawn again unless ``force``.
    """
    workspace = workspace or Workspace.resolve()
    if fmt not in FORMATS:
        raise ConfigError(f"unknown figure format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if holm_family not in HOLM_FAMILIES:
        raise ConfigError(f"holm_family must be one of {', '.join(HOLM_FAMILIES)}, got {holm_family!r}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
    layout = Layout(tuple(_as_list(lines)), rows, cols)
    name = experiment_name(experiment, workspace)
    source = results_path(name, workspace)
    # Hashed before it is read: results that change meanwhile give a key a later run will not match.
    results_sha256 = file_sha256(source) if source.is_file() else ""
    table = load_table(name, workspace)
    selection = Selection(_as_tuple(datasets), _as_tuple(featurizers), _as_tuple(targets), _as_tuple(metric))
    frame = selection.apply(table)
    sizes = sorted(frame["train_size"].unique())
    if size is not None and size not in sizes:
        raise ConfigError(f"--size {size} is not a training size in these results "
                          f"(sizes: {', '.join(map(str, sizes))})")
    bar_size = int(size if size is not None else sizes[-1])
    folder = workspace.results_dir(name)
    info = run_description(name, workspace)
    key = stable_hash({
        "code": tree_sha256(Path(__file__).parent, "*.py"), "versions": package_versions(("enso", "matplotlib", "scipy", "pandas")),
        "results": results_sha256, "fmt": fmt, "datasets": selection.datasets,
        "featurizers": selection.featurizers, "targets": selection.targets, "metrics": selection.metrics,
        "layout": [list(layout.lines), layout.rows, layout.cols], "size": bar_size, "alpha": alpha,
        "holm_family": holm_family, "description": info.get("description", ""),
    })
    if not force:
        current = _current_report(folder, key)
        if current is not None:
            log.info("the report in %s is up to date with results.parquet; --force draws it again", folder)
            return current
    return _Builder(name, folder, frame, layout, fmt, bar_size, alpha, holm_family,
                    info, source, results_sha256, key).build()


def _current_report(folder: Path, key: str) -> Report | None:
    """The report in ``folder`` if report.json has ``key`` and every file it lists is intact."""
    import json

    try:
        manifest = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        if manifest.get("key") != key:
            return None
        files = manifest["files"]
        for name, digest in files.items():
            path = folder / name
            if path.parent != folder or not path.is_file() or file_sha256(path) != digest:
                return None
        return Report(folder / "report.html", folder / "report.md",
                      [folder / n for n in manifest["figures"]], [folder / n for n in manifest["tables"]])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    out: list[str] = []
    for item in value:
        out.extend(_as_list(item))
    return out


def _as_tuple(value) -> tuple[str, ...] | None:
    items = _as_list(value)
    return tuple(items) if items else None


def _fmt(value: float, digits: int = 3) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _fmt_p(value: float) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def _json_object(text) -> dict:
    import json

    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


class _Builder:
    def __init__(self, name, folder: Path, frame: pd.DataFrame, layout: Layout, fmt: str, bar_size: int,
                 alpha: float, holm_family: str, info: dict, source: Path, results_sha256: str, key: str):
        self.name = name
        self.folder = folder
        self.frame = frame
        self.layout = layout
        self.fmt = fmt
        self.bar_size = bar_size
        self.alpha = alpha
        self.family = None if holm_family == "cell" else []
        self.info = info
        self.source = source
        self.results_sha256 = results_sha256
        self.key = key
        self.metrics = order_of(frame, "metric")
        self.primary = self.metrics[0]
        self.entry = entry_columns(frame)
        self.extra = [d for d in EXTRA_DIMENSIONS if d in self.entry]
        self.rendered: list[tuple[Path, object, str]] = []  # (path, figure, svg) written at the end
        self.texts: list[tuple[Path, str]] = []

    # -- analysis -------------------------------------------------------------------------
    def build(self) -> Report:
        frame = self.frame
        self.scores = scores(frame, self.entry)
        self.ranks = ranks(self.scores, self.entry)
        self.featurizer_tests = pairwise_tests(
            frame, "featurizer", ["dataset", "metric", "target", *self.extra], alpha=self.alpha, family=self.family)
        self.optimizer_targets = self._optimizer_targets()
        self.optimizer_tests = None
        if self.optimizer_targets:
            part = frame[frame["target"].isin(self.optimizer_targets)]
            self.optimizer_tests = pairwise_tests(  # L-BFGS against SGD only, not variants of one optimizer
                part, "target", ["dataset", "metric", "featurizer", *self.extra], alpha=self.alpha,
                family=self.family, keep_pair=lambda a, b: base_name(a) != base_name(b))
        self.best = best_per_size(frame, self.scores, self.ranks, self.entry, self.primary, self.alpha)
        summary = self.best.copy()
        for column in ("not_significantly_worse", "pooled_beaten"):
            summary[column] = summary[column].map(" | ".join)
        self.texts.append((self.folder / "summary.csv", summary.to_csv(index=False)))

        document = doc.Document(f"enso report: {self.name}")
        description = self.info.get("description") or ""
        if description:
            document.add(doc.Paragraph(description))
        self._summary(document)
        self._header(document)
        self._learning_curves(document)
        self._leaderboard(document)
        self._significance(document)
        self._comparisons(document)
        self._variance(document)
        self._hyperparameters(document)
        self._cost(document)
        self._methods(document)
        return self._write(document)

    def _optimizer_targets(self) -> list[str]:
        present = order_of(self.frame, "target")
        chosen = [t for t in present if base_name(t) in OPTIMIZER_PAIR]
        if {base_name(t) for t in chosen} != set(OPTIMIZER_PAIR):
            return []
        return chosen

    # -- figures ----------------------------------------------------------------------------
    def _figure(self, stem: str, fig, caption: str) -> doc.Figure:
        path = self.folder / f"{stem}.{self.fmt}"
        svg = figures.svg_text(fig, salt=stem)
        self.rendered.append((path, fig, svg))
        return doc.Figure(stem, svg, path, caption)

    # -- sections ---------------------------------------------------------------------------
    def _header(self, document: doc.Document) -> None:
        frame = self.frame
        document.add(doc.Heading("This run"))
        per_cell = frame.groupby(["dataset", "featurizer", "target", "train_size", "metric", *self.extra])[
            "resample"].nunique()
        resamples = f"{per_cell.min()}" if per_cell.min() == per_cell.max() else f"{per_cell.min()}–{per_cell.max()}"
        facts = pd.DataFrame({
            "fact": ["datasets", "featurizers", "targets", "training sizes", "resamples per cell", "metrics",
                 "rows", "results file"],
            "value": [", ".join(order_of(frame, "dataset")), ", ".join(order_of(frame, "featurizer")),
                      ", ".join(order_of(frame, "target")), ", ".join(str(s) for s in sorted(frame["train_size"].unique())),
                      resamples, ", ".join(self.metrics), str(len(frame)),
                      f"{self.source.name} (sha256 {self.results_sha256[:12]})"],
        })
        document.add(doc.Table(facts, header=False))

    def _summary(self, document: doc.Document) -> None:
        document.add(doc.Heading("Best choices per training size"))
        metric = self.primary
        best = self.best
        datasets = list(dict.fromkeys(best["dataset"]))
        rows = []
        for size, part in best.groupby("train_size", sort=True):
            first = part.iloc[0]
            n_datasets = int(part["dataset"].nunique())
            overall = f"{first['best_overall']} (mean rank {first['best_overall_mean_rank']:.2f})"
            if n_datasets > 1 and first["pooled_tests"]:
                beaten = first["pooled_beaten"]
                if len(beaten) == first["pooled_tests"]:
                    overall += (f"; better than all {len(beaten)} others over datasets and resamples pooled "
                                f"({first['pooled_pairs']} pairs, Holm p ≤ {first['pooled_max_p_holm']:.3g})")
                elif beaten:
                    overall += f"; over datasets and resamples pooled, better than {', '.join(beaten)}"
                else:
                    overall += "; over datasets and resamples pooled, not significantly better than any other"
            row = {"training size": str(size),
                   f"best overall (over {n_datasets} dataset{'s' if n_datasets != 1 else ''})": overall}
            for dataset in datasets:
                cell = part[part["dataset"] == dataset]
                if cell.empty:
                    row[dataset] = "no results"
                    continue
                c = cell.iloc[0]
                tied = c["not_significantly_worse"]
                text = f"{c['best']}: {_fmt(c['mean'])} ± {_fmt(c['sd'])}"
                others = int(c["n_entries"]) - 1
                if tied and len(tied) == others:
                    text += f"; not significantly better than any of the {others} others" if others > 1 \
                        else f"; not significantly better than {tied[0]}"
                elif tied:
                    shown = ", ".join(tied) if len(tied) <= 3 else f"{len(tied)} of the {others} others"
                    text += f"; not significantly better than {shown}"
                elif others:
                    text += "; significantly better than all others"
                row[dataset] = text
            rows.append(row)
        direction = " (higher is better)" if higher_is_better(metric) else ""  # the label says when lower is
        document.add(doc.Paragraph(
            f"Ranked by {figures.metric_label(metric)}{direction}, the mean over resamples ± sd. "
            "'Best overall' has the best mean rank across datasets; it is tested against every other "
            "configuration with a paired Wilcoxon signed-rank test over all (dataset, resample) pairs. Per "
            "dataset, the best configuration is tested against every other one over that dataset's resamples. "
            f"Both are Holm-corrected, at α = {self.alpha:g}."))
        document.add(doc.Table(pd.DataFrame(rows)))
        constant = self.scores[(self.scores["metric"] == metric) & (self.scores["n"] > 1) & (self.scores["sd"] == 0)]
        if len(constant):
            constant = constant.assign(configuration=self._entry_label(constant))
            cases = "; ".join(
                f"{conf} on {dataset} at {', '.join(str(s) for s in sorted(part['train_size']))}"
                for (conf, dataset), part in constant.groupby(["configuration", "dataset"], sort=False))
            document.add(doc.Paragraph(
                f"The same {figures.metric_label(metric)} on every resample: {cases}. That usually means a "
                "constant prediction (for example always the majority class); check the target's "
                "hyperparameters.", kind="note"))
        n_max = int(self.frame.groupby(["dataset", "train_size", *self.extra])["resample"].nunique().max())
        if min_attainable_p(n_max) >= self.alpha:
            document.add(doc.Paragraph(
                f"With {n_max} resamples per cell no paired Wilcoxon test can reach p < {self.alpha:g} "
                f"(the smallest possible two-sided p is {min_attainable_p(n_max):.4f}), so 'not significantly "
                "better' here means 'not distinguishable with this many resamples'. Set `resamples` to 6 or more "
                "(10 is better) for differences that can be shown.", kind="note"))

    def _learning_curves(self, document: doc.Document) -> None:
        document.add(doc.Heading("Learning curves"))
        fig = figures.curves(self.frame, self.layout, title=f"{self.name}: learning curves")
        document.add(self._figure(
            "learning_curves", fig,
            "Mean over resamples with a 95% confidence band (Student t, drawn within the metric's range); x is "
            "the number of training examples on a log scale. With few resamples the bands are wide: that is "
            "the uncertainty, not a drawing error."))

    def _leaderboard(self, document: doc.Document) -> None:
        document.add(doc.Heading("Leaderboard"))
        document.add(doc.Paragraph(
            "Mean rank (1 = best; ties share the average rank) of each configuration across datasets at each "
            "training size, with the number of datasets it wins."))
        markdown_parts = [f"# Leaderboard: {self.name}", ""]
        for metric in self.metrics:
            table, strong = self._rank_table(metric)
            block = doc.Table(table, f"Mean rank by {figures.metric_label(metric)}", strong=strong)
            document.add(block)
            markdown_parts += doc.markdown_table(block) + [""]
        document.add(doc.Heading("Scores per dataset", 3))
        for metric in self.metrics:
            for dataset in order_of(self.frame, "dataset"):
                table, strong = self._score_table(metric, dataset)
                block = doc.Table(table, f"{dataset}: {figures.metric_label(metric)}, mean ± sd over resamples",
                                  strong=strong)
                document.add(block)
                markdown_parts += doc.markdown_table(block) + [""]
        self.texts.append((self.folder / "leaderboard.md", "\n".join(markdown_parts).rstrip() + "\n"))
        self.texts.append((self.folder / "leaderboard.csv", self.ranks.to_csv(index=False)))
        self.texts.append((self.folder / "scores.csv", self.scores.to_csv(index=False)))

    def _entry_label(self, frame: pd.DataFrame) -> pd.Series:
        return frame[self.entry].astype(str).agg(ENTRY_SEPARATOR.join, axis=1)

    def _rank_table(self, metric: str):
        part = self.ranks[self.ranks["metric"] == metric].copy()
        part["configuration"] = self._entry_label(part)
        sizes = sorted(part["train_size"].unique())
        order = part.groupby("configuration", sort=False)["mean_rank"].mean().sort_values(kind="stable").index
        table = pd.DataFrame({"configuration": list(order)})
        strong = pd.DataFrame(False, index=table.index, columns=["configuration", *map(str, sizes)])
        for size in sizes:
            at = part[part["train_size"] == size].set_index("configuration")
            values = []
            for i, conf in enumerate(order):
                if conf in at.index:
                    r = at.loc[conf]
                    values.append(f"{r['mean_rank']:.2f} ({int(r['wins'])} won)")
                    strong.loc[i, str(size)] = bool(r["mean_rank"] == at["mean_rank"].min())
                else:
                    values.append("")
            table[str(size)] = values
        return table, strong

    def _score_table(self, metric: str, dataset: str):
        part = self.scores[(self.scores["metric"] == metric) & (self.scores["dataset"] == dataset)].copy()
        part["configuration"] = self._entry_label(part)
        sizes = sorted(part["train_size"].unique())
        confs = list(dict.fromkeys(part["configuration"]))
        table = pd.DataFrame({"configuration": confs})
        strong = pd.DataFrame(False, index=table.index, columns=["configuration", *map(str, sizes)])
        lower = not higher_is_better(metric)
        for size in sizes:
            at = part[part["train_size"] == size].set_index("configuration")
            top = at["mean"].min() if lower else at["mean"].max()
            values = []
            for i, conf in enumerate(confs):
                if conf in at.index:
                    r = at.loc[conf]
                    values.append(f"{_fmt(r['mean'])} ± {_fmt(r['sd'])}" if np.isfinite(r["sd"]) else _fmt(r["mean"]))
                    strong.loc[i, str(size)] = bool(r["mean"] == top)
                else:
                    values.append("")
            table[str(size)] = values
        return table, strong

    def _test_table(self, tests: pd.DataFrame, group_cols: list[str], names: tuple[str, str]):
        rows = []
        for _, t in tests.iterrows():
            if not np.isfinite(t["p_value"]):
                verdict = "not tested"
            elif t["significant"]:
                better = t["a"] if (t["mean_diff"] > 0) == higher_is_better(t["metric"]) else t["b"]
                verdict = f"{better} better"
            else:
                verdict = "n.s."
            rows.append({**{c: str(t[c]) for c in group_cols}, "size": str(t["train_size"]),
                         names[0]: t["a"], names[1]: t["b"], "mean A": _fmt(t["mean_a"]),
                         "mean B": _fmt(t["mean_b"]), "A − B": _fmt(t["mean_diff"], 4),
                         "pairs": str(t["n_pairs"]), "p": _fmt_p(t["p_value"]),
                         "p (Holm)": _fmt_p(t["p_holm"]), "verdict": verdict, "note": t["note"]})
        table = pd.DataFrame(rows)
        muted = pd.DataFrame(False, index=table.index, columns=table.columns)
        if len(table):
            not_sig = table["verdict"].isin(["n.s.", "not tested"])
            for column in ("mean A", "mean B", "A − B", "p", "p (Holm)", "verdict"):
                muted[column] = not_sig
        return table, muted

    def _significance(self, document: doc.Document) -> None:
        document.add(doc.Heading("Significance: featurizers compared"))
        family = ("the featurizer pairs of one dataset, target, size and metric" if self.family is None
                  else "every featurizer-pair test in this report")
        document.add(doc.Paragraph(
            "Each pair of featurizers with the same target, dataset, training size and metric, paired by "
            "resample (every configuration sees the same training sample in a resample). Two-sided Wilcoxon "
            "signed-rank test on the differences; zero differences are dropped; with ties or zeros the p-value "
            f"comes from exhaustive permutation. Holm correction over {family}. "
            f"Differences not significant at α = {self.alpha:g} after correction are shown in grey and marked n.s."))
        tests = self.featurizer_tests
        csv = tests.copy()
        self.texts.append((self.folder / "significance.csv", csv.to_csv(index=False)))
        if tests.empty:
            document.add(doc.Paragraph("Only one featurizer in these results: nothing to compare."))
            return
        shown = self.metrics
        if len(tests) > MAX_TEST_ROWS and len(self.metrics) > 1:
            shown = [self.primary]
            document.add(doc.Paragraph(
                f"{len(tests)} tests in all; the tables below show {figures.metric_label(self.primary)} only. "
                "`significance.csv` holds every metric."))
        for metric in shown:
            part = tests[tests["metric"] == metric]
            table, muted = self._test_table(part, ["dataset", "target", *self.extra], ("A", "B"))
            document.add(doc.Table(table, f"{figures.metric_label(metric)}", muted=muted))

    def _comparisons(self, document: doc.Document) -> None:
        frame = self.frame[self.frame["metric"] == self.primary]
        label = figures.metric_label(self.primary)
        document.add(doc.Heading("Comparisons"))
        if frame["target"].nunique() > 1:
            document.add(doc.Heading("Targets side by side, per featurizer", 3))
            layout = Layout(("target", *self.extra), "dataset", "featurizer")
            fig = figures.curves(frame, layout, title=f"{self.name}: targets side by side per featurizer")
            document.add(self._figure(
                f"targets_by_featurizer_{_safe(self.primary)}", fig,
                f"{label}: each panel one dataset and featurizer, one line per target; mean with 95% CI band."))
        document.add(doc.Heading("Optimizer: L-BFGS against SGD", 3))
        if self.optimizer_targets:
            part = frame[frame["target"].isin(self.optimizer_targets)]
            layout = Layout(("target", *self.extra), "dataset", "featurizer")
            fig = figures.curves(part, layout, title=f"{self.name}: L-BFGS (logreg) against SGD (logreg-sgd)")
            document.add(self._figure(
                f"optimizer_{_safe(self.primary)}", fig,
                f"{label}: logistic regression fitted by L-BFGS (`logreg`) and by stochastic gradient descent "
                "(`logreg-sgd`) on the same features and samples."))
            tests = self.optimizer_tests[self.optimizer_tests["metric"] == self.primary]
            table, muted = self._test_table(tests, ["dataset", "featurizer", *self.extra], ("A", "B"))
            document.add(doc.Table(table, f"Paired Wilcoxon tests, {label}", muted=muted))
            self.texts.append((self.folder / "significance_optimizer.csv", self.optimizer_tests.to_csv(index=False)))
        else:
            document.add(doc.Paragraph(
                "These results do not hold both `logreg` (L-BFGS) and `logreg-sgd` (SGD); add both to the "
                "config's targets to compare the optimizers."))
        document.add(doc.Heading(f"At {self.bar_size} training examples", 3))
        bars_layout = Layout(("featurizer", "target", *self.extra), "dataset", "metric")
        fig = figures.bars(self.frame, bars_layout, self.bar_size,
                           title=f"{self.name}: scores at {self.bar_size} training examples")
        document.add(self._figure(
            f"bars_{self.bar_size}", fig,
            f"Mean over resamples at {self.bar_size} training examples with 95% CI error bars; value printed "
            "in each bar. Choose the size with `--size`."))

    def _variance(self, document: doc.Document) -> None:
        document.add(doc.Heading("Variance across resamples"))
        fig = figures.curves(self.frame, self.layout, statistic="sd",
                             ylabel=lambda name: f"sd of {name} across resamples",
                             title=f"{self.name}: spread across resamples")
        document.add(self._figure(
            "variance", fig,
            "Standard deviation of the score across resamples (different training samples of the same size). "
            "At small sizes it is often as large as the differences between configurations."))

    def _hyperparameters(self, document: doc.Document) -> None:
        """What inner cross-validation chose, per configuration and size, and fits that did not converge."""
        if "chosen_params" not in self.frame.columns:
            return
        part = self.frame[self.frame["metric"] == self.primary].copy()
        part["configuration"] = self._entry_label(part)
        rows = []
        for (conf, dataset, size), cell in part.groupby(["configuration", "dataset", "train_size"], sort=False):
            counts: dict[str, dict[str, int]] = {}
            not_converged = reporting = 0
            for text in cell["chosen_params"]:
                params = _json_object(text)
                if isinstance(params.get("converged"), bool):
                    reporting += 1
                    not_converged += params["converged"] is False
                for key, value in params.items():
                    if key == "converged" or key.startswith("cv_"):
                        continue
                    shown = f"{value:g}" if isinstance(value, float) else str(value)
                    counts.setdefault(key, {}).setdefault(shown, 0)
                    counts[key][shown] += 1
            if not counts and not not_converged:
                continue
            chosen = "; ".join(
                f"{key} " + ", ".join(f"{v} ({n}×)" for v, n in sorted(values.items(), key=lambda kv: -kv[1]))
                for key, values in counts.items())
            rows.append({"configuration": conf, "dataset": dataset, "size": str(size), "chosen (resamples)": chosen,
                         "fits not converged": f"{not_converged} of {reporting}" if reporting else "–"})
        if not rows:
            return
        document.add(doc.Heading("Hyperparameters chosen by inner cross-validation"))
        document.add(doc.Paragraph(
            "Each target tunes its hyperparameters on the training sample alone; how often each value was "
            "chosen across resamples. A choice that changes from resample to resample is part of the variance "
            "above."))
        document.add(doc.Table(pd.DataFrame(rows).sort_values(["configuration", "dataset"], kind="stable")))

    def _cost(self, document: doc.Document) -> None:
        columns = [c for c in ("fit_seconds", "predict_seconds", "seconds") if c in self.frame.columns]
        if not columns:
            return
        part = self.frame[self.frame["metric"] == self.primary].copy()
        for column in columns:
            part[column] = pd.to_numeric(part[column], errors="coerce")
        part["configuration"] = self._entry_label(part)
        table = part.groupby(["configuration", "train_size"], sort=False)[columns].mean().reset_index()
        table = table.sort_values(["configuration", "train_size"], kind="stable")
        shown = pd.DataFrame({"configuration": table["configuration"], "size": table["train_size"].astype(str),
                              **{f"mean {c.replace('_', ' ')}": table[c].map(lambda v: _fmt(v, 4))
                                 for c in columns}})
        document.add(doc.Heading("Cost"))
        document.add(doc.Paragraph(
            "Wall-clock seconds per cell (fitting the target and predicting on the test split), averaged over "
            "datasets and resamples. These are timings, not scores, and are never plotted as metrics; "
            "featurization time is not included."))
        document.add(doc.Table(shown.reset_index(drop=True)))

    def _methods(self, document: doc.Document) -> None:
        document.add(doc.Heading("Methods and files"))
        document.add(doc.Paragraph(
            "A resample is one training sample of the given size drawn from the train split; every "
            "configuration is scored on the same fixed test split. Means, standard deviations (n − 1) and "
            "95% Student-t intervals are over resamples, so they show how much the result depends on which "
            "examples were labelled, not the sampling error of the test split. Mean ranks average each "
            "configuration's rank on every dataset that has the size. Paired tests use the two-sided Wilcoxon "
            "signed-rank test (SciPy) on differences rounded to 12 decimals; Holm's step-down correction "
            "controls the family-wise error rate."))
        optimizer = ", `significance_optimizer.csv` (logreg against logreg-sgd)" if self.optimizer_targets else ""
        document.add(doc.Paragraph(
            "Beside this report: `results.parquet` (every cell), `scores.csv` (mean, sd and 95% CI per "
            "dataset, metric, size and configuration), `leaderboard.csv` and `leaderboard.md` (mean ranks "
            f"and scores), `significance.csv` (every featurizer-pair test){optimizer}, the figures as "
            f"{self.fmt.upper()}, and `report.json` (the files this report wrote, with their sha256)."))

    # -- output -----------------------------------------------------------------------------
    def _remove_stale(self, keep: set[str]) -> None:
        """Delete files an earlier report wrote that this one does not (a figure of another --size or
        format), but only those still exactly as that report wrote them."""
        import json

        manifest = self.folder / "report.json"
        try:
            previous = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
        except (OSError, ValueError, AttributeError):
            return
        for name, digest in previous.items():
            path = self.folder / str(name)
            if name in keep or path.parent != self.folder or not path.is_file():
                continue
            if file_sha256(path) == digest:
                path.unlink()
                log.debug("removed %s from an earlier report", path)
            else:
                log.info("kept %s: changed since an earlier report wrote it", path)

    def _write(self, document: doc.Document) -> Report:
        self.folder.mkdir(parents=True, exist_ok=True)
        figure_paths = []
        try:
            for path, fig, svg in self.rendered:
                if self.fmt == "svg":  # already drawn for the HTML: write that drawing
                    write_text_atomic(path, '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n' + svg)
                else:
                    figures.save(fig, path, self.fmt)
                figure_paths.append(path)
        finally:
            for _, fig, _ in self.rendered:
                figures.close(fig)
        table_paths = []
        for path, text in self.texts:
            write_text_atomic(path, text)
            table_paths.append(path)
        markdown = self.folder / "report.md"
        html = self.folder / "report.html"
        write_text_atomic(markdown, doc.to_markdown(document, self.folder))
        write_text_atomic(html, doc.to_html(document))
        written = [*figure_paths, *table_paths, markdown, html]
        self._remove_stale({p.name for p in written})
        write_json_atomic(self.folder / "report.json", {
            "experiment": self.name,
            "key": self.key,
            "results_sha256": self.results_sha256,
            "figures": [p.name for p in figure_paths],
            "tables": [p.name for p in table_paths],
            "format": self.fmt,
            "files": {p.name: file_sha256(p) for p in written},
        })
        log.info("wrote %s, %s and %d figures", html, markdown, len(figure_paths))
        return Report(html, markdown, figure_paths, table_paths)
