"""CSV exports that a spreadsheet cannot execute (OWASP "CSV Injection").

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be read
by Excel, LibreOffice or Google Sheets as a formula (``=HYPERLINK(...)``, ``=cmd|...``). Such
cells are prefixed with a single quote, which spreadsheets show as text; numbers stay numbers
(only text cells are touched). A formula can also hide *inside* a cell: a spreadsheet that splits
on ``;`` (most European locales) or tab reads ``note;=HYPERLINK(...)`` as two cells, the second
a formula. So every cell is quoted in the file, and a separator followed by a trigger gets the
same single quote after the separator. Log fields such as rationales and quarantined raw rows come from
outside the organisation, so every export from the dashboard goes through :func:`to_csv`.
"""
from __future__ import annotations

import csv
import re

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: where a spreadsheet may split a cell it reads: a new cell can start after each of these
SEPARATORS = (",", ";", "\t", "|", "\n", "\r")
_EMBEDDED = re.compile("([" + re.escape("".join(SEPARATORS)) + "])(?=[" + re.escape("".join(TRIGGERS)) + "])")


def neutralise_cell(value):
    """``value`` with a single quote before every place a formula could start: the beginning,
    and after any separator a spreadsheet might split on."""
    if not isinstance(value, str):
        return value
    value = _EMBEDDED.sub(r"\1'", value)
    if value.startswith(TRIGGERS):
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
    return neutralise(df).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8-sig")
