"""The report stage: learning curves, comparisons, leaderboards and significance tests.

``build_report(experiment, workspace)`` reads ``results/<experiment>/results.parquet`` and
writes figures, CSV and Markdown tables, ``report.html`` (self-contained) and ``report.md``
beside it. matplotlib is imported only when figures are drawn.
"""

from enso.report.build import FORMATS, Report, build_report

__all__ = ["FORMATS", "Report", "build_report"]
