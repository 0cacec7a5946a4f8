"""Writing a report: figures, tables, report.md/.html, and report.json last.

The report is a file set of the store (:func:`enso.store.write_fileset`): every file goes
through a temporary name and a rename, so a reader never sees half of one, and
``report.json``, the manifest with every file's size and sha256 and the report's key, is
removed first and written last, so a report that failed midway reads as absent (drawn again
next time) while the previous report.html and report.md stay as they were (they are written
after the figures and tables). Files an earlier report wrote and this one does not (a figure
of another size or format) are removed once the new report is in place, unless someone
changed them since.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from enso.hashing import file_sha256
from enso.report import document as doc
from enso.report import figures
from enso.report.options import REPORT_MANIFEST
from enso.store import write_fileset

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

    def write(self, document: doc.Document, key: str, meta: dict) -> Report:
        """Write every file, then report.json: ``key``, ``meta`` (plus the figures, tables and
        format) and each file's size and sha256."""
        self.folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, Callable[[Path], None]] = {}
        for path, fig, svg in self.rendered:
            files[path.name] = _figure_writer(fig, svg, self.fmt)
        for path, text in self.texts:
            files[path.name] = _text_writer(text)
        files["report.md"] = _text_writer(doc.to_markdown(document, self.folder))
        files["report.html"] = _text_writer(doc.to_html(document))
        figure_paths = [path for path, _, _ in self.rendered]
        table_paths = [path for path, _ in self.texts]
        previous = earlier_files(self.folder)  # read before write_fileset removes the old manifest
        try:
            write_fileset(self.folder, REPORT_MANIFEST, files, key=key, kind="report", meta={
                **meta, "figures": [p.name for p in figure_paths], "tables": [p.name for p in table_paths],
                "format": self.fmt})
        finally:
            self.close()
        remove_stale(self.folder, previous, set(files))
        html, markdown = self.folder / "report.html", self.folder / "report.md"
        log.info("wrote %s, %s and %d figures", html, markdown, len(figure_paths))
        return Report(html, markdown, figure_paths, table_paths)


def _figure_writer(fig, svg: str, fmt: str) -> Callable[[Path], None]:
    if fmt == "svg":  # already drawn for the HTML: write that drawing
        return _text_writer('<?xml version="1.0" encoding="utf-8" standalone="no"?>\n' + svg)
    return lambda path: figures.save(fig, path, fmt)


def _text_writer(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text, encoding="utf-8")


def earlier_files(folder: Path) -> dict[str, str]:
    """The files the report in ``folder`` lists (name: sha256), from its report.json; none if it has none.

    Reads today's manifest (``{"files": {name: {"sha256": ..., "size": ...}}}``) and the one of
    enso before the report became a store file set (``{"files": {name: sha256}}``).
    """
    try:
        listed = json.loads((folder / REPORT_MANIFEST).read_text(encoding="utf-8")).get("files", {})
        return {str(name): str(entry["sha256"] if isinstance(entry, dict) else entry)
                for name, entry in dict(listed).items()}
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return {}


def remove_stale(folder: Path, previous: dict[str, str], keep: set[str]) -> None:
    """Delete files an earlier report wrote (``previous``: name to sha256) that this one does not,
    but only those still exactly as that report wrote them."""
    for name, digest in previous.items():
        path = folder / name
        if name in keep or path.parent != folder or not path.is_file():
            continue
        if file_sha256(path) == digest:
            path.unlink()
            log.debug("removed %s from an earlier report", path)
        else:
            log.info("kept %s: changed since an earlier report wrote it", path)
