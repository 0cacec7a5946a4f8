"""What goes on lines, facet rows and facet columns, and how each line looks."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from enso.errors import ConfigError
from enso.report.results import DIMENSIONS, order_of

log = logging.getLogger(__name__)

NONE = "none"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 3)), (0, (3, 1, 1, 1)))


@dataclass(frozen=True)
class Layout:
    """Dimensions of the results on lines, facet rows and facet columns.

    Every dimension with more than one value must be somewhere; one left out is added to
    the lines, so no two configurations are ever averaged into one curve.
    """

    lines: tuple[str, ...] = ("featurizer", "target")
    rows: str = "dataset"
    cols: str = "metric"

    def __post_init__(self):
        used = [*self.lines, *(d for d in (self.rows, self.cols) if d != NONE)]
        for name in used:
            if name not in DIMENSIONS:
                raise ConfigError(f"unknown dimension {name!r} for lines/rows/cols; "
                                  f"choose from {', '.join(DIMENSIONS)} (or '{NONE}' for rows/cols)")
        if len(set(used)) != len(used):
            raise ConfigError(f"a dimension appears twice in lines={list(self.lines)}, rows={self.rows}, "
                              f"cols={self.cols}; give each one place")
        if not self.lines:
            raise ConfigError("lines needs at least one dimension, e.g. featurizer,target")

    def resolved(self, frame: pd.DataFrame) -> "Layout":
        placed = {*self.lines, self.rows, self.cols}
        extra = tuple(d for d in DIMENSIONS if d not in placed and frame[d].nunique() > 1)
        if extra:
            log.info("results vary in %s; showing them as separate lines", ", ".join(extra))
        return Layout(tuple(self.lines) + extra, self.rows, self.cols)

    def facet_values(self, frame: pd.DataFrame, which: str) -> list[str]:
        dim = self.rows if which == "rows" else self.cols
        return [None] if dim == NONE else order_of(frame, dim)

    def line_keys(self, frame: pd.DataFrame) -> list[tuple[str, ...]]:
        return list(dict.fromkeys(frame[list(self.lines)].itertuples(index=False, name=None)))

    def varying_lines(self, frame: pd.DataFrame) -> tuple[str, ...]:
        """Line dimensions with more than one value; labels need only these."""
        varying = tuple(d for d in self.lines if frame[d].nunique() > 1)
        return varying or self.lines[:1]


def line_label(layout_lines: tuple[str, ...], key: tuple[str, ...], shown: tuple[str, ...]) -> str:
    values = dict(zip(layout_lines, key))
    return " · ".join(values[d] for d in shown)


class LineStyles:
    """Colour by the first line dimension; marker and dash by the rest.

    Lines of one featurizer share a colour and lines of one target share a marker and dash,
    so ten curves stay tellable apart, also in greyscale.
    """

    def __init__(self, layout: Layout, frame: pd.DataFrame):
        self.lines = layout.lines
        self.shown = layout.varying_lines(frame)
        keys = layout.line_keys(frame)
        self.keys = keys
        first = self.shown[0]
        rest = [d for d in self.shown[1:]]
        index = {d: i for i, d in enumerate(self.lines)}
        self._colour_of = {v: i for i, v in enumerate(dict.fromkeys(k[index[first]] for k in keys))}
        rest_values = list(dict.fromkeys(tuple(k[index[d]] for d in rest) for k in keys))
        self._style_of = {v: i for i, v in enumerate(rest_values)}
        self._index = index
        self._first = first
        self._rest = rest
        if not rest:  # one dimension on lines: vary the marker with the colour too
            self._style_of = None

    def palette(self):
        import matplotlib

        n = len(self._colour_of)
        name = "tab10" if n <= 10 else "tab20"
        colours = matplotlib.colormaps[name].colors
        return colours

    def style(self, key: tuple[str, ...]) -> dict:
        colours = self.palette()
        c = self._colour_of[key[self._index[self._first]]]
        if self._style_of is None:
            s = c
        else:
            s = self._style_of[tuple(key[self._index[d]] for d in self._rest)]
        return {"color": colours[c % len(colours)], "marker": MARKERS[s % len(MARKERS)],
                "linestyle": LINESTYLES[s % len(LINESTYLES)]}

    def label(self, key: tuple[str, ...]) -> str:
        return line_label(self.lines, key, self.shown)
