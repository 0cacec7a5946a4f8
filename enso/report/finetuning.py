"""The report's answer to "freeze or fine-tune?" (issue 12).

Shown when the results hold targets that fine-tune their source model (``tags.input ==
"texts"``: finetune, setfit, lora). Per source featurizer: the frozen targets on its features
and the fine-tuned ones on its model, side by side as learning curves and as spreads across
resamples; a table saying at which sizes fine-tuning pays, from paired Wilcoxon tests over the
shared resamples (every target sees the same training sample in a resample) of each
fine-tuned target against the best frozen target at that size, Holm-corrected over the pairs
of fine-tuned and frozen targets of one dataset, source, size and metric; and what a cell
costs, beside what it scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from enso.report import document as doc
from enso.report import figures
from enso.report.analysis import Analysis
from enso.report.checks import MAJORITY_TARGET
from enso.report.formatting import fmt, fmt_p, safe_stem
from enso.report.layout import Layout
from enso.report.results import base_name, order_of
from enso.report.stats import higher_is_better
from enso.report.writing import Output

PAYS = "fine-tuning pays"
FROZEN_BETTER = "frozen better"


def cell_seconds(frame: pd.DataFrame) -> pd.Series:
    """Seconds per cell of each row: ``seconds`` (fit and predict), else their parts summed."""
    if "seconds" in frame.columns:
        seconds = pd.to_numeric(frame["seconds"], errors="coerce")
        if seconds.notna().any():
            return seconds
    parts = [pd.to_numeric(frame[c], errors="coerce") for c in ("fit_seconds", "predict_seconds") if c in frame]
    return sum(parts) if parts else pd.Series(np.nan, index=frame.index)


def verdicts(a: Analysis, metric: str) -> pd.DataFrame:
    """One row per dataset, source featurizer, fine-tuned target and size: the fine-tuned target
    against the best frozen target there (by mean), with the paired test and the cost of each."""
    tests = a.finetune_tests
    frame = a.frame[a.frame["metric"] == metric].assign(cell_seconds=lambda f: cell_seconds(f))
    lower = not higher_is_better(metric)
    tuned = set(a.finetuned)
    rows = []
    keys = ["dataset", "featurizer", "train_size", *a.extra]
    for group, part in frame.groupby(keys, sort=False):
        values = dict(zip(keys, group if isinstance(group, tuple) else (group,)))
        stats = part.groupby("target", sort=False).agg(mean=("value", "mean"), sd=("value", "std"),
                                                       n=("value", "count"), seconds=("cell_seconds", "mean"))
        frozen = stats[[t not in tuned and base_name(t) != MAJORITY_TARGET for t in stats.index]]
        for target in [t for t in stats.index if t in tuned]:
            ft = stats.loc[target]
            row = {**values, "fine_tuned": target, "mean_ft": ft["mean"], "sd_ft": ft["sd"], "n_ft": int(ft["n"]),
                   "seconds_ft": ft["seconds"], "frozen": "", "mean_frozen": np.nan, "sd_frozen": np.nan,
                   "seconds_frozen": np.nan, "mean_diff": np.nan, "n_pairs": 0, "p_value": np.nan,
                   "p_holm": np.nan, "holm_m": 0, "verdict": "no frozen target on this source"}
            if len(frozen):
                best = frozen["mean"].idxmin() if lower else frozen["mean"].idxmax()
                row.update(frozen=best, mean_frozen=frozen.loc[best, "mean"], sd_frozen=frozen.loc[best, "sd"],
                           seconds_frozen=frozen.loc[best, "seconds"])
                test = _test(tests, values, metric, target, best, a.extra)
                if test is not None:
                    sign = 1.0 if test["a"] == target else -1.0
                    row.update(mean_diff=sign * float(test["mean_diff"]), n_pairs=int(test["n_pairs"]),
                               p_value=float(test["p_value"]), p_holm=float(test["p_holm"]),
                               holm_m=int(test["holm_m"]))
                    row["verdict"] = _verdict(row, lower, a.alpha)
            rows.append(row)
    return pd.DataFrame(rows)


def _test(tests: pd.DataFrame | None, values: dict, metric: str, x: str, y: str, extra: list[str]):
    if tests is None or tests.empty:
        return None
    mask = (tests["metric"] == metric) & (tests["dataset"] == values["dataset"]) \
        & (tests["featurizer"] == values["featurizer"]) & (tests["train_size"] == values["train_size"])
    for dim in extra:
        mask &= tests[dim] == values[dim]
    mask &= ((tests["a"] == x) & (tests["b"] == y)) | ((tests["a"] == y) & (tests["b"] == x))
    found = tests[mask]
    return None if found.empty else found.iloc[0]


def _verdict(row: dict, lower: bool, alpha: float) -> str:
    if not np.isfinite(row["p_value"]):
        return "not tested"
    if not row["p_holm"] < alpha:
        return "n.s."
    better = row["mean_diff"] < 0 if lower else row["mean_diff"] > 0
    return PAYS if better else FROZEN_BETTER


def _rows(a: Analysis, metric: str, v: pd.DataFrame) -> pd.DataFrame:
    out = []
    for _, r in v.iterrows():
        ratio = (r["seconds_ft"] / r["seconds_frozen"] if np.isfinite(r["seconds_frozen"])
                 and r["seconds_frozen"] > 0 else np.nan)
        out.append({
            "dataset": r["dataset"], "source": r["featurizer"], **{d: str(r[d]) for d in a.extra},
            "fine-tuned": r["fine_tuned"], "size": str(r["train_size"]),
            "fine-tuned score": _mean_sd(r["mean_ft"], r["sd_ft"]),
            "best frozen": r["frozen"] or "–", "frozen score": _mean_sd(r["mean_frozen"], r["sd_frozen"]),
            "FT − frozen": fmt(r["mean_diff"], 4), "pairs": str(r["n_pairs"]), "p": fmt_p(r["p_value"]),
            "p (Holm)": fmt_p(r["p_holm"]), "verdict": r["verdict"],
            "s/cell fine-tuned": fmt(r["seconds_ft"], 2), "s/cell frozen": fmt(r["seconds_frozen"], 4),
            "cost ×": f"{ratio:,.0f}" if np.isfinite(ratio) and ratio >= 10 else fmt(ratio, 1),
        })
    return pd.DataFrame(out)


def _mean_sd(mean, sd) -> str:
    if not np.isfinite(mean):
        return ""
    return f"{fmt(mean)} ± {fmt(sd)}" if np.isfinite(sd) else fmt(mean)


def answer(v: pd.DataFrame) -> list[str]:
    """One sentence per dataset, source and fine-tuned target: at which sizes fine-tuning pays."""
    lines = []
    for (dataset, source, target), part in v.groupby(["dataset", "featurizer", "fine_tuned"], sort=False):
        pays = [str(s) for s in part.loc[part["verdict"] == PAYS, "train_size"]]
        worse = [str(s) for s in part.loc[part["verdict"] == FROZEN_BETTER, "train_size"]]
        text = f"{dataset}, {target} on {source}: "
        if not (part["frozen"] != "").any():
            lines.append(text + "no frozen target on this source to compare with")
            continue
        text += f"fine-tuning pays at {', '.join(pays)} examples" if pays else "fine-tuning pays at no size tested"
        if worse:
            text += f"; the best frozen target is better at {', '.join(worse)}"
        lines.append(text)
    return lines


def finetuning(document: doc.Document, a: Analysis, out: Output) -> None:
    """The frozen-against-fine-tuned section; nothing when no target fine-tunes."""
    if not a.finetuned:
        return
    metric = a.primary
    label = figures.metric_label(metric)
    tuned_rows = a.frame["target"].isin(a.finetuned)
    sources = order_of(a.frame[tuned_rows], "featurizer")
    document.add(doc.Heading("Frozen or fine-tuned"))
    document.add(doc.Paragraph(
        f"Targets that fine-tune their source model ({', '.join(f'`{t}`' for t in a.finetuned)}) beside the "
        f"frozen targets on the same model's features ({', '.join(sources)}), on the same training samples. "
        "Fine-tuning varies more from one training sample (and seed) to the next at small sizes; the spread "
        "figure shows by how much. Cost is seconds per cell (fitting and predicting); a frozen cell's seconds "
        "leave out featurization, done once per text and shared by every frozen cell (see Featurization "
        "cost below)."))
    part = a.frame[(a.frame["metric"] == metric) & a.frame["featurizer"].isin(sources)]
    if a.reference_source == "target":
        kept = part[part["target"].map(base_name) != MAJORITY_TARGET]
        part = kept if len(kept) else part
    layout = Layout(("target", *a.extra), "dataset", "featurizer")
    fig = figures.curves(part, layout, title=f"{a.name}: frozen and fine-tuned, per source model",
                         reference=a.reference)
    document.add(out.figure(
        f"finetune_{safe_stem(metric)}", fig,
        f"{label}: each panel one dataset and source model, one line per target (frozen features and "
        "fine-tuned model); mean over resamples with a 95% confidence band."))
    fig = figures.curves(part, layout, statistic="sd", ylabel=lambda name: f"sd of {name} across resamples",
                         title=f"{a.name}: spread across resamples, frozen and fine-tuned")
    document.add(out.figure(
        f"finetune_spread_{safe_stem(metric)}", fig,
        "Standard deviation of the score across resamples (training samples of the same size) for each "
        "frozen and fine-tuned target."))
    v = verdicts(a, metric)
    if v.empty:
        return
    if not (v["frozen"] != "").any():
        document.add(doc.Paragraph(
            "No frozen target shares a source featurizer with the fine-tuned ones, so nothing is tested; add "
            "a frozen target (e.g. `logreg`) on the same featurizer to answer the question.", kind="note"))
    family = ("the pairs of a fine-tuned and a frozen target of one dataset, source, size and metric"
              if a.family is None else "every test in this report")
    document.add(doc.Heading("At which sizes fine-tuning pays", 3))
    for line in answer(v):
        document.add(doc.Paragraph(line))
    document.add(doc.Paragraph(
        f"Each fine-tuned target against the frozen target with the best mean on the same source at that size: "
        "the mean ± sd over resamples of each, their difference, and a two-sided paired Wilcoxon signed-rank "
        f"test over the shared resamples, Holm-corrected over {family}. 'fine-tuning pays' means the "
        f"fine-tuned target is significantly better at α = {a.alpha:g} after correction; n.s. means no "
        "difference could be shown with these resamples. The frozen target is chosen by its mean at each size, "
        "so the comparison is with the strongest frozen choice, not a fixed one."))
    table = _rows(a, metric, v)
    document.add(doc.Table(table, f"{label}: fine-tuned against the best frozen target", muted=_muted(table, v)))
    out.text("finetune.csv", v.to_csv(index=False))
    full = a.finetune_tests
    if full is not None and len(full):
        out.text("significance_finetune.csv", full.to_csv(index=False))


def _muted(table: pd.DataFrame, v: pd.DataFrame) -> pd.DataFrame:
    muted = pd.DataFrame(False, index=table.index, columns=table.columns)
    not_sig = ~v["verdict"].isin([PAYS, FROZEN_BETTER]).to_numpy()
    for column in ("FT − frozen", "p", "p (Holm)", "verdict"):
        muted[column] = not_sig
    return muted
