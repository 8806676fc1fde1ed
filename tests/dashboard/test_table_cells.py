"""No "None", "nan", "NaT" or "<NA>" in a dashboard table, and no header long enough to be cut
(issue 15).

Streamlit's dataframe is drawn on a canvas, so the browser's DOM cannot see a cell. What is
checked instead is what Streamlit is given, read back through AppTest: the DataFrame of every
``st.dataframe`` on every page (on the demo store and on an annotation-only store) holds no missing
value and no cell spelled like one, and every column header -- its configured label -- is short
enough for Streamlit's automatic column width (columns are sized to fit their header up to
500 px, checked in Chromium at 1024 px; no column sets a narrower width). What the check cannot
see: how the canvas paints the cell, and columns scrolled out of view in a wide table.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import streamlit as st

import dashboard_helpers as helpers
from hitlgov.dashboard import cells
from test_annotation_only_pages import store
from test_dashboard import assert_clean, open_app

pytestmark = pytest.mark.xdist_group("dashboard")

#: a header this long still fits the 500 px Streamlit gives a column at most (~7 px a character)
MAX_HEADER_CHARS = 60


# -- the rule, on hand-made frames -----------------------------------------------------------------

def test_missing_cells_become_dashes_in_the_columns_format():
    frame = pd.DataFrame({
        "reviewer": ["r1", None, "r3"],
        "rate": [12.345, np.nan, 3.0],
        "count": pd.array([1, None, 1234], dtype="Int64"),
        "when": pd.to_datetime(["2026-01-02 03:04:05", None, "2026-02-01 00:00:00"]),
        "flag": [True, None, False],
        "full": [0.5, 0.25, 1.0],  # no gap: keeps its type
    })
    config = {"rate": st.column_config.NumberColumn("Override rate", format="%.1f%%", help="why"),
              "count": st.column_config.NumberColumn("Reviews", format="localized"),
              "when": st.column_config.DatetimeColumn("Reviewed at"), "flag": "Escalated"}
    out, cfg, dashed = cells.readable(frame, config)
    assert list(out["reviewer"]) == ["r1", "—", "r3"]
    assert list(out["rate"]) == ["12.3%", "—", "3.0%"]
    assert list(out["count"]) == ["1", "—", "1,234"]
    assert list(out["when"]) == ["2026-01-02 03:04:05", "—", "2026-02-01 00:00:00"]
    assert list(out["flag"]) == ["yes", "—", "no"]
    assert out["full"].tolist() == [0.5, 0.25, 1.0] and "full" not in cfg
    assert cfg["rate"]["label"] == "Override rate" and cfg["rate"]["help"] == "why"
    assert cfg["rate"]["type_config"]["type"] == "text" and cfg["rate"]["alignment"] == "right"
    assert cfg["flag"] == "Escalated"  # a text column keeps its label-only configuration
    assert dashed == ["reviewer", "Override rate", "Reviews", "Reviewed at", "Escalated"]
    assert frame["rate"].isna().sum() == 1  # the caller's frame is not changed


def test_a_frame_without_gaps_is_passed_through():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    out, cfg, dashed = cells.readable(frame, None)
    assert out.equals(frame) and cfg is None and dashed == []


# -- every table of every page -----------------------------------------------------------------------

def _problems(at, page: str) -> list[str]:
    found = []
    for i, el in enumerate(at.dataframe):
        frame = el.value
        for name in frame.columns:
            col = frame[name]
            missing = int(col.isna().sum())
            if missing:
                found.append(f"{page} table {i} column {name!r}: {missing} missing cell(s)")
            words = [v for v in col.astype(object) if isinstance(v, str) and v.strip() in cells.MISSING_WORDS]
            if words:
                found.append(f"{page} table {i} column {name!r}: cells {words[:3]}")
            floats = [v for v in col.astype(object) if isinstance(v, float) and math.isnan(v)]
            if floats:
                found.append(f"{page} table {i} column {name!r}: NaN")
        config = json.loads(el.proto.columns or "{}")
        for name in frame.columns:
            label = ((config.get(f"col:{name}") or config.get(str(name)) or {}).get("label")) or str(name)
            if len(label) > MAX_HEADER_CHARS:
                found.append(f"{page} table {i}: header {label!r} is {len(label)} characters")
            width = (config.get(f"col:{name}") or config.get(str(name)) or {}).get("width")
            if width not in (None, "large"):
                found.append(f"{page} table {i}: column {label!r} is set to width {width!r}")
    return found


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return helpers.demo_store(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def annotation_only_db(tmp_path_factory):
    return store(tmp_path_factory, "real_test_export_yolo_data.json")


@pytest.mark.parametrize("which", ["demo", "annotation_only"])
def test_no_table_on_any_page_shows_a_missing_word(which, demo_db, annotation_only_db, monkeypatch):
    db = demo_db if which == "demo" else annotation_only_db
    problems, tables = [], 0
    for view, _url, title, _chart in helpers.PAGES:
        query = {"system": "consumer-credit"} if which == "demo" else None
        at = open_app(db, monkeypatch, page=None if view == "overview.py" else view, query=query)
        assert_clean(at)
        tables += len(at.dataframe)
        problems += _problems(at, title)
    assert tables >= (12 if which == "demo" else 4), tables  # the check saw the tables it is about
    assert not problems, "\n".join(problems)
