"""The report's sections, in reading order: each adds its blocks to the document and its files to
the output, from an :class:`~enso.report.analysis.Analysis` computed beforehand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from enso.report import document as doc
from enso.report import figures
from enso.report.across import MIN_DATASETS, POSTHOC, AcrossDatasets, nemenyi_min_p
from enso.report.analysis import Analysis
from enso.report.checks import ONE_CLASS_SHARE, TEST_IN_TRAIN_NOTE, dedupe
from enso.report.finetuning import answer, finetuning, verdicts
from enso.report.formatting import fmt, fmt_p, listing, plural, safe_stem
from enso.report.layout import Layout
from enso.report.results import MANIFEST_FILE, order_of
from enso.report.runinfo import featurization_cost, per_type_scores, run_metadata
from enso.report.significance import min_attainable_p, resamples_needed
from enso.report.stats import higher_is_better
from enso.report.writing import Output

MAX_TEST_ROWS = 120  # beyond this the report shows the primary metric's tests only
ONE_CLASS_MARK = "†"
UNTESTABLE_MARK = "‡"
REFERENCE_ROW = "majority class (reference)"


def all_sections(document: doc.Document, a: Analysis, out: Output) -> None:
    description = a.info.get("description") or ""
    if description:
        document.add(doc.Paragraph(description))
    summary(document, a, out)
    header(document, a)
    learning_curves(document, a, out)
    leaderboard(document, a, out)
    per_type_scores(document, a, out)
    significance(document, a, out)
    comparisons(document, a, out)
    finetuning(document, a, out)
    variance(document, a, out)
    hyperparameters(document, a)
    cost(document, a)
    featurization_cost(document, a)
    run_metadata(document, a)
    methods(document, a)


def left_out(a: Analysis) -> list[str]:
    """The sections this report leaves out because they do not apply, each with why."""
    out = []
    n_datasets = a.frame["dataset"].nunique()
    if n_datasets < MIN_DATASETS:
        out.append(f"comparison across datasets ({plural(n_datasets, 'dataset')}; a test across datasets needs "
                   f"at least {MIN_DATASETS})")
    if a.frame["featurizer"].nunique() < 2:
        out.append("featurizers compared (one featurizer)")
    if not a.optimizer_targets:
        out.append("L-BFGS against SGD (the results do not hold both `logreg` and `logreg-sgd`)")
    if not a.finetuned:
        out.append("frozen or fine-tuned (no target fine-tunes its source model)")
    return out


# -- best choices ---------------------------------------------------------------------------

def across_text(r: AcrossDatasets, alpha: float) -> str:
    """One summary cell: what may be said across datasets at one size, and on what test."""
    if not r.claim_possible:
        return f"no claim can be made across datasets: {r.reason}"
    n = plural(r.n_datasets, "dataset")
    unreachable = (f"; with {n} this test cannot reach p < {alpha:g} (smallest possible p = {r.min_p:.3g})"
                   if r.min_p >= alpha else "")
    left_out = f"; {plural(len(r.left_out), 'configuration')} missing on some dataset left out" if r.left_out else ""
    top = f"{r.top} (mean rank {r.top_mean_rank:.2f})"
    if r.test == "wilcoxon":
        other = (r.beaten or r.not_beaten)[0]
        verdict = "better than" if r.beaten else "not shown better than"
        return f"{top} {verdict} {other} (Wilcoxon over {n}, p = {fmt_p(r.p_value)}){unreachable}{left_out}"
    friedman = f"Friedman χ² = {r.statistic:.2f}, p = {fmt_p(r.p_value)} over {n}"
    if not r.p_value < alpha:
        return (f"no difference shown across datasets ({friedman}); best mean rank {top}, not a tested "
                f"claim{unreachable}{left_out}")
    others = len(r.configurations) - 1
    if r.beaten and not r.not_beaten:
        posthoc = (f"better than all {others} others" if others > 1 else f"better than {r.beaten[0]}")
    elif r.beaten:
        posthoc = (f"better than {listing(r.beaten, total=others)}; not shown better than "
                   f"{listing(r.not_beaten, total=others)}")
    else:
        posthoc = "not shown better than any other"
        floor = nemenyi_min_p(r.n_datasets, len(r.configurations))
        if floor >= alpha:
            posthoc += f" (with {n} the {POSTHOC} test cannot reach p < {alpha:g})"
    shown = max((r.posthoc_p[b] for b in r.beaten), default=None)
    p_text = f", {POSTHOC} p ≤ {shown:.3g}" if shown is not None else ""
    return f"{top}: {posthoc} ({friedman}{p_text}){left_out}"


def _one_class_index(a: Analysis) -> dict[tuple[str, str, int], object]:
    return {(c.configuration, c.dataset, c.train_size): c for c in a.one_class}


def summary(document: doc.Document, a: Analysis, out: Output) -> None:
    document.add(doc.Heading("Best choices per training size"))
    metric = a.primary
    best = a.best
    datasets = list(dict.fromkeys(best["dataset"]))
    flagged = _one_class_index(a)
    across = {r.train_size: r for r in a.across}
    n_datasets = len(datasets)
    rows = []
    across_column = n_datasets >= MIN_DATASETS
    for size, part in best.groupby("train_size", sort=True):
        row = {"training size": str(size)}
        if across_column:
            row[f"across datasets ({plural(n_datasets, 'dataset')})"] = across_text(across[int(size)], a.alpha)
        for dataset in datasets:
            cell = part[part["dataset"] == dataset]
            if cell.empty:
                row[dataset] = "no results"
                continue
            row[dataset] = _best_text(cell.iloc[0], a, flagged)
        rows.append(row)
    direction = " (higher is better)" if higher_is_better(metric) else ""  # the label says when lower is
    document.add(doc.Paragraph(
        f"Ranked by {figures.metric_label(metric)}{direction}: the mean over resamples ± sd, and where the "
        "results have it the test-set interval (± half-width of the 95% bootstrap interval over test rows). "
        f"Across datasets each dataset counts once, by each configuration's mean (Demšar 2006): a Friedman test "
        f"over the datasets, then, only when it rejects, the {POSTHOC} test of the configuration with the best "
        "mean rank against each other one (two configurations: a Wilcoxon signed-rank test over datasets). "
        f"With fewer than {MIN_DATASETS} datasets no test is run and no claim across datasets is made. Per "
        "dataset, the best configuration is tested against every other one over that dataset's resamples "
        f"(paired Wilcoxon, Holm-corrected over those comparisons). Every test at α = {a.alpha:g}."))
    document.add(doc.Table(pd.DataFrame(rows)))
    if not across_column:
        document.add(doc.Paragraph(
            f"No comparison across datasets: {plural(n_datasets, 'dataset')}, and a test across datasets needs at "
            f"least {MIN_DATASETS}; the best choices above hold for {'its' if n_datasets == 1 else 'each'} "
            f"dataset only."))
    out.text("summary.csv", _summary_csv(a).to_csv(index=False))
    if a.finetuned:
        lines = answer(verdicts(a, a.primary))
        if lines:
            document.add(doc.Paragraph(
                "Frozen or fine-tuned (paired Wilcoxon against the best frozen target on the same source, Holm-"
                f"corrected; see that section): {'; '.join(lines)}."))
    _untestable_note(document, a)
    _one_class_note(document, a)
    _test_in_train_note(document, a)
    n_max = int(a.frame.groupby(["dataset", "train_size", *a.extra])["resample"].nunique().max())
    if min_attainable_p(n_max) >= a.alpha:
        document.add(doc.Paragraph(
            f"With {n_max} resamples per cell no paired Wilcoxon test can reach p < {a.alpha:g} "
            f"(the smallest possible two-sided p is {min_attainable_p(n_max):.4f}), so 'not significantly "
            "better' here means 'not distinguishable with this many resamples'. Set `resamples` to 6 or more "
            "(10 is better) for differences that can be shown.", kind="note"))


def _best_text(c, a: Analysis, flagged: dict) -> str:
    tied = c["not_significantly_worse"]
    text = f"{c['best']}: {fmt(c['mean'])} ± {fmt(c['sd'])}"
    if np.isfinite(c["test_halfwidth"]):
        text += f" (test ±{fmt(c['test_halfwidth'])})"
    one = flagged.get((c["best"], c["dataset"], int(c["train_size"])))
    if one is not None:
        text += f" {ONE_CLASS_MARK} one class on {one.resamples} of {one.of} resamples"
    others = int(c["n_entries"]) - 1
    if tied and len(tied) == others:
        text += f"; not significantly better than any of the {others} others" if others > 1 \
            else f"; not significantly better than {tied[0]}"
    elif tied:
        text += f"; not significantly better than {listing(tied, 3, others)}"
    elif others:
        text += "; significantly better than all others"
    if tied and _untestable(c, a.alpha):
        text += f" {UNTESTABLE_MARK}"
    return text


def _untestable(c, alpha: float) -> bool:
    """Whether a dataset's best-against-the-rest Holm family cannot reach alpha with its resamples."""
    return bool(c["holm_m"] > 1 and c["holm_min_p"] >= alpha)


