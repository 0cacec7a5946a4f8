"""What goes on lines, facet rows and facet columns, and how each line looks."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from enso.errors import ConfigError
from enso.report.results import DIMENSIONS, order_of

log = logging.getLogger(__name__)

NONE = "none"
MAX_COLOURS = 10
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

    def resolved(self, frame: pd.DataFrame) -> Layout:
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
    """Colour for most line dimensions, marker and dash for the one with fewest values.

    With featurizer x target lines, the dimension with fewer values (often the target)
    gets marker and dash and the other gets colour, so ten curves are told apart by up to
    ten colours and a few dash patterns, also in greyscale. With one dimension on lines,
    colour and marker both change from line to line.
    """

    def __init__(self, layout: Layout, frame: pd.DataFrame):
        self.lines = layout.lines
        self.shown = layout.varying_lines(frame)
        self.keys = layout.line_keys(frame)
        index = {d: i for i, d in enumerate(self.lines)}
        self._index = index
        if len(self.shown) == 1:
            self._colour_dims, self._style_dims = list(self.shown), []
        else:
            counts = {d: len({k[index[d]] for k in self.keys}) for d in self.shown}
            by_count = sorted(reversed(self.shown), key=lambda d: counts[d])  # fewest first, ties: last
            style = [by_count.pop(0)]
            # more than ten colours are hard to tell apart: move dimensions to marker and dash
            while (len(by_count) > 1 and self._combos(by_count) > MAX_COLOURS
                   and self._combos([*style, by_count[0]]) <= len(MARKERS)):
                style.append(by_count.pop(0))
            self._colour_dims = [d for d in self.shown if d in by_count]
            self._style_dims = [d for d in self.shown if d in style]
        self._colour_of = self._numbering(self._colour_dims)
        self._style_of = self._numbering(self._style_dims) if self._style_dims else None

    def _combos(self, dims: list[str]) -> int:
        return len({tuple(k[self._index[d]] for d in dims) for k in self.keys})

    def _numbering(self, dims: list[str]) -> dict:
        values = dict.fromkeys(tuple(k[self._index[d]] for d in dims) for k in self.keys)
        return {v: i for i, v in enumerate(values)}

    def _part(self, key: tuple[str, ...], dims: list[str]) -> tuple:
        return tuple(key[self._index[d]] for d in dims)

    @property
    def n_colours(self) -> int:
        return len(self._colour_of)

    def palette(self):
        import matplotlib

        return matplotlib.colormaps["tab10" if self.n_colours <= 10 else "tab20"].colors

    def style(self, key: tuple[str, ...]) -> dict:
        colours = self.palette()
        c = self._colour_of[self._part(key, self._colour_dims)]
        s = c if self._style_of is None else self._style_of[self._part(key, self._style_dims)]
        return {"color": colours[c % len(colours)], "marker": MARKERS[s % len(MARKERS)],
                "linestyle": LINESTYLES[s % len(LINESTYLES)]}

    def label(self, key: tuple[str, ...]) -> str:
        return line_label(self.lines, key, self.shown)
