"""What a report is asked for, checked before any work, and whether it is drawn already.

A report's key hashes its code, the package versions, the exact bytes of the results it
reads and every option; ``report.json`` beside the report records it with the sha256 of
every file written, so an intact report of the same key is not drawn again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from enso.errors import ConfigError
from enso.hashing import stable_hash, tree_sha256
from enso.report.layout import Layout
from enso.report.results import Selection
from enso.report.significance import ALPHA
from enso.store import package_versions

FORMATS = ("png", "svg", "pdf")
HOLM_FAMILIES = ("cell", "all")
REPORT_MANIFEST = "report.json"


@dataclass(frozen=True)
class Options:
    fmt: str = "png"
    selection: Selection = field(default_factory=Selection)
    layout: Layout = field(default_factory=Layout)
    size: int | None = None
    alpha: float = ALPHA
    holm_family: str = "cell"

    @classmethod
    def parse(cls, *, fmt="png", datasets=None, featurizers=None, targets=None, metric=None,
              lines=("featurizer", "target"), rows="dataset", cols="metric", size=None, alpha=ALPHA,
              holm_family="cell") -> Options:
        """Options from build_report's arguments (comma lists or sequences); ConfigError on a bad one."""
        if fmt not in FORMATS:
            raise ConfigError(f"unknown figure format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if holm_family not in HOLM_FAMILIES:
            raise ConfigError(f"holm_family must be one of {', '.join(HOLM_FAMILIES)}, got {holm_family!r}")
        if not 0 < alpha < 1:
            raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
        layout = Layout(tuple(as_list(lines)), rows, cols)
        selection = Selection(as_tuple(datasets), as_tuple(featurizers), as_tuple(targets), as_tuple(metric))
        return cls(fmt, selection, layout, size, float(alpha), holm_family)

    def key(self, results_sha256: str, bar_size: int, description: str, run: dict | None = None) -> str:
        """What this report depends on: code, versions, results, run.json and every option."""
        s = self.selection
        return stable_hash({
            "code": tree_sha256(Path(__file__).parent, "*.py"),
            "versions": package_versions(("enso", "matplotlib", "scipy", "pandas", "scikit-posthocs")),
            "results": results_sha256, "run": run or {}, "fmt": self.fmt, "datasets": s.datasets,
            "featurizers": s.featurizers, "targets": s.targets, "metrics": s.metrics,
            "layout": [list(self.layout.lines), self.layout.rows, self.layout.cols], "size": bar_size,
            "alpha": self.alpha, "holm_family": self.holm_family, "description": description,
        })


    def view_name(self) -> str:
        """The folder name of a filtered view: its options that differ from the full report's,
        e.g. ``datasets=SST2_size=50_svg``; "" for the full report (every option at its default)."""
        s, default = self.selection, Options()
        parts = [f"{what}={','.join(values)}" for what, values in
                 (("datasets", s.datasets), ("featurizers", s.featurizers), ("targets", s.targets),
                  ("metric", s.metrics)) if values]
        if self.size is not None:
            parts.append(f"size={self.size}")
        if self.layout.lines != default.layout.lines:
            parts.append(f"lines={','.join(self.layout.lines)}")
        if self.layout.rows != default.layout.rows:
            parts.append(f"rows={self.layout.rows}")
        if self.layout.cols != default.layout.cols:
            parts.append(f"cols={self.layout.cols}")
        if self.alpha != default.alpha:
            parts.append(f"alpha={self.alpha:g}")
        if self.holm_family != default.holm_family:
            parts.append(f"holm={self.holm_family}")
        if self.fmt != default.fmt:
            parts.append(self.fmt)
        text = "".join(c if c.isalnum() or c in "-_.,=+" else "_" for c in "_".join(parts))
        if len(text) > VIEW_NAME_MAX:  # a long list of names: its start and a digest of the whole
            text = f"{text[:VIEW_NAME_MAX - 13]}-{stable_hash(text, 12)}"
        return text


VIEW_NAME_MAX = 120
VIEWS_FOLDER = "views"


def as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    out: list[str] = []
    for item in value:
        out.extend(as_list(item))
    return out


def as_tuple(value) -> tuple[str, ...] | None:
    items = as_list(value)
    return tuple(items) if items else None


def current_report(folder: Path, key: str):
    """The report in ``folder`` if report.json (a store file set) has ``key`` and every file it
    lists is intact; ``None`` otherwise (an older enso's report.json too: it is drawn again)."""
    from enso.report.writing import Report
    from enso.store import MANIFEST_VERSION, read_fileset

    try:
        manifest = json.loads((folder / REPORT_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION:
        return None  # none, damaged, or written before the report was a file set: quietly absent
    if manifest.get("key") != key:
        return None  # a report of other results or options: drawn again, nothing to warn about
    stored = read_fileset(folder, REPORT_MANIFEST, key=key)
    if stored is None:
        return None
    try:
        meta = stored.meta
        return Report(folder / "report.html", folder / "report.md",
                      [folder / str(n) for n in meta["figures"]], [folder / str(n) for n in meta["tables"]])
    except (KeyError, TypeError):
        return None
