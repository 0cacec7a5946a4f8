"""Labels as figures show them: short, wrapped, and still telling every line apart.

A configuration's label can be long: a model folder given by path (``hf-encoder(path=/srv/
models/.../run07)``), several parameters, pair options. In a figure a path parameter shows
its last folder name, a label wraps at :data:`WIDTH` characters on at most :data:`LINES`
lines (the middle elided with "…", so its start and its end stay), and when two labels would
read the same they are shown whole (wrapped, never cut). Tables and CSV files keep the full
labels: figures only abbreviate.
"""

from __future__ import annotations

import re

WIDTH = 28   # characters per line of a legend entry or tick label
LINES = 3    # lines per label at most
ELLIPSIS = "…"

# a parameter value that is a path: after "(", "," or "=", starting with /, ~, ./, ../ or C:\
_PATH_VALUE = re.compile(r"(?<=[=(,])\s*((?:/|~|\.{1,2}[/\\]|[A-Za-z]:[\\/])[^,()]*)")
# where a line may break: after these characters
_BREAK = re.compile(r"[^\s,·(/=_\-:]*[\s,·(/=_\-:]*")


def shorten_paths(label: str) -> str:
    """``hf-encoder(path=/a/b/mymodel)`` -> ``hf-encoder(path=mymodel)``; a label that is a path -> its name."""
    def name(match: re.Match) -> str:
        value = match.group(1).rstrip("/\\")
        return re.split(r"[/\\]", value)[-1] or value

    text = label.strip()
    if re.fullmatch(r"(?:/|~|\.{1,2}[/\\]|[A-Za-z]:[\\/])[^()]*", text):
        return re.split(r"[/\\]", text.rstrip("/\\"))[-1] or text
    return _PATH_VALUE.sub(name, text)


def wrap(text: str, width: int = WIDTH, lines: int | None = LINES) -> str:
    """``text`` on lines of at most ``width`` characters, broken after spaces and punctuation
    where it can be (inside a word where it must); with more than ``lines`` lines the middle
    goes and "…" marks where."""
    pieces = [p for p in _BREAK.findall(text) if p]
    out: list[str] = []
    current = ""
    for piece in pieces:
        while len(piece) > width:  # a word longer than a line: break it
            room = width - len(current)
            if room <= 0:
                out.append(current)
                current, room = "", width
            current += piece[:room]
            piece = piece[room:]
            out.append(current)
            current = ""
        if len(current) + len(piece.rstrip()) > width and current:
            out.append(current)
            current = ""
        current += piece
    if current:
        out.append(current)
    out = [line.rstrip() for line in out if line.strip()]
    if lines is not None and len(out) > lines:
        tail = out[-1]
        keep = out[:lines - 1]
        if len(tail) + 1 > width:
            tail = tail[-(width - 1):]
        out = [*keep, ELLIPSIS + tail]
    return "\n".join(out) if out else text


def display(labels, width: int = WIDTH, lines: int | None = LINES) -> dict[str, str]:
    """Each label as a figure shows it, distinct labels staying distinct: a label whose short
    form another label shares is shown whole (wrapped) instead."""
    labels = list(dict.fromkeys(labels))
    shown = {label: wrap(shorten_paths(label), width, lines) for label in labels}
    for _ in range(2):
        counts: dict[str, int] = {}
        for text in shown.values():
            counts[text] = counts.get(text, 0) + 1
        clashes = [label for label, text in shown.items() if counts[text] > 1]
        if not clashes:
            return shown
        for label in clashes:  # first without the path shortening, then not cut at all
            shown[label] = wrap(label, width, lines if _ == 0 else None)
    return shown


def line_count(text: str) -> int:
    return text.count("\n") + 1
