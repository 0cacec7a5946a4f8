"""Facet grids of learning curves, spreads and bars, drawn with matplotlib's Agg backend."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from enso.report import labels as shown_labels
from enso.report.layout import NONE, Layout, LineStyles
from enso.report.stats import higher_is_better, summarize

PANEL_WIDTH = 4.3
PANEL_HEIGHT = 3.1


def band_alpha(n_lines: int) -> float:
    """Fainter bands when many overlap, so the lines stay readable."""
    return min(0.12, 0.45 / max(n_lines, 1))


_METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro F1", "micro_f1": "micro F1",
                 "roc_auc": "ROC AUC (macro, one-vs-rest)", "macro_roc_auc": "macro ROC AUC (one-vs-rest)",
                 "roc_auc_ovr": "macro ROC AUC (one-vs-rest)", "log_loss": "log loss", "mcc": "Matthews corr. coef.",
                 "f1": "F1 (positive class)", "span_f1": "span F1", "span_precision": "span precision",
                 "span_recall": "span recall", "token_accuracy": "token accuracy"}


_BOUNDS = {"accuracy": (0.0, 1.0), "macro_f1": (0.0, 1.0), "micro_f1": (0.0, 1.0), "roc_auc": (0.0, 1.0),
           "macro_roc_auc": (0.0, 1.0), "roc_auc_ovr": (0.0, 1.0), "mcc": (-1.0, 1.0), "log_loss": (0.0, None),
           "f1": (0.0, 1.0), "span_f1": (0.0, 1.0), "span_precision": (0.0, 1.0), "span_recall": (0.0, 1.0),
           "token_accuracy": (0.0, 1.0)}


def metric_bounds(metric: str | None) -> tuple[float | None, float | None]:
    """The range a metric can take, where known: intervals are drawn inside it."""
    return _BOUNDS.get((metric or "").lower(), (None, None))


def _clip(values: np.ndarray, metric: str | None) -> np.ndarray:
    low, high = metric_bounds(metric)
    return np.clip(values, low if low is not None else -np.inf, high if high is not None else np.inf)


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10,
                         "axes.labelsize": 9, "legend.fontsize": 8.5, "legend.title_fontsize": 9,
                         "axes.spines.top": False, "axes.spines.right": False,
                         # user text (names, labels) is never mathtext: '$^$' would not parse
                         "text.parse_math": False})
    return plt


def metric_label(metric: str) -> str:
    name = _METRIC_NAMES.get(metric.lower(), metric.replace("_", " "))
    return name if higher_is_better(metric) else f"{name} (lower is better)"


def legend_width(labels: list[str], title: str = "") -> float:
    """Inches to leave right of the panels for one legend column with these (wrapped) labels."""
    longest = max([len(line) for label in labels for line in label.split("\n")] + [len(title)] + [8])
    return 0.9 + 0.068 * longest


LEGEND_LINE = 0.15    # inches per line of a legend entry (8.5 pt text)
LEGEND_ENTRY = 0.07   # inches between legend entries
LEGEND_MAX_HEIGHT = 9.0  # inches: a taller legend gets another column
MAX_FACET_COLS = 4    # facet columns per row; more wrap onto further rows
TITLE_WIDTH = 44      # characters per line of a panel title


def legend_height(labels: list[str]) -> float:
    """Inches one legend column with these (wrapped) labels needs, its title included."""
    if not labels:
        return 0.0
    return 0.55 + sum(LEGEND_LINE * shown_labels.line_count(label) + LEGEND_ENTRY for label in labels)


def legend_columns(labels: list[str] | int) -> int:
    """Legend columns for these labels (or this many one-line entries): one more per
    LEGEND_MAX_HEIGHT inches."""
    if isinstance(labels, int):
        labels = ["x"] * labels
    return max(1, int(-(-legend_height(labels) // LEGEND_MAX_HEIGHT))) if labels else 1


def _grid(plt, n_rows: int, n_cols: int, extra_width: float = 2.6, legend: list[str] | None = None,
          panel_width: float = PANEL_WIDTH, panel_height: float = PANEL_HEIGHT):
    """The figure and its panels, sized for them and for a legend of ``legend`` on the right."""
    legend = legend or []
    columns = legend_columns(legend) if legend else 1
    height = panel_height * n_rows + 0.6
    if legend:  # the legend must fit beside the panels
        height = max(height, legend_height(legend) / columns + 0.8)
    width = panel_width * n_cols + (extra_width * columns if legend else extra_width)
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False, sharex=True, layout="constrained",
                             figsize=(width, height))
    return fig, axes


def facet_grid(n_rows: int, n_cols: int) -> tuple[int, int, int]:
    """Grid rows and columns for n_rows x n_cols facets, wrapping more than MAX_FACET_COLS columns:
    (grid rows, grid columns, grid rows per facet row)."""
    if n_cols <= MAX_FACET_COLS:
        return n_rows, n_cols, 1
    per = -(-n_cols // MAX_FACET_COLS)
    return n_rows * per, MAX_FACET_COLS, per


def _position(i: int, j: int, n_cols: int) -> tuple[int, int]:
    """Where facet (i, j) sits in the wrapped grid."""
    if n_cols <= MAX_FACET_COLS:
        return i, j
    per = -(-n_cols // MAX_FACET_COLS)
    return i * per + j // MAX_FACET_COLS, j % MAX_FACET_COLS


def _finish_grid(axes, used: set[tuple[int, int]]) -> None:
    """Hide grid cells no facet uses; the panels above them show their x tick labels."""
    n_rows, n_cols = len(axes), len(axes[0])
    for r in range(n_rows):
        for c in range(n_cols):
            if (r, c) not in used:
                axes[r][c].set_visible(False)
            elif r + 1 < n_rows and (r + 1, c) not in used:
                axes[r][c].tick_params(axis="x", labelbottom=True)


def _bottom(axes, used: set[tuple[int, int]], r: int, c: int) -> bool:
    """Whether no used panel sits below (r, c): its x axis gets the label."""
    return not any((below, c) in used for below in range(r + 1, len(axes)))


def _facets(frame: pd.DataFrame, layout: Layout):
    rows = layout.facet_values(frame, "rows")
    cols = layout.facet_values(frame, "cols")
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            part = frame
            if row is not None:
                part = part[part[layout.rows] == row]
            if col is not None:
                part = part[part[layout.cols] == col]
            yield i, j, row, col, part


def _panel_title(layout: Layout, row, col, what: str | None = None) -> str:
    """The facet's values, then ``what`` the panel shows (the metric), wrapped to the panel's width."""
    parts = []
    for dim, value in ((layout.rows, row), (layout.cols, col)):
        if value is not None and dim != "metric":
            parts.append(shown_labels.shorten_paths(value))
    if what:
        parts.append(what)
    return shown_labels.wrap(" · ".join(parts), TITLE_WIDTH, 2)


def _panel_metric(layout: Layout, row, col, frame: pd.DataFrame) -> str | None:
    if layout.rows == "metric":
        return row
    if layout.cols == "metric":
        return col
    metrics = frame["metric"].unique()
    return metrics[0] if len(metrics) == 1 else None


def _size_axis(ax, sizes) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    sizes = sorted(set(int(s) for s in sizes))
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    formatter = ScalarFormatter()
    formatter.set_scientific(False)
    ax.xaxis.set_major_formatter(formatter)
    ax.xaxis.set_minor_locator(NullLocator())
    low, high = min(sizes), max(sizes)
    ax.set_xlim(low / 1.25, high * 1.25)


def _legend(fig, styles: LineStyles, handles) -> None:
    title = " · ".join(styles.shown)
    fig.legend(handles=handles, loc="outside right upper", title=title, frameon=False,
               handlelength=4.0, ncols=legend_columns([h.get_label() for h in handles]))


REFERENCE_STYLE = {"color": "0.35", "linestyle": (0, (6, 2, 1, 2)), "linewidth": 1.3, "marker": ""}
REFERENCE_LABEL = "majority class (reference)"


def _reference_line(ax, reference: pd.DataFrame | None, part: pd.DataFrame) -> bool:
    """Draw the majority-class score of the panel's one dataset and metric; False if it has none
    (or the panel mixes datasets or metrics, where one reference would mislead)."""
    if reference is None or reference.empty or part.empty:
        return False
    datasets, metrics = part["dataset"].unique(), part["metric"].unique()
    if len(datasets) != 1 or len(metrics) != 1:
        return False
    line = reference[(reference["dataset"] == datasets[0]) & (reference["metric"] == metrics[0])]
    line = line[line["train_size"].isin(part["train_size"].unique())].sort_values("train_size")
    if line.empty:
        return False
    ax.plot(line["train_size"].to_numpy(), line["value"].to_numpy(), zorder=4, clip_on=True, **REFERENCE_STYLE)
    return True


def curves(frame: pd.DataFrame, layout: Layout, *, statistic: str = "mean", title: str = "",
           ylabel=None, reference: pd.DataFrame | None = None):
    """Lines over training size, one per line key; the mean with its 95% CI band, or the sd.

    ``reference`` (dataset, metric, train_size, value) is drawn in each panel that holds one
    dataset and one metric, as the majority-class line.
    """
    plt = pyplot()
    from matplotlib.lines import Line2D

    layout = layout.resolved(frame)
    styles = LineStyles(layout, frame)
    keys = [*layout.lines, *(d for d in (layout.rows, layout.cols) if d != NONE)]
    keys = [*keys, *(["metric"] if "metric" not in keys else []), "train_size"]
    summary = summarize(frame, keys)
    rows = layout.facet_values(frame, "rows")
    cols = layout.facet_values(frame, "cols")
    names = shown_labels.display([styles.label(key) for key in styles.keys])
    labels = [names[styles.label(key)] for key in styles.keys]
    if statistic == "mean" and reference is not None and not reference.empty:
        labels.append(REFERENCE_LABEL)  # room for it in the legend, should a panel draw it
    grid_rows, grid_cols, _ = facet_grid(len(rows), len(cols))
    fig, axes = _grid(plt, grid_rows, grid_cols, legend_width(labels, " · ".join(styles.shown)), labels)
    used = {_position(i, j, len(cols)) for i in range(len(rows)) for j in range(len(cols))}
    sizes = frame["train_size"].unique()
    drew_reference = False
    for i, j, row, col, part in _facets(summary, layout):
        r, c = _position(i, j, len(cols))
        ax = axes[r][c]
        if statistic == "mean":
            drew_reference |= _reference_line(ax, reference, part)
        for key in styles.keys:
            mask = np.ones(len(part), dtype=bool)
            for dim, value in zip(layout.lines, key):
                mask &= (part[dim] == value).to_numpy()
            line = part[mask].sort_values("train_size")
            if line.empty:
                continue
            style = styles.style(key)
            x = line["train_size"].to_numpy()
            y = line[statistic].to_numpy()
            # an sd of exactly 0 (the same score on every resample) sits on the axis: keep its marker whole
            ax.plot(x, y, color=style["color"], marker=style["marker"], linestyle=style["linestyle"],
                    linewidth=1.6, markersize=4.5, clip_on=statistic != "sd", zorder=3)
            if statistic == "mean":
                metric = line["metric"].iloc[0]
                low, high = _clip(line["ci_low"].to_numpy(), metric), _clip(line["ci_high"].to_numpy(), metric)
                if np.isfinite(low).any():
                    ax.fill_between(x, low, high, color=style["color"], alpha=band_alpha(len(styles.keys)),
                                    linewidth=0)
        _size_axis(ax, sizes)
        if statistic == "sd":
            ax.set_ylim(bottom=0)
        ax.grid(True, which="major", color="0.9", linewidth=0.8)
        ax.set_axisbelow(True)
        metric = _panel_metric(layout, row, col, part)
        name = metric_label(metric) if metric else "score"
        panel_title = _panel_title(layout, row, col, (ylabel(name) if ylabel else name) if metric else None)
        if panel_title:
            ax.set_title(panel_title)
        ax.set_ylabel(ylabel(name) if ylabel else name)
        if _bottom(axes, used, r, c):
            ax.set_xlabel("training examples (log scale)")
        if part.empty:
            ax.text(0.5, 0.5, "no results", transform=ax.transAxes, ha="center", va="center", color="0.5")
    _finish_grid(axes, used)
    handles = [Line2D([], [], label=names[styles.label(key)], linewidth=1.6, markersize=5, **styles.style(key))
               for key in styles.keys]
    if drew_reference:
        handles.append(Line2D([], [], label=REFERENCE_LABEL, **REFERENCE_STYLE))
    _legend(fig, styles, handles)
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    return fig


def bars(frame: pd.DataFrame, layout: Layout, size: int, *, title: str = ""):
    """Mean with 95% CI at one training size: groups by the first line dimension, bars by the rest.

    Panels widen with the number of bars; group names are shortened and wrapped
    (:mod:`enso.report.labels`) and stand upright when they would not fit side by side.
    """
    plt = pyplot()
    from matplotlib.patches import Patch

    frame = frame[frame["train_size"] == size]
    layout = layout.resolved(frame)
    styles = LineStyles(layout, frame)
    facet_dims = [d for d in (layout.rows, layout.cols) if d != NONE]
    keys = [*layout.lines, *facet_dims]
    summary = summarize(frame, [*keys, *(["metric"] if "metric" not in keys else [])])
    first = styles.shown[0]
    rest = [d for d in styles.shown[1:]]
    groups = list(dict.fromkeys(k[layout.lines.index(first)] for k in styles.keys))
    hues = list(dict.fromkeys(tuple(k[layout.lines.index(d)] for d in rest) for k in styles.keys))
    rows = layout.facet_values(frame, "rows")
    cols = layout.facet_values(frame, "cols")
    group_names = shown_labels.display(groups, width=18)
    hue_names = shown_labels.display([" · ".join(h) for h in hues])
    legend = [hue_names[" · ".join(h)] for h in hues] if rest else []
    n_bars = len(groups) * max(len(hues), 1)
    panel_width = max(PANEL_WIDTH, 0.9 + 0.22 * n_bars, 0.9 + 0.5 * len(groups))
    slot = (panel_width - 0.9) / max(len(groups), 1)  # inches per group
    upright = any(len(line) * 0.075 > slot for name in group_names.values() for line in name.split("\n"))
    tick_height = (max(len(line) for name in group_names.values() for line in name.split("\n")) * 0.075
                   if upright else 0.16 * max(shown_labels.line_count(n) for n in group_names.values()))
    grid_rows, grid_cols, _ = facet_grid(len(rows), len(cols))
    fig, axes = _grid(plt, grid_rows, grid_cols,
                      legend_width(legend, " · ".join(rest)) if rest else 0.3, legend,
                      panel_width=panel_width, panel_height=PANEL_HEIGHT + tick_height)
    used = {_position(i, j, len(cols)) for i in range(len(rows)) for j in range(len(cols))}
    import matplotlib

    palette = matplotlib.colormaps["tab10" if len(hues) <= 10 else "tab20"].colors
    width = 0.8 / max(len(hues), 1)
    group_colour = {k[layout.lines.index(first)]: styles.style(k)["color"] for k in styles.keys}
    for i, j, row, col, part in _facets(summary, layout):
        r, c = _position(i, j, len(cols))
        ax = axes[r][c]
        for h, hue in enumerate(hues):
            xs, means, errs, gs = [], [], [], []
            for g, group in enumerate(groups):
                mask = part[first] == group
                for dim, value in zip(rest, hue):
                    mask &= part[dim] == value
                cell = part[mask]
                if cell.empty:
                    continue
                gs.append(g)
                xs.append(g - 0.4 + width * (h + 0.5))
                mean = float(cell["mean"].iloc[0])
                means.append(mean)
                metric = cell["metric"].iloc[0]
                low, high = _clip(cell[["ci_low", "ci_high"]].to_numpy(dtype=float)[0], metric)
                errs.append((mean - low, high - mean))
            if not xs:
                continue
            colour = [palette[h % len(palette)] if rest else group_colour[groups[g]] for g in gs]
            errs_arr = np.nan_to_num(np.asarray(errs, dtype=float).T, nan=0.0)  # (2, n): below, above
            ax.bar(xs, means, width=width * 0.92, color=colour, yerr=errs_arr, capsize=2,
                   error_kw={"elinewidth": 0.9, "ecolor": "0.25"})
            bar_colours = colour if isinstance(colour, list) else [colour] * len(xs)
            for x, m, c_ in zip(xs, means, bar_colours):
                # on a patch of the bar's colour, so an error bar running through stays behind the value
                ax.text(x, m / 2 if m > 0 else 0, f"{m:.3f}", rotation=90, ha="center", va="center",
                        fontsize=6.5, color="white" if m > 0 else "0.2", zorder=5,
                        bbox={"facecolor": c_, "edgecolor": "none", "pad": 1.2} if m > 0 else None)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([group_names[g] for g in groups], rotation=90 if upright else 0,
                           ha="center", va="top", fontsize=8)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.tick_params(axis="x", labelbottom=True)
        ax.grid(True, axis="y", color="0.9")
        ax.set_axisbelow(True)
        metric = _panel_metric(layout, row, col, part)
        name = metric_label(metric) if metric else "score"
        panel_title = _panel_title(layout, row, col, name if metric else None)
        if panel_title:
            ax.set_title(panel_title)
        ax.set_ylabel(name)
        if _bottom(axes, used, r, c):
            ax.set_xlabel(first)
    _finish_grid(axes, used)
    if rest:
        handles = [Patch(color=palette[h % len(palette)], label=hue_names[" · ".join(hue)])
                   for h, hue in enumerate(hues)]
        fig.legend(handles=handles, loc="outside right upper", title=" · ".join(rest), frameon=False,
                   ncols=legend_columns(legend))
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    return fig


def svg_text(fig, salt: str) -> str:
    """The figure as an inline ``<svg>`` element whose ids all start with ``salt``.

    Several figures share one HTML page, so every id (and every reference to one) gets
    the figure's prefix, keeping ids unique and clip paths pointing at their own figure.
    """
    import re

    plt = pyplot()
    buffer = io.StringIO()
    with plt.rc_context({"svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.find("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    prefix = f"{salt}-"
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', text)


def save(fig, path: Path, fmt: str) -> Path:
    """Write the figure to ``path`` (the report writes it under a temporary name, then renames it)."""
    metadata = {"Date": None} if fmt in ("svg",) else ({"CreationDate": None} if fmt == "pdf" else {})
    fig.savefig(path, format=fmt, dpi=150, metadata=metadata)
    return path


def close(fig) -> None:
    pyplot().close(fig)
