"""CSV exports that a spreadsheet cannot execute (OWASP "CSV Injection").

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be read
by Excel, LibreOffice or Google Sheets as a formula (``=HYPERLINK(...)``, ``=cmd|...``). Such
cells are prefixed with a single quote, which spreadsheets show as text; numbers stay numbers
(only text cells are touched). Log fields such as rationales and quarantined raw rows come from
outside the organisation, so every export from the dashboard goes through :func:`to_csv`.
"""
from __future__ import annotations

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """``value`` with a leading single quote if it is text that starts like a formula."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell neutralised (column names too)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def to_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with BOM, so spreadsheets detect the encoding) of the neutralised frame."""
    return neutralise(df).to_csv(index=False).encode("utf-8-sig")
