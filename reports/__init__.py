"""PDF reports an auditor can file: compliance (for auditors) and executive (two pages).

``build_report(db=..., start=..., end=..., system=..., kind=..., out_file=...)`` is what the CLI
(``hitlgov report``) and the dashboard's Reports page call; ``hitlgov.reports.build.render_report`` does
the work on an open :class:`~hitlgov.metrics.source.Source`; ``hitlgov.reports.verify.verify_report`` re-checks a
report against the store. See ``reports/README.md``.
"""
from __future__ import annotations

from hitlgov.reports.build import KINDS, ReportResult, build_report, render_report

__all__ = ["KINDS", "ReportResult", "build_report", "render_report"]
