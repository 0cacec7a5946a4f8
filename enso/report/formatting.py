"""How numbers, p-values and lists read in the report's text and tables."""

from __future__ import annotations

import numpy as np


def fmt(value, digits: int = 3) -> str:
    """A number with ``digits`` decimals; empty for a missing one."""
    return "" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def fmt_p(value) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def listing(items, limit: int = 4, total: int | None = None, what: str = "others") -> str:
    """``a, b, c`` or, when long, ``4 of the 7 others``."""
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return f"{len(items)} of the {total if total is not None else len(items)} {what}"


def safe_stem(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
