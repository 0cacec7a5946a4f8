"""What the run was, from run.json: featurization cost per featurizer, and the run's metadata
(versions, hardware, git commit, command); and the per-type scores of metrics with types
(``span_f1:PER`` rows), which stay out of every other section.

run.json is written by the experiment stage (enso.engine.provenance); anything in it not shaped
as that stage writes it is left out, never guessed.
"""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd

from enso.report import document as doc
from enso.report import figures
from enso.report.analysis import Analysis
from enso.report.formatting import fmt
from enso.report.results import order_of, per_type_name
from enso.report.writing import Output

VERSIONS_SHOWN = ("enso", "python", "numpy", "scipy", "scikit-learn", "pandas", "torch", "transformers",
                  "sentence-transformers", "setfit", "peft", "python-crfsuite", "matplotlib")


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float("nan")
    return float(value)


def _text(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def featurization_cost(document: doc.Document, a: Analysis) -> None:
    """Per featurizer in the report: seconds to featurize (and fit), model loading, texts per
    second, precision and device, as run.json's ``featurizers`` records them."""
    recorded = a.info.get("featurizers")
    if not isinstance(recorded, dict):
        return
    rows = []
    for label in order_of(a.frame, "featurizer"):
        entry = recorded.get(label)
        if not isinstance(entry, dict):
            continue
        seconds = _number(entry.get("seconds"))
        rows.append({"featurizer": label, "seconds": fmt(seconds, 2) if np.isfinite(seconds) else "–",
                     "model loading (s)": fmt(_number(entry.get("load_seconds")), 2) or "–",
                     "texts/s": fmt(_number(entry.get("texts_per_second")), 1) or "–",
                     "precision": _text(entry.get("precision")), "device": _text(entry.get("device")),
                     "id": _text(entry.get("id"))})
    if not rows:
        return
    document.add(doc.Heading("Featurization cost"))
    document.add(doc.Paragraph(
        "What computing each featurizer's features cost when the featurize stage computed them (stored since, "
        "and shared by every frozen target, size and resample): seconds featurizing and fitting summed over "
        "the datasets, model loading apart, texts per featurizing second, and the precision and device used. "
        "– where no features are stored (a featurizer only fine-tuning targets use). From run.json."))
    document.add(doc.Table(pd.DataFrame(rows)))


def run_metadata(document: doc.Document, a: Analysis) -> None:
    """Versions, hardware, git commit, command and timing of the run that wrote the results."""
    info = a.info
    facts: list[tuple[str, str]] = []
    command = info.get("command")
    if isinstance(command, list) and command:
        facts.append(("command", shlex.join(map(str, command))))
    for key, name in (("started", "started"), ("finished", "finished")):
        if isinstance(info.get(key), str):
            facts.append((name, info[key]))
    seconds = _number(info.get("seconds"))
    if np.isfinite(seconds):
        facts.append(("wall time", f"{seconds:,.1f} s"))
    jobs = info.get("jobs")
    if isinstance(jobs, int) and not isinstance(jobs, bool):
        threads = info.get("blas_threads_per_worker")
        scheduler = info.get("scheduler")
        facts.append(("workers", f"{jobs} job{'s' if jobs != 1 else ''}"
                      + (f", {threads} BLAS thread{'s' if threads != 1 else ''} each" if isinstance(threads, int)
                         else "") + (f", scheduler {scheduler}" if isinstance(scheduler, str) else "")))
    git = info.get("git")
    if isinstance(git, dict) and isinstance(git.get("commit"), str):
        facts.append(("git commit", git["commit"] + (" (with uncommitted changes)" if git.get("dirty") else "")))
    hardware = info.get("hardware")
    if isinstance(hardware, dict):
        parts = [str(hardware[k]) for k in ("processor", "machine") if hardware.get(k)]
        if isinstance(hardware.get("cpus"), int):
            parts.append(f"{hardware['cpus']} CPUs")
        memory = _number(hardware.get("memory_gb"))
        if np.isfinite(memory):
            parts.append(f"{memory:g} GB memory")
        if hardware.get("system"):
            parts.append(str(hardware["system"]))
        devices = sorted({str(e.get("device")) for e in (info.get("featurizers") or {}).values()
                          if isinstance(e, dict) and isinstance(e.get("device"), str)}) \
            if isinstance(info.get("featurizers"), dict) else []
        if devices:
            parts.append(f"featurized on {', '.join(devices)}")
        if parts:
            facts.append(("hardware", "; ".join(dict.fromkeys(parts))))
    versions = info.get("versions")
    if isinstance(versions, dict):
        shown = [f"{name} {versions[name]}" for name in VERSIONS_SHOWN if isinstance(versions.get(name), str)]
        if shown:
            facts.append(("versions", ", ".join(shown)))
    if isinstance(info.get("engine_version"), (int, str)) and not isinstance(info.get("engine_version"), bool):
        facts.append(("engine version", str(info["engine_version"])))
    if isinstance(info.get("status"), str):
        facts.append(("status", info["status"]))
    if not facts:
        return
    document.add(doc.Heading("Run metadata"))
    document.add(doc.Paragraph("The run that wrote these results, from run.json (every package version is there)."))
    document.add(doc.Table(pd.DataFrame({"fact": [f for f, _ in facts], "value": [v for _, v in facts]}),
                           header=False))


def per_type_scores(document: doc.Document, a: Analysis, out: Output) -> None:
    """Per-type values (span F1 per entity type) at the bar size: configurations x types, mean ± sd
    over resamples; every size in per_type.csv."""
    rows = a.per_type
    if rows is None or rows.empty:
        return
    named = rows.assign(parent=rows["metric"].map(lambda m: per_type_name(m)[0]),
                        type=rows["metric"].map(lambda m: per_type_name(m)[1]))
    named["configuration"] = a.label(named)
    summary = named.groupby(["dataset", "parent", "train_size", "configuration", "type"], sort=False)["value"].agg(
        mean="mean", sd="std", n="count").reset_index()
    document.add(doc.Heading("Scores per type"))
    document.add(doc.Paragraph(
        "Per-type scores (for span metrics: each entity type's F1, its spans scored as conlleval does), mean ± sd "
        f"over resamples at {a.bar_size} training examples (`--size` chooses; `per_type.csv` has every size). "
        "They describe where a configuration errs; the learning curves, ranks and tests use the metric over all "
        "types only."))
    for (dataset, parent), part in summary.groupby(["dataset", "parent"], sort=False):
        at = part[part["train_size"] == a.bar_size]
        size = a.bar_size
        if at.empty:  # this dataset lacks the bar size: its largest
            size = int(part["train_size"].max())
            at = part[part["train_size"] == size]
        types = sorted(at["type"].unique())
        confs = list(dict.fromkeys(at["configuration"]))
        table = pd.DataFrame({"configuration": confs})
        strong = pd.DataFrame(False, index=table.index, columns=["configuration", *types])
        for kind in types:
            cells = at[at["type"] == kind].set_index("configuration")
            values = []
            for conf in confs:
                if conf not in cells.index:
                    values.append("")
                    continue
                r = cells.loc[conf]
                values.append(f"{fmt(r['mean'])} ± {fmt(r['sd'])}" if np.isfinite(r["sd"]) else fmt(r["mean"]))
            table[kind] = values
            if len(cells):
                top = cells["mean"].max()
                strong[kind] = [bool(conf in cells.index and cells.loc[conf, "mean"] == top) for conf in confs]
        document.add(doc.Table(table, f"{dataset}: {figures.metric_label(parent)} per type at {size} training "
                                      "examples, mean ± sd over resamples", strong=strong))
    out.text("per_type.csv", summary.rename(columns={"parent": "metric"}).to_csv(index=False))
