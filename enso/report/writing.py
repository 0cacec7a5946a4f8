"""Writing a report: figures, tables, report.md/.html, and report.json last.

Every file goes through a temporary name and a rename, so a reader never sees half of one;
a failure midway leaves the previous report as it was. Files an earlier report wrote and
this one does not (a figure of another size or format) are removed, unless someone changed
them since.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from enso.hashing import file_sha256
from enso.report import document as doc
from enso.report import figures
from enso.report.options import REPORT_MANIFEST
from enso.store import write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Report:
    """Where a report's files are."""

    html: Path
    markdown: Path
    figures: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.html.parent


class Output:
    """What the sections produce: figures (drawn, written at the end) and text files."""

    def __init__(self, folder: Path, fmt: str):
        self.folder = folder
        self.fmt = fmt
        self.rendered: list[tuple[Path, object, str]] = []  # (path, figure, svg)
        self.texts: list[tuple[Path, str]] = []

    def figure(self, stem: str, fig, caption: str) -> doc.Figure:
        path = self.folder / f"{stem}.{self.fmt}"
        svg = figures.svg_text(fig, salt=stem)
        self.rendered.append((path, fig, svg))
        return doc.Figure(stem, svg, path, caption)

    def text(self, name: str, content: str) -> None:
        self.texts.append((self.folder / name, content))

    def close(self) -> None:
        for _, fig, _ in self.rendered:
            figures.close(fig)

    def write(self, document: doc.Document, manifest: dict) -> Report:
        """Write every file, then report.json (``manifest`` plus the files and their sha256)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        figure_paths = []
        try:
            for path, fig, svg in self.rendered:
                if self.fmt == "svg":  # already drawn for the HTML: write that drawing
                    write_text_atomic(path, '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n' + svg)
                else:
                    figures.save(fig, path, self.fmt)
                figure_paths.append(path)
        finally:
            self.close()
        table_paths = []
        for path, text in self.texts:
            write_text_atomic(path, text)
            table_paths.append(path)
        markdown = self.folder / "report.md"
        html = self.folder / "report.html"
        write_text_atomic(markdown, doc.to_markdown(document, self.folder))
        write_text_atomic(html, doc.to_html(document))
        written = [*figure_paths, *table_paths, markdown, html]
        remove_stale(self.folder, {p.name for p in written})
        write_json_atomic(self.folder / REPORT_MANIFEST, {
            **manifest,
            "figures": [p.name for p in figure_paths],
            "tables": [p.name for p in table_paths],
            "format": self.fmt,
            "files": {p.name: file_sha256(p) for p in written},
        })
        log.info("wrote %s, %s and %d figures", html, markdown, len(figure_paths))
        return Report(html, markdown, figure_paths, table_paths)


def remove_stale(folder: Path, keep: set[str]) -> None:
    """Delete files an earlier report wrote that this one does not, but only those still exactly
    as that report wrote them."""
    try:
        previous = json.loads((folder / REPORT_MANIFEST).read_text(encoding="utf-8")).get("files", {})
        previous = dict(previous)
    except (OSError, ValueError, AttributeError, TypeError):
        return
    for name, digest in previous.items():
        path = folder / str(name)
        if name in keep or path.parent != folder or not path.is_file():
            continue
        if file_sha256(path) == digest:
            path.unlink()
            log.debug("removed %s from an earlier report", path)
        else:
            log.info("kept %s: changed since an earlier report wrote it", path)
