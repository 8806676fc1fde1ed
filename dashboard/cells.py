"""Readable table cells: no ``None``, ``nan``, ``NaT`` or ``<NA>`` in a dashboard table.

Streamlit's dataframe draws a missing value as a grey "None" whatever the column's type, and a
Styler's ``na_rep`` does not reach those cells (checked in Chromium, Streamlit 1.67). A reader
takes "None" for a value -- "no reviewer", "rate zero" -- where it means "not defined here". So a
missing cell is written as :data:`DASH` instead, and the table's caption says what a dash means.

A text column simply gets the dash. A typed column (number, date-time, check box) cannot hold
text, so when -- and only when -- it has a missing cell it is written out as text in the format
its column configuration asks for (``%.1f%%``, ``localized``...), right-aligned like a number,
under the same label and help. Such a column then sorts as text; columns without a gap keep
their type. Columns with no value at all are left out before this (:func:`hitlgov.dashboard.ui.table`).
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

DASH = "—"  # "not defined for this row"
#: what a missing cell is never shown as (the tests read every table for these)
MISSING_WORDS = ("None", "nan", "NaN", "NaT", "<NA>", "null")


def column_label(name: str, config) -> str:
    """The header a column is shown under (its column_config label, else its name)."""
    if isinstance(config, str):
        return config
    if isinstance(config, dict) and config.get("label"):
        return str(config["label"])
    return str(name)


def _number(value: Any, fmt: str | None) -> str:
    """``value`` as Streamlit's NumberColumn would write it with ``fmt``."""
    if fmt and "%" in fmt and fmt not in ("percent",):
        try:
            return fmt % value
        except (TypeError, ValueError):
            pass
    if fmt == "percent":
        return f"{value * 100:,.2f}%"
    integral = float(value).is_integer()
    if fmt == "localized":
        return f"{value:,.0f}" if integral else f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{value:.0f}" if integral else f"{value:.4f}".rstrip("0").rstrip(".")


def _text(value: Any, kind: str | None, fmt: str | None) -> str:
    if _missing(value):
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and kind in (None, "number", "progress"):
        return _number(value, fmt)
    if isinstance(value, (pd.Timestamp,)) or hasattr(value, "isoformat"):
        text = value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
        return text[:19]
    return str(value)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, dict, tuple)) else False
    except (TypeError, ValueError):
        return False


is_missing = _missing  # for the pages' helpers (hitlgov.dashboard.ui)


def readable(frame: pd.DataFrame, column_config: dict | None) -> tuple[pd.DataFrame, dict | None, list[str]]:
    """``(frame, column_config, columns_with_dashes)``: every missing cell written as :data:`DASH`;
    a typed column with a gap turned into right-aligned text in its configured format."""
    import streamlit as st

    config = dict(column_config or {})
    out = frame.copy()
    dashed = []
    for name in frame.columns:
        gaps = frame[name].map(_missing)
        if not gaps.any():
            continue
        dashed.append(column_label(name, config.get(name)))
        cfg = config.get(name)
        type_config = (cfg.get("type_config") or {}) if isinstance(cfg, dict) else {}
        kind, fmt = type_config.get("type"), type_config.get("format")
        numeric = pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name])
        typed = kind not in (None, "text") or numeric or pd.api.types.is_datetime64_any_dtype(frame[name])
        out[name] = [_text(v, kind, fmt) for v in frame[name].astype(object)]
        if typed:
            config[name] = st.column_config.TextColumn(
                column_label(name, cfg), help=cfg.get("help") if isinstance(cfg, dict) else None,
                alignment="right" if (numeric or kind in ("number", "progress")) else None)
    return out, (config or column_config), dashed
