"""The colours of hitlgov: one palette for the dashboard's Plotly charts and the reports' matplotlib ones.

Colours are fixed per meaning so a reader can carry them from page to page and into a PDF: each
group of a sensitive attribute and each model version keeps its colour everywhere (assigned from
the sorted list of *all* values of the system, not of the current filter, so filtering never
repaints), the model's decision is always slate and the final decision teal, the reference
window grey and the current window orange, pass/warn/fail green/amber/red. It lives below both
consumers so neither imports the other.
"""
from __future__ import annotations

from typing import Iterable, Sequence

GROUP_PALETTE = ["#2563EB", "#E8710A", "#0E9F6E", "#C026D3", "#0891B2", "#CA8A04", "#DB2777",
                 "#4F46E5", "#65A30D", "#9333EA", "#0D9488", "#B45309"]
VERSION_PALETTE = ["#7C3AED", "#0284C7", "#059669", "#D97706", "#DC2626", "#475569"]
MODEL = "#64748B"
FINAL = "#0F766E"
REFERENCE = "#94A3B8"
CURRENT = "#F97316"
PRIMARY = "#1D4ED8"
SECONDARY = "#0F766E"
MUTED = "#CBD5E1"
AUTOMATED = "#94A3B8"
STATUS = {"pass": "#16A34A", "warn": "#D97706", "fail": "#DC2626", "n/a": "#94A3B8"}
FLAGGED = "#DC2626"
FONT = "Inter, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"


def color_map(domain: Iterable[str], palette: Sequence[str] = GROUP_PALETTE) -> dict[str, str]:
    """A stable colour per value: by position in the sorted domain."""
    return {v: palette[i % len(palette)] for i, v in enumerate(sorted({str(d) for d in domain}))}
