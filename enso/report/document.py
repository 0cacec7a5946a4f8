"""A report as a list of blocks, rendered to self-contained HTML and to Markdown."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str
    kind: str = ""  # "note" for a caveat box


@dataclass
class Table:
    """Display strings; ``strong`` and ``muted`` are boolean frames of the same shape."""

    frame: pd.DataFrame
    caption: str = ""
    strong: pd.DataFrame | None = None
    muted: pd.DataFrame | None = None
    header: bool = True


@dataclass
class Figure:
    name: str
    svg: str
    file: Path
    caption: str = ""


@dataclass
class Document:
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks) -> None:
        self.blocks.extend(blocks)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1d1d1f;background:#fff;max-width:1180px;margin:2rem auto;padding:0 1.5rem;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2.4rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
h3{margin-top:1.6rem}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.86rem}
th,td{border:1px solid #d6d6d6;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f3f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafafa}
td strong{color:#0b5394}td.muted{color:#8a8a8a;font-style:italic}
caption{caption-side:top;text-align:left;font-weight:600;padding:.3rem 0}
figure{margin:1rem 0 2rem}figure svg{width:100%;height:auto}
figcaption{font-size:.88rem;color:#444;margin-top:.3rem}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem .8rem}
nav ul{columns:2}code{background:#f3f4f6;padding:0 .2rem}
"""


_NUMBER = re.compile(r"^[<>]?-?\d+(\.\d+)?(e-?\d+)?( ± \d+(\.\d+)?)?( \(test ±\d+(\.\d+)?\))?"
                     r"( \(\d+ won\))?( †)?$")


def _is_number(text: str) -> bool:
    """A number, a mean ± sd (with its test-set interval, and † when flagged), or a rank with its
    wins: right-aligned in tables."""
    return bool(_NUMBER.match(text.strip()))


def _numeric_columns(frame: pd.DataFrame) -> list[bool]:
    """Columns whose every non-empty cell is a number (right-aligned)."""
    out = []
    for j in range(frame.shape[1]):
        values = [str(v) for v in frame.iloc[:, j] if str(v) not in ("", "–")]
        out.append(bool(values) and all(_is_number(v) for v in values))
    return out


def to_html(document: Document) -> str:
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(document.title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           f"<h1>{esc(document.title)}</h1>"]
    headings = [b for b in document.blocks if isinstance(b, Heading) and b.level == 2]
    nav = "<nav><ul>" + "".join(f'<li><a href="#{_anchor(h.text)}">{esc(h.text)}</a></li>'
                                for h in headings[1:]) + "</ul></nav>"
    for block in document.blocks:
        if len(headings) > 1 and block is headings[1]:  # the contents follow the opening summary
            out.append(nav)
        if isinstance(block, Heading):
            out.append(f'<h{block.level} id="{_anchor(block.text)}">{esc(block.text)}</h{block.level}>')
        elif isinstance(block, Paragraph):
            css = f' class="{block.kind}"' if block.kind else ""
            out.append(f"<p{css}>{_inline_html(block.text)}</p>")
        elif isinstance(block, Table):
            out.append(_table_html(block))
        elif isinstance(block, Figure):
            caption = f"<figcaption>{_inline_html(block.caption)}</figcaption>" if block.caption else ""
            out.append(f'<figure id="fig-{_anchor(block.name)}">{block.svg}{caption}</figure>')
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _anchor(text: str) -> str:
    return "".join(c.lower() if c.isalnum() else "-" for c in text).strip("-")


def _inline_html(text: str) -> str:
    """Escape, then turn `code` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _table_html(table: Table) -> str:
    esc = html.escape
    frame = table.frame
    rows = ["<table>"]
    if table.caption:
        rows.append(f"<caption>{esc(table.caption)}</caption>")
    if table.header:
        rows.append("<thead><tr>" + "".join(f"<th>{esc(str(c))}</th>" for c in frame.columns) + "</tr></thead>")
    rows.append("<tbody>")
    numeric = _numeric_columns(frame)
    for i in range(len(frame)):
        cells = []
        for j, column in enumerate(frame.columns):
            text = str(frame.iat[i, j])
            classes = []
            if numeric[j]:
                classes.append("num")
            if table.muted is not None and bool(table.muted.iat[i, j]):
                classes.append("muted")
            content = esc(text)
            if table.strong is not None and bool(table.strong.iat[i, j]):
                content = f"<strong>{content}</strong>"
            css = f' class="{" ".join(classes)}"' if classes else ""
            tag = "th" if not table.header and j == 0 else "td"
            cells.append(f"<{tag}{css}>{content}</{tag}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def to_markdown(document: Document, folder: Path) -> str:
    out = [f"# {document.title}", ""]
    for block in document.blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            out += [("> " if block.kind else "") + block.text, ""]
        elif isinstance(block, Table):
            out += markdown_table(block) + [""]
        elif isinstance(block, Figure):
            relative = block.file.relative_to(folder).as_posix() if block.file.is_relative_to(folder) else str(block.file)
            if block.file.suffix.lower() in (".png", ".svg"):
                out.append(f"![{block.name.replace('_', ' ')}]({relative})")
            else:
                out.append(f"[{block.name} ({block.file.suffix[1:].upper()})]({relative})")
            if block.caption:
                out += ["", f"*{block.caption}*"]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def markdown_table(table: Table) -> list[str]:
    frame = table.frame

    def cell(i: int, j: int) -> str:
        text = str(frame.iat[i, j]).replace("|", "\\|")
        if table.strong is not None and bool(table.strong.iat[i, j]) and text:
            text = f"**{text}**"
        return text

    lines = []
    if table.caption:
        lines += [f"**{table.caption}**", ""]
    header = [str(c).replace("|", "\\|") if table.header else " " for c in frame.columns]
    lines.append("| " + " | ".join(header) + " |")
    aligns = ["---:" if numeric else "---" for numeric in _numeric_columns(frame)]
    lines.append("| " + " | ".join(aligns) + " |")
    for i in range(len(frame)):
        lines.append("| " + " | ".join(cell(i, j) for j in range(frame.shape[1])) + " |")
    return lines