def _untestable_note(document: doc.Document, a: Analysis) -> None:
    cases = sorted({(int(c["holm_m"]), int(c["n"]), int(c.get("holm_nonzero", c["n"])), float(c["holm_min_p"]))
                    for _, c in a.best.iterrows() if c["not_significantly_worse"] and _untestable(c, a.alpha)})
    if not cases:
        return
    parts = [f"with {plural(n, 'resample')}"
             + (f", of which at most {nonzero} differ (a tie on a resample is no difference)" if nonzero < n else "")
             + f", Holm over {m} comparisons cannot give an adjusted p below {floor:.3g} "
             f"({resamples_needed(m, a.alpha)} non-zero paired differences needed)" for m, n, nonzero, floor in cases]
    document.add(doc.Paragraph(
        f"{UNTESTABLE_MARK} These comparisons cannot reach p < {a.alpha:g} whatever the differences: "
        f"{'; '.join(parts)}. 'Not significantly better' there means 'not testable with these resamples'.",
        kind="note"))


def _summary_csv(a: Analysis) -> pd.DataFrame:
    best = a.best.copy()
    best["not_significantly_worse"] = best["not_significantly_worse"].map(" | ".join)
    across = pd.DataFrame([r.row() for r in a.across]).drop(columns=["metric"])
    across = across.rename(columns={c: f"across_{c}" for c in across.columns if c != "train_size"})
    return best.merge(across, on="train_size", how="left")


