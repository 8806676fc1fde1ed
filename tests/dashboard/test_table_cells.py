"""No "None", "nan", "NaT" or "<NA>" in a dashboard table, no header long enough to be cut, and
no long text cut without a way to read it (issue 15).

Streamlit's dataframe is drawn on a canvas, so the browser's DOM cannot see a cell. What is
checked instead is what Streamlit is given, read back through AppTest: the DataFrame of every
``st.dataframe`` on every page (on the demo store and on an annotation-only store) holds no missing
value and no cell spelled like one; every column header -- its configured label -- is short
enough for Streamlit's automatic column width (columns are sized to fit their content up to
500 px, about 70 characters; no column sets a narrower width); and a column holding a text longer
than MAX_CELL_CHARS (a quarantined row's raw values, an audit event's detail: up to 3,334
characters on the demo) is a detail column of its table -- configured wide, the table's rows
selectable -- and selecting the row with its longest text writes that text out in full under the
table, as a code block (``hitlgov.dashboard.ui.table(details=...)``). What the check cannot see:
how the canvas paints the cell, and columns scrolled out of view in a wide table.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import streamlit as st

import dashboard_helpers as helpers
from hitlgov.dashboard import cells, ui
from test_annotation_only_pages import store
from test_dashboard import assert_clean, open_app

pytestmark = pytest.mark.xdist_group("dashboard")

#: a header this long still fits the 500 px Streamlit gives a column at most (~7 px a character)
MAX_HEADER_CHARS = 60
#: a text longer than this is cut at Streamlit's 500 px column width: it needs a detail view
MAX_CELL_CHARS = ui.LONG_TEXT_CHARS


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

def _problems(at, page: str, long_cells: list | None = None) -> list[str]:
    """What is wrong with the page's tables; every long text in a detail column is added to
    ``long_cells`` as (dataframe key, row, column, text) for :func:`_detail_problems`."""
    found = []
    for i, el in enumerate(at.dataframe):
        frame = el.value
        config = json.loads(el.proto.columns or "{}")
        modes = set(el.proto.selection_mode)  # a repeated field
        selectable = bool(modes & {el.proto.SelectionMode.SINGLE_ROW, el.proto.SelectionMode.MULTI_ROW})
        for name in frame.columns:
            lengths = frame[name].map(lambda v: len(v) if isinstance(v, str) else 0)
            if not len(lengths) or lengths.max() <= MAX_CELL_CHARS:
                continue
            width = (config.get(f"col:{name}") or config.get(str(name)) or {}).get("width")
            if width != "large" or not selectable or not el.key:
                found.append(f"{page} table {i} column {name!r}: a cell of {lengths.max()} characters is cut and the "
                             "table has no detail view (ui.table(details=...))")
            elif long_cells is not None:
                row = int(lengths.to_numpy().argmax())
                long_cells.append((el.key, row, name, frame[name].iloc[row]))
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
    problems, tables, long_cells = [], 0, 0
    for view, _url, title, _chart in helpers.PAGES:
        query = {"system": "consumer-credit"} if which == "demo" else None
        page = None if view == "overview.py" else view
        at = open_app(db, monkeypatch, page=page, query=query)
        assert_clean(at)
        tables += len(at.dataframe)
        found: list = []
        problems += _problems(at, title, found)
        for key, row, column, text in found:
            problems += _detail_problems(open_app(db, monkeypatch, page=page, query=query), title, key, row, column,
                                         text)
        long_cells += len(found)
    assert not problems, "\n".join(problems)
    assert tables >= (12 if which == "demo" else 4), tables  # the check saw the tables it is about
    if which == "demo":  # quarantine reason and raw values, the case's and the log's event details
        assert long_cells >= 3, long_cells


def _same_text(shown: str, text: str) -> bool:
    """``shown`` is ``text`` in full (a JSON text may be pretty-printed)."""
    if shown == text:
        return True
    try:
        return json.loads(shown) == json.loads(text)
    except ValueError:
        return False


def _detail_problems(at, page: str, key: str, row: int, column: str, text: str) -> list[str]:
    """Select ``row`` of the table ``key`` as a click would: its ``column`` must be written out in full."""
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert_clean(at)
    if any(_same_text(code.value, text) for code in at.code):
        return []
    return [f"{page} table {key!r}: selecting row {row} does not show its {column!r} ({len(text)} characters) in full"]


def test_a_detail_column_is_wide_and_the_selected_row_is_shown_in_full_as_plain_text(monkeypatch):
    """ui.table(details=...) on a hand-made page: the long column is wide, rows are selectable, no
    row selected = a caption saying how to read the texts; a selected row = its texts as code blocks
    (markup in the data stays text), JSON pretty-printed."""
    from streamlit.testing.v1 import AppTest

    def app():
        from hitlgov.dashboard import ui

        ui.table([{"id": "a", "raw": '{"note": "**not bold** <b>x</b>", "n": 1}', "why": "short"},
                  {"id": "b", "raw": "plain " * 30, "why": "x" * 200}],
                 key="t", details={"raw": "Raw values", "why": "Reason"}, row_label=lambda r: f"Row id {r['id']}")

    at = AppTest.from_function(app).run()
    assert not at.exception, at.exception
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["raw"]["width"] == "large" and config["why"]["width"] == "large"
    assert "Select a row" in at.caption[-1].value and not at.code
    at.session_state["t"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert [c.language for c in at.code] == ["json", "plaintext"]
    assert json.loads(at.code[0].value) == {"note": "**not bold** <b>x</b>", "n": 1}
    assert at.code[1].value == "short"
    assert "Row id a" in at.markdown[-1].value
    at.session_state["t"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert [c.value for c in at.code] == ["plain " * 30, "x" * 200]
