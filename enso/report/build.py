"""build_report: read an experiment's results and write its figures, tables and report.

The work is split by job: :mod:`enso.report.options` (what is asked, and whether an intact
report of it exists), :mod:`enso.report.analysis` (every number the report states),
:mod:`enso.report.sections` (the document, section by section) and
:mod:`enso.report.writing` (files, written through temporaries, report.json last).
"""

from __future__ import annotations

import logging
from pathlib import Path

from enso.errors import ConfigError
from enso.report import document as doc
from enso.report import sections
from enso.report.analysis import analyse
from enso.report.checks import dedupe, test_in_train
from enso.report.options import FORMATS, HOLM_FAMILIES, VIEWS_FOLDER, Options, current_report
from enso.report.results import experiment_name, load_table, per_type_of, run_description, split_per_type
from enso.report.significance import ALPHA
from enso.report.writing import Output, Report
from enso.store import Reuse, clean_temporaries, missing
from enso.workspace import Workspace

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "HOLM_FAMILIES", "Report", "build_report", "view_folder"]


def view_folder(experiment: str | Path, workspace: Workspace, **options) -> Path | None:
    """Where a filtered view of EXPERIMENT's report goes by default: ``results/<experiment>/views/
    <its options>/``; None for the full report (every option at its default), whose place is
    ``results/<experiment>/`` itself. ``options`` are :func:`build_report`'s."""
    name = Options.parse(**options).view_name()
    if not name:
        return None
    return workspace.results_dir(experiment_name(experiment, workspace)) / VIEWS_FOLDER / name


def build_report(experiment: str | Path, workspace: Workspace, *, fmt: str = "png",
                 datasets=None, featurizers=None, targets=None, metric=None,
                 lines=("featurizer", "target"), rows: str = "dataset", cols: str = "metric",
                 size: int | None = None, alpha: float = ALPHA, holm_family: str = "cell",
                 reuse: Reuse | str = Reuse.REUSE, out: str | Path | None = None) -> Report:
    """Write figures, CSV/Markdown tables, ``report.html`` and ``report.md`` into results/<experiment>/.

    ``metric`` is a name or a list of names; the first is the one the summary, comparisons
    and bar charts use (default: the first metric in the results). ``lines``, ``rows`` and
    ``cols`` place results dimensions on the learning-curve and variance grids. ``size`` is
    the training size of the bar charts (default: the largest). ``holm_family`` is ``cell``
    (correct over the featurizer pairs of one dataset, target, size and metric) or ``all``
    (over every test in the report).

    Results that do not match their manifest are refused (EnsoError). ``reuse``
    (:class:`enso.store.Reuse`): ``REUSE`` returns a report made from the same results with
    the same options whose files are all intact instead of drawing it again; ``RECOMPUTE``
    draws it again; ``ONLY_CACHED`` returns that report or fails with one line saying what to
    run.

    ``out`` is the folder the report goes to (default: ``results/<experiment>/``, the main
    report); a report elsewhere touches nothing in the main one. ``enso visualize`` sends a
    filtered view to :func:`view_folder` unless told ``--out``.
    """
    reuse = Reuse.parse(reuse)
    options = Options.parse(fmt=fmt, datasets=datasets, featurizers=featurizers, targets=targets, metric=metric,
                            lines=lines, rows=rows, cols=cols, size=size, alpha=alpha, holm_family=holm_family)
    name = experiment_name(experiment, workspace)
    results_folder = workspace.results_dir(name)
    folder = Path(out).expanduser().resolve() if out is not None else results_folder
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} is a file, not a folder")
    if folder.is_dir():
        clean_temporaries(folder)  # what a killed report (or experiment) left behind
    results = load_table(name, workspace)
    whole, per_type = split_per_type(results.frame)
    frame = options.selection.apply(whole)
    per_type = per_type_of(per_type, frame)
    sizes = sorted(frame["train_size"].unique())
    if size is not None and size not in sizes:
        raise ConfigError(f"--size {size} is not a training size in these results "
                          f"(sizes: {', '.join(map(str, sizes))})")
    bar_size = int(size if size is not None else sizes[-1])
    info = run_description(name, workspace)
    key = options.key(results.sha256, bar_size, info.get("description", ""),
                      run={"test_in_train": test_in_train(info), "dedupe": dedupe(info)})
    if reuse.reads:
        current = current_report(folder, key)
        if current is not None:
            log.info("the report in %s is up to date with results.parquet; --force draws it again", folder)
            return current
    if not reuse.computes:
        raise missing(f"a report of {name} with these options", f"enso visualize {name}",
                      reason="reuse=only-cached forbids drawing it")
    source = results_folder / "results.parquet"
    analysis = analyse(name, frame, options, info, source, results.sha256, results.verified, bar_size,
                       per_type=per_type)
    document = doc.Document(f"enso report: {name}")
    out = Output(folder, options.fmt)
    try:
        sections.all_sections(document, analysis, out)
    except BaseException:
        out.close()
        raise
    return out.write(document, key, {"experiment": name, "results_sha256": results.sha256})