def _one_class_note(document: doc.Document, a: Analysis) -> None:
    if not a.one_class:
        return
    by_configuration: dict[tuple[str, str], list] = {}
    for c in a.one_class:
        by_configuration.setdefault((c.configuration, c.dataset), []).append(c)
    cases = [f"{configuration} on {dataset} at "
             + ", ".join(f"{c.train_size} ({c.resamples} of {c.of} resamples)" for c in items)
             for (configuration, dataset), items in by_configuration.items()]
    reference = (" Compare their scores with the majority-class reference (the grey line in the learning curves"
                 f"{', the last row of the score tables' if a.reference_source == 'baseline' else ''})."
                 if a.reference is not None and len(a.reference) else "")
    document.add(doc.Paragraph(
        f"Test predictions at least {ONE_CLASS_SHARE:.0%} one class ({ONE_CLASS_MARK} in the tables): "
        f"{'; '.join(cases)}. Such a model predicts (nearly) always one class: its score says what the class "
        "shares are, not what the features carry, however much it varies between resamples. Check the target's "
        f"hyperparameters (strong regularisation, a search that ties) before reading these scores.{reference}",
        kind="note"))


def _test_in_train_note(document: doc.Document, a: Analysis) -> None:
    high = {d: v for d, v in a.test_in_train.items() if v[1] > TEST_IN_TRAIN_NOTE}
    if not high:
        return
    dropped = dedupe(a.info)
    cases = "; ".join(f"{d}: {count} ({share:.1%})" for d, (count, share) in high.items())
    action = ("They were dropped from the test split (`dedupe = true`)." if dropped else
              "Scores there partly measure recall of training texts; `dedupe = true` in the config drops them "
              "from the test split.")
    document.add(doc.Paragraph(
        f"Test texts that also occur in the train split, above {TEST_IN_TRAIN_NOTE:.0%}: {cases}. {action}",
        kind="note"))


# -- this run -------------------------------------------------------------------------------

