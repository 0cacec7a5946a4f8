"""Facet grids of learning curves, spreads and bars, drawn with matplotlib's Agg backend."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from enso.report.layout import NONE, Layout, LineStyles
from enso.report.stats import higher_is_better, summarize

PANEL_WIDTH = 4.3
PANEL_HEIGHT = 3.1


def band_alpha(n_lines: int) -> float:
    """Fainter bands when many overlap, so the lines stay readable."""
    return min(0.12, 0.45 / max(n_lines, 1))


_METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro F1", "micro_f1": "micro F1",
                 "roc_auc": "ROC AUC (macro, one-vs-rest)", "macro_roc_auc": "macro ROC AUC (one-vs-rest)",
                 "roc_auc_ovr": "macro ROC AUC (one-vs-rest)", "log_loss": "log loss", "mcc": "Matthews corr. coef."}


_BOUNDS = {"accuracy": (0.0, 1.0), "macro_f1": (0.0, 1.0), "micro_f1": (0.0, 1.0), "roc_auc": (0.0, 1.0),
           "macro_roc_auc": (0.0, 1.0), "roc_auc_ovr": (0.0, 1.0), "mcc": (-1.0, 1.0), "log_loss": (0.0, None)}


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
    """Inches to leave right of the panels for a legend with these labels."""
    longest = max([len(label) for label in labels] + [len(title)] + [8])
    return 0.9 + 0.068 * longest


LEGEND_ROW = 0.2  # inches per legend entry
LEGEND_MAX_ROWS = 30


def legend_columns(n_entries: int) -> int:
    return max(1, -(-n_entries // LEGEND_MAX_ROWS))


def _grid(plt, n_rows: int, n_cols: int, extra_width: float = 2.6, n_entries: int = 0):
    height = PANEL_HEIGHT * n_rows + 0.4
    rows_needed = -(-n_entries // legend_columns(n_entries)) if n_entries else 0
    height = max(height, LEGEND_ROW * rows_needed + 1.0)  # the legend must fit beside the panels
    width = PANEL_WIDTH * n_cols + extra_width * legend_columns(n_entries)
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False, sharex=True, layout="constrained",
                             figsize=(width, height))
    return fig, axes


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


def _panel_title(layout: Layout, row, col) -> str:
    parts = []
    for dim, value in ((layout.rows, row), (layout.cols, col)):
        if value is not None and dim != "metric":
            parts.append(value)
    return " · ".join(parts)


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
               handlelength=4.0, ncols=legend_columns(len(handles)))


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
    labels = [styles.label(key) for key in styles.keys]
    if statistic == "mean" and reference is not None and not reference.empty:
        labels.append(REFERENCE_LABEL)  # room for it in the legend, should a panel draw it
    fig, axes = _grid(plt, len(rows), len(cols), legend_width(labels, " · ".join(styles.shown)), len(labels))
    sizes = frame["train_size"].unique()
    drew_reference = False
    for i, j, row, col, part in _facets(summary, layout):
        ax = axes[i][j]
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
        panel_title = _panel_title(layout, row, col)
        if panel_title:
            ax.set_title(panel_title)
        metric = _panel_metric(layout, row, col, part)
        name = metric_label(metric) if metric else "score"
        ax.set_ylabel(ylabel(name) if ylabel else name)
        if i == len(rows) - 1:
            ax.set_xlabel("training examples (log scale)")
        if part.empty:
            ax.text(0.5, 0.5, "no results", transform=ax.transAxes, ha="center", va="center", color="0.5")
    handles = [Line2D([], [], label=styles.label(key), linewidth=1.6, markersize=5, **styles.style(key))
               for key in styles.keys]
    if drew_reference:
        handles.append(Line2D([], [], label=REFERENCE_LABEL, **REFERENCE_STYLE))
    _legend(fig, styles, handles)
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    return fig


def bars(frame: pd.DataFrame, layout: Layout, size: int, *, title: str = ""):
    """Mean with 95% CI at one training size: groups by the first line dimension, bars by the rest."""
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
    fig, axes = _grid(plt, len(rows), len(cols),
                      legend_width([" · ".join(h) for h in hues], " · ".join(rest)) if rest else 0.3,
                      len(hues) if rest else 0)
    import matplotlib

    palette = matplotlib.colormaps["tab10" if len(hues) <= 10 else "tab20"].colors
    width = 0.8 / max(len(hues), 1)
    group_colour = {k[layout.lines.index(first)]: styles.style(k)["color"] for k in styles.keys}
    for i, j, row, col, part in _facets(summary, layout):
        ax = axes[i][j]
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
            for x, m, c in zip(xs, means, bar_colours):
                # on a patch of the bar's colour, so an error bar running through stays behind the value
                ax.text(x, m / 2 if m > 0 else 0, f"{m:.3f}", rotation=90, ha="center", va="center",
                        fontsize=6.5, color="white" if m > 0 else "0.2", zorder=5,
                        bbox={"facecolor": c, "edgecolor": "none", "pad": 1.2} if m > 0 else None)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=20 if len(groups) > 3 else 0, ha="right" if len(groups) > 3 else "center")
        ax.tick_params(axis="x", labelbottom=True)
        ax.grid(True, axis="y", color="0.9")
        ax.set_axisbelow(True)
        panel_title = _panel_title(layout, row, col)
        if panel_title:
            ax.set_title(panel_title)
        metric = _panel_metric(layout, row, col, part)
        ax.set_ylabel(metric_label(metric) if metric else "score")
        if i == len(rows) - 1:
            ax.set_xlabel(first)
    if rest:
        handles = [Patch(color=palette[h % len(palette)], label=" · ".join(hue)) for h, hue in enumerate(hues)]
        fig.legend(handles=handles, loc="outside right upper", title=" · ".join(rest), frameon=False,
                   ncols=legend_columns(len(handles)))
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