def header(document: doc.Document, a: Analysis) -> None:
    frame = a.frame
    document.add(doc.Heading("This run"))
    per_cell = frame.groupby(["dataset", "featurizer", "target", "train_size", "metric", *a.extra])[
        "resample"].nunique()
    resamples = f"{per_cell.min()}" if per_cell.min() == per_cell.max() else f"{per_cell.min()}–{per_cell.max()}"
    check = (f"verified against {MANIFEST_FILE}" if a.verified
             else f"not verified: no {MANIFEST_FILE} (an older enso wrote it)")
    facts = [("datasets", ", ".join(order_of(frame, "dataset"))),
             ("featurizers", ", ".join(order_of(frame, "featurizer"))),
             ("targets", ", ".join(order_of(frame, "target"))),
             ("training sizes", ", ".join(str(s) for s in sorted(frame["train_size"].unique()))),
             ("resamples per cell", resamples), ("metrics", ", ".join(a.metrics)), ("rows", str(len(frame))),
             ("results file", f"{a.source.name} (sha256 {a.results_sha256[:12]}, {check})")]
    if a.test_in_train:
        dropped = dedupe(a.info)
        shown = ", ".join(f"{d} {count} ({share:.1%})" for d, (count, share) in a.test_in_train.items())
        if dropped is not None:
            shown += "; dropped from the test split (dedupe = true)" if dropped else "; kept (dedupe = false)"
        facts.append(("test texts also in train", shown))
    skipped = left_out(a)
    if skipped:
        facts.append(("sections left out", "; ".join(skipped)))
    document.add(doc.Table(pd.DataFrame({"fact": [f for f, _ in facts], "value": [v for _, v in facts]}),
                           header=False))


# -- figures --------------------------------------------------------------------------------

def _reference_caption(a: Analysis) -> str:
    if a.reference is None or a.reference.empty:
        return ""
    source = ("the `majority` target's scores" if a.reference_source == "target" else
              "always predicting the training sample's most frequent class, on the same test rows")
    return f" The grey dash-dotted line is the majority-class reference: {source}."


def learning_curves(document: doc.Document, a: Analysis, out: Output) -> None:
    document.add(doc.Heading("Learning curves"))
    fig = figures.curves(_curve_rows(a), a.options.layout, title=f"{a.name}: learning curves",
                         reference=a.reference)
    document.add(out.figure(
        "learning_curves", fig,
        "Mean over resamples with a 95% confidence band (Student t, drawn within the metric's range); x is "
        "the number of training examples on a log scale. With few resamples the bands are wide: that is "
        f"the uncertainty, not a drawing error.{_reference_caption(a)}"))


def _curve_rows(a: Analysis, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows drawn as lines: without the majority target when it is drawn as the reference."""
    frame = a.frame if frame is None else frame
    if a.reference_source == "target":
        from enso.report.checks import MAJORITY_TARGET
        from enso.report.results import base_name

        kept = frame[frame["target"].map(base_name) != MAJORITY_TARGET]
        return kept if len(kept) else frame
    return frame


# -- leaderboard ----------------------------------------------------------------------------

def leaderboard(document: doc.Document, a: Analysis, out: Output) -> None:
    document.add(doc.Heading("Leaderboard"))
    document.add(doc.Paragraph(
        "Mean rank (1 = best; ties share the average rank) of each configuration across datasets at each "
        "training size, with the number of datasets it wins, and its average score (the mean over resamples, "
        "averaged over every dataset and size it has). A description, not a test: see the summary for "
        "what may be claimed across datasets."))
    markdown_parts = [f"# Leaderboard: {a.name}", ""]
    for metric in a.metrics:
        table, strong = _rank_table(a, metric)
        block = doc.Table(table, f"Mean rank by {figures.metric_label(metric)}", strong=strong)
        document.add(block)
        markdown_parts += doc.markdown_table(block) + [""]
    document.add(doc.Heading("Scores per dataset", 3))
    has_test = "test_halfwidth" in a.scores.columns and a.scores["test_halfwidth"].notna().any()
    test_part = " (test ±: mean half-width of the 95% bootstrap interval over test rows)" if has_test else ""
    mark = f"; {ONE_CLASS_MARK}: predictions ≥ {ONE_CLASS_SHARE:.0%} one class on some resample" \
        if a.one_class else ""
    for metric in a.metrics:
        for dataset in order_of(a.frame, "dataset"):
            table, strong, muted = _score_table(a, metric, dataset)
            block = doc.Table(table, f"{dataset}: {figures.metric_label(metric)}, mean ± sd over resamples"
                                     f"{test_part}{mark}", strong=strong, muted=muted)
            document.add(block)
            markdown_parts += doc.markdown_table(block) + [""]
    out.text("leaderboard.md", "\n".join(markdown_parts).rstrip() + "\n")
    out.text("leaderboard.csv", a.ranks.to_csv(index=False))
    out.text("scores.csv", a.scores.to_csv(index=False))


def _rank_table(a: Analysis, metric: str):
    part = a.ranks[a.ranks["metric"] == metric].copy()
    part["configuration"] = a.label(part)
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
    average = _average_scores(a, metric)
    table[AVERAGE_COLUMN] = [fmt(average.get(conf, np.nan)) for conf in order]
    strong[AVERAGE_COLUMN] = False
    if len(average):
        top = min(average.values()) if not higher_is_better(metric) else max(average.values())
        strong[AVERAGE_COLUMN] = [bool(average.get(conf) == top) for conf in order]
    return table, strong


AVERAGE_COLUMN = "average score"


def _average_scores(a: Analysis, metric: str) -> dict[str, float]:
    """Each configuration's score averaged over every dataset and size it has (the mean over
    resamples first): a one-number summary, not a test."""
    part = a.scores[a.scores["metric"] == metric]
    if part.empty:
        return {}
    labels = a.label(part)
    return part.assign(configuration=labels.to_numpy()).groupby("configuration", sort=False)["mean"].mean().to_dict()


def _score_table(a: Analysis, metric: str, dataset: str):
    part = a.scores[(a.scores["metric"] == metric) & (a.scores["dataset"] == dataset)].copy()
    part["configuration"] = a.label(part)
    sizes = sorted(part["train_size"].unique())
    confs = list(dict.fromkeys(part["configuration"]))
    reference = None
    if a.reference_source == "baseline":
        reference = a.reference[(a.reference["dataset"] == dataset) & (a.reference["metric"] == metric)]
        reference = reference.set_index("train_size")["value"] if len(reference) else None
    rows = [*confs, *([REFERENCE_ROW] if reference is not None else [])]
    table = pd.DataFrame({"configuration": rows})
    columns = ["configuration", *map(str, sizes)]
    strong = pd.DataFrame(False, index=table.index, columns=columns)
    muted = pd.DataFrame(False, index=table.index, columns=columns)
    if reference is not None:
        muted.iloc[-1] = True
    flagged = _one_class_index(a)
    lower = not higher_is_better(metric)
    for size in sizes:
        at = part[part["train_size"] == size].set_index("configuration")
        top = at["mean"].min() if lower else at["mean"].max()
        values = []
        for i, conf in enumerate(confs):
            if conf in at.index:
                r = at.loc[conf]
                text = f"{fmt(r['mean'])} ± {fmt(r['sd'])}" if np.isfinite(r["sd"]) else fmt(r["mean"])
                if np.isfinite(r.get("test_halfwidth", np.nan)):
                    text += f" (test ±{fmt(r['test_halfwidth'])})"
                if (conf, dataset, int(size)) in flagged:
                    text += f" {ONE_CLASS_MARK}"
                values.append(text)
                strong.loc[i, str(size)] = bool(r["mean"] == top)
            else:
                values.append("")
        if reference is not None:
            values.append(fmt(reference.get(size, np.nan)))
        table[str(size)] = values
    return table, strong, muted


# -- significance ---------------------------------------------------------------------------

def _test_table(tests: pd.DataFrame, group_cols: list[str], names: tuple[str, str]):
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
                     names[0]: t["a"], names[1]: t["b"], "mean A": fmt(t["mean_a"]),
                     "mean B": fmt(t["mean_b"]), "A − B": fmt(t["mean_diff"], 4),
                     "pairs": str(t["n_pairs"]), "p": fmt_p(t["p_value"]),
                     "p (Holm)": fmt_p(t["p_holm"]), "verdict": verdict, "note": t["note"]})
    table = pd.DataFrame(rows)
    muted = pd.DataFrame(False, index=table.index, columns=table.columns)
    if len(table):
        not_sig = table["verdict"].isin(["n.s.", "not tested"])
        for column in ("mean A", "mean B", "A − B", "p", "p (Holm)", "verdict"):
            muted[column] = not_sig
    return table, muted


def unreachable_note(tests: pd.DataFrame, family_keys: list[str] | None, alpha: float, what: str) -> str:
    """A caveat when some Holm families are too large for their resamples to reach p < alpha."""
    if tests is None or tests.empty:
        return ""
    tested = tests[tests["p_value"].notna()]
    if tested.empty:
        return ""
    keys = family_keys if family_keys is not None else None
    families = tested.groupby(keys, sort=False) if keys else [((), tested)]
    bad, total, example = 0, 0, None
    for _, family in families:
        total += 1
        m, floor = int(family["holm_m"].iloc[0]), float(family["holm_min_p"].iloc[0])
        if m > 1 and floor >= alpha:
            bad += 1
            if example is None:
                example = (m, int(family["n_nonzero"].max()), floor)
    if not bad:
        return ""
    m, n, floor = example
    need = resamples_needed(m, alpha)
    return (f"{bad} of {plural(total, 'Holm family', 'Holm families')} of {what} cannot reach p < {alpha:g}: "
            f"for example Holm over {m} tests with at most {n} non-zero paired differences gives an adjusted p "
            f"of at least {m} × {min_attainable_p(n):.3g} = {floor:.3g}. There 'n.s.' means 'not testable with "
            f"these resamples', not 'no difference'; a family of {m} needs at least {need} resamples.")


def significance(document: doc.Document, a: Analysis, out: Output) -> None:
    tests = a.featurizer_tests
    out.text("significance.csv", tests.to_csv(index=False))
    if a.frame["featurizer"].nunique() < 2:
        return  # one featurizer: nothing to compare (the run's facts say so)
    document.add(doc.Heading("Significance: featurizers compared"))
    family = ("the featurizer pairs of one dataset, target, size and metric" if a.family is None
              else "every featurizer-pair test in this report")
    document.add(doc.Paragraph(
        "Each pair of featurizers with the same target, dataset, training size and metric, paired by "
        "resample (every configuration sees the same training sample in a resample). Two-sided Wilcoxon "
        "signed-rank test on the differences; zero differences are dropped; with ties or zeros the p-value "
        f"comes from exhaustive permutation. Holm correction over {family}. "
        f"Differences not significant at α = {a.alpha:g} after correction are shown in grey and marked n.s."))
    if tests.empty:
        document.add(doc.Paragraph("No two featurizers share a target, dataset and size: nothing to compare."))
        return
    keys = ["dataset", "metric", "target", *a.extra, "train_size"] if a.family is None else []
    note = unreachable_note(tests, keys, a.alpha, "featurizer pairs")
    if note:
        document.add(doc.Paragraph(note, kind="note"))
    shown = a.metrics
    if len(tests) > MAX_TEST_ROWS and len(a.metrics) > 1:
        shown = [a.primary]
        document.add(doc.Paragraph(
            f"{len(tests)} tests in all; the tables below show {figures.metric_label(a.primary)} only. "
            "`significance.csv` holds every metric."))
    for metric in shown:
        part = tests[tests["metric"] == metric]
        table, muted = _test_table(part, ["dataset", "target", *a.extra], ("A", "B"))
        document.add(doc.Table(table, f"{figures.metric_label(metric)}", muted=muted))


def comparisons(document: doc.Document, a: Analysis, out: Output) -> None:
    frame = a.frame[a.frame["metric"] == a.primary]
    label = figures.metric_label(a.primary)
    document.add(doc.Heading("Comparisons"))
    if frame["target"].nunique() > 1:
        document.add(doc.Heading("Targets side by side, per featurizer", 3))
        layout = Layout(("target", *a.extra), "dataset", "featurizer")
        fig = figures.curves(_curve_rows(a, frame), layout,
                             title=f"{a.name}: targets side by side per featurizer", reference=a.reference)
        document.add(out.figure(
            f"targets_by_featurizer_{safe_stem(a.primary)}", fig,
            f"{label}: each panel one dataset and featurizer, one line per target; mean with 95% CI band."
            f"{_reference_caption(a)}"))
    if a.optimizer_targets:
        document.add(doc.Heading("Optimizer: L-BFGS against SGD", 3))
        part = frame[frame["target"].isin(a.optimizer_targets)]
        layout = Layout(("target", *a.extra), "dataset", "featurizer")
        fig = figures.curves(part, layout, title=f"{a.name}: L-BFGS (logreg) against SGD (logreg-sgd)")
        document.add(out.figure(
            f"optimizer_{safe_stem(a.primary)}", fig,
            f"{label}: logistic regression fitted by L-BFGS (`logreg`) and by stochastic gradient descent "
            "(`logreg-sgd`) on the same features and samples."))
        tests = a.optimizer_tests[a.optimizer_tests["metric"] == a.primary]
        keys = ["dataset", "metric", "featurizer", *a.extra, "train_size"] if a.family is None else []
        note = unreachable_note(tests, keys, a.alpha, "optimizer pairs")
        if note:
            document.add(doc.Paragraph(note, kind="note"))
        table, muted = _test_table(tests, ["dataset", "featurizer", *a.extra], ("A", "B"))
        document.add(doc.Table(table, f"Paired Wilcoxon tests, {label}", muted=muted))
        out.text("significance_optimizer.csv", a.optimizer_tests.to_csv(index=False))
    document.add(doc.Heading(f"At {a.bar_size} training examples", 3))
    bars_layout = Layout(("featurizer", "target", *a.extra), "dataset", "metric")
    fig = figures.bars(a.frame, bars_layout, a.bar_size, title=f"{a.name}: scores at {a.bar_size} training examples")
    document.add(out.figure(
        f"bars_{a.bar_size}", fig,
        f"Mean over resamples at {a.bar_size} training examples with 95% CI error bars; value printed "
        "in each bar. Choose the size with `--size`."))


def variance(document: doc.Document, a: Analysis, out: Output) -> None:
    document.add(doc.Heading("Variance across resamples"))
    fig = figures.curves(a.frame, a.options.layout, statistic="sd",
                         ylabel=lambda name: f"sd of {name} across resamples",
                         title=f"{a.name}: spread across resamples")
    document.add(out.figure(
        "variance", fig,
        "Standard deviation of the score across resamples (different training samples of the same size). "
        "At small sizes it is often as large as the differences between configurations."))


def _json_object(text) -> dict:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


_MAX_LISTED = 3


def _chosen_values(key: str, counts: dict[str, int], numbers: list[float]) -> str:
    """``key`` with each value and how often; a measurement (a float that takes more than
    ``_MAX_LISTED`` values, such as fit seconds or a final loss) as its range instead."""
    if len(counts) > _MAX_LISTED and len(numbers) == sum(counts.values()):
        return f"{key} {min(numbers):g}–{max(numbers):g} ({len(numbers)} values)"
    return f"{key} " + ", ".join(f"{v} ({n}×)" for v, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def hyperparameters(document: doc.Document, a: Analysis) -> None:
    """What inner cross-validation chose, per configuration and size, and fits that did not converge."""
    if "chosen_params" not in a.frame.columns:
        return
    part = a.frame[a.frame["metric"] == a.primary].copy()
    part["configuration"] = a.label(part)
    rows = []
    for (conf, dataset, size), cell in part.groupby(["configuration", "dataset", "train_size"], sort=False):
        counts: dict[str, dict[str, int]] = {}
        numbers: dict[str, list[float]] = {}
        not_converged = reporting = 0
        for text in cell["chosen_params"]:
            params = _json_object(text)
            if isinstance(params.get("converged"), bool):
                reporting += 1
                not_converged += params["converged"] is False
            for key, value in params.items():
                if key == "converged" or key.startswith("cv_"):
                    continue
                if isinstance(value, float):
                    numbers.setdefault(key, []).append(value)
                shown = f"{value:g}" if isinstance(value, float) else str(value)
                counts.setdefault(key, {}).setdefault(shown, 0)
                counts[key][shown] += 1
        if not counts and not not_converged:
            continue
        chosen = "; ".join(_chosen_values(key, values, numbers.get(key, [])) for key, values in counts.items())
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


def cost(document: doc.Document, a: Analysis) -> None:
    columns = [c for c in ("fit_seconds", "predict_seconds", "seconds") if c in a.frame.columns]
    if not columns:
        return
    part = a.frame[a.frame["metric"] == a.primary].copy()
    for column in columns:
        part[column] = pd.to_numeric(part[column], errors="coerce")
    part["configuration"] = a.label(part)
    table = part.groupby(["configuration", "train_size"], sort=False)[columns].mean().reset_index()
    table = table.sort_values(["configuration", "train_size"], kind="stable")
    shown = pd.DataFrame({"configuration": table["configuration"], "size": table["train_size"].astype(str),
                          **{f"mean {c.replace('_', ' ')}": table[c].map(lambda v: fmt(v, 4))
                             for c in columns}})
    document.add(doc.Heading("Cost"))
    document.add(doc.Paragraph(
        "Wall-clock seconds per cell (fitting the target and predicting on the test split), averaged over "
        "datasets and resamples. These are timings, not scores, and are never plotted as metrics; "
        "featurization time is not included (see Featurization cost, where run.json records it)."))
    document.add(doc.Table(shown.reset_index(drop=True)))


def missing_columns(a: Analysis) -> str:
    """What this results table is too old to have, and which checks therefore could not run."""
    missing = []
    if "majority_share" not in a.frame.columns:
        missing.append("`majority_share` (the one-class check)")
    if not {"test_ci_low", "test_ci_high"} <= set(a.frame.columns):
        missing.append("`test_ci_low`/`test_ci_high` (the test-set interval)")
    if "baseline_value" not in a.frame.columns and a.reference_source != "target":
        missing.append("`baseline_value` (the majority-class reference)")
    if not missing:
        return ""
    return (f"This results table has no {', no '.join(missing)}: an older enso wrote it, so "
            f"{'that part is' if len(missing) == 1 else 'those parts are'} left out; rerun the experiment "
            "stage to add them.")


def methods(document: doc.Document, a: Analysis) -> None:
    document.add(doc.Heading("Methods and files"))
    document.add(doc.Paragraph(
        "A resample is one training sample of the given size drawn from the train split; every "
        "configuration is scored on the same fixed test split. Means, standard deviations (n − 1) and "
        "95% Student-t intervals are over resamples: they show how much the result depends on which "
        "examples were labelled. The test-set interval (test ±, where the results have it) is the 95% "
        "percentile bootstrap over test rows of each cell, averaged over resamples: how much a score would "
        "move on another test split of the same size. It does not shrink with more resamples, since every "
        "resample is scored on the same test split; paired tests hold that split fixed, so they speak about it. "
        "Mean ranks average each configuration's rank on every dataset that has the size. Paired tests use "
        "the two-sided Wilcoxon signed-rank test (SciPy) on differences rounded to 12 decimals; Holm's "
        "step-down correction controls the family-wise error rate, and a family of m tests with n non-zero "
        "differences cannot reach an adjusted p below m × 2/2ⁿ, which the report says where it bites. Across "
        "datasets: the Friedman test (SciPy) on the datasets × configurations table of per-dataset means, "
        f"then the {POSTHOC} post-hoc test (scikit-posthocs) of the best mean rank against each other "
        f"configuration only when Friedman rejects; fewer than {MIN_DATASETS} datasets: no test. A "
        f"configuration whose test predictions are at least {ONE_CLASS_SHARE:.0%} one class on a resample "
        "is flagged, whatever its score's spread."))
    missing = missing_columns(a)
    if missing:
        document.add(doc.Paragraph(missing, kind="note"))
    optimizer = ", `significance_optimizer.csv` (logreg against logreg-sgd)" if a.optimizer_targets else ""
    if a.finetuned:
        optimizer += (", `finetune.csv` (each fine-tuned target against the best frozen one per size) and "
                      "`significance_finetune.csv` (against every frozen one)")
    if a.per_type is not None and len(a.per_type):
        optimizer += ", `per_type.csv` (per-type scores at every size)"
    document.add(doc.Paragraph(
        "Beside this report: `results.parquet` (every cell), `scores.csv` (mean, sd and 95% CI per "
        "dataset, metric, size and configuration), `leaderboard.csv` and `leaderboard.md` (mean ranks "
        f"and scores), `summary.csv` (the best choices and the across-dataset tests), `significance.csv` "
        f"(every featurizer-pair test){optimizer}, the figures as {a.options.fmt.upper()}, and `report.json` "
        "(the files this report wrote, with their sha256)."))
