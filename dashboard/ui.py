"""Layout helpers shared by the pages: headers, empty states, KPI tiles, chart display."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import streamlit as st
from hitlgov.dashboard import access, cells, data, filters
from hitlgov.dashboard.literal import md  # noqa: F401 - re-exported for the pages
from hitlgov.dashboard.filters import View
from hitlgov.ingest import running
from hitlgov.metrics import inventory

from hitlgov import formats as fmt
from hitlgov.errors import HitlgovError

CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
                "toImageButtonOptions": {"format": "png", "scale": 2}}
STATUS_BADGE = {"pass": ":green-badge[PASS]", "warn": ":orange-badge[WARN]", "fail": ":red-badge[FAIL]"}


def policy_path() -> str | None:
    """The policy file the dashboard evaluates (``$HITLGOV_POLICY``), else the shipped default."""
    return os.environ.get("HITLGOV_POLICY") or None


LAYOUT_CSS = (Path(__file__).resolve().parent / "assets" / "layout.css").read_text(encoding="utf-8")


def page(title: str, intro: str, *, needs_data: bool = True, refuse: bool = True) -> View:
    """Title, one-line purpose and the active filter; stops the page when there is nothing to show,
    or (unless ``refuse`` is false: the page calls :func:`refuse_untrustworthy` itself) when the
    store does not hold what was ingested."""
    st.html(f"<style>{LAYOUT_CSS}</style>")  # the shipped stylesheet only (static, no data)
    # server side, again: the page's own file decides (a hidden page opened by URL never gets further)
    caller = sys._getframe(1).f_globals.get("__file__") or ""
    access.require_page(Path(caller).stem)
    view = filters.current()
    st.title(title)
    st.markdown(f"<p style='color:#475569;margin-top:-0.6rem'>{intro}</p>", unsafe_allow_html=True)
    if view.ok:
        st.caption(f"Showing {md(view.describe())}")
        notice = view.period_notice()
        if notice:  # the default period is named, so nobody mistakes a quarter for the whole log
            st.caption(md(notice) + " Widen it with the Period control in the sidebar.",
                       help="The dashboard and `hitlgov report` default to the last full calendar quarter of the "
                            "system's log; `hitlgov metrics` to the whole log.")
    busy = ingestion_banner(view)
    if view.status == "ok":
        read_window_banner()
    if not needs_data:
        return view
    if view.status == "unavailable" and busy:
        st.stop()  # the banner said why (the commit holds the store for a moment): no misleading advice
    if view.status == "unavailable":
        st.error(view.message or "The store cannot be opened.")
        st.info("Start the dashboard on an existing store (`hitlgov serve --db FILE`), or create one with "
                "`make demo` / `hitlgov ingest`.")
        st.stop()
    if view.status == "empty":
        st.info("The store holds no decisions yet. Ingest a decision log on the **Data** page or with "
                "`hitlgov ingest FILE`, then come back here.")
        st.stop()
    if refuse:
        refuse_untrustworthy(view)
    return view


def refuse_untrustworthy(view: View, *, stop: bool = True) -> None:
    """No figures from a store that does not hold what was ingested (a duplicated row, an
    in-place file changed since registration): one line naming the table and key, as the CLI
    and the reports say it, then the page stops. ``hitlgov verify`` gives the full picture."""
    try:
        problems = data.integrity_problems(view.db)
    except HitlgovError as exc:
        st.error(str(exc))
        st.stop()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        st.error(f"The store does not hold what was ingested: {md(problems[0])}{more}. No figures are shown from "
                 "it; run `hitlgov verify` for the full list.", icon=":material/gpp_bad:")
        if stop:
            st.stop()


def ingestion_banner(view: View) -> bool:
    """While an ingestion runs on this store, say so and give the time of the data shown.

    Staging happens outside the store, so every page keeps reading the last committed data; a
    reader must know that it is not the newest (:mod:`hitlgov.ingest.running`). Only while the
    run commits is the store briefly locked; the page then says that instead of an error."""
    busy = running.in_progress(view.db)
    if not busy:
        return False
    try:
        runs = data.try_call(inventory.ingestion_runs, limit=1) if view.status != "unavailable" else []
    except Exception:  # noqa: BLE001 - the banner must not break the page it explains
        runs = []
    as_of = (f"showing data as of {fmt.when(runs[0]['finished_at'])} UTC (run {runs[0]['run_id']}, the last "
             "committed ingestion)") if runs else "no ingestion has been committed yet"
    what = md(running.describe(busy))
    if view.status == "unavailable":
        st.info(f"{what[0].upper()}{what[1:]}: the store is being committed to and is locked for a moment; "
                "reload this page in a few seconds.", icon=":material/sync:")
    else:
        st.info(f"{what[0].upper()}{what[1:]}; {as_of}. The figures change when it is committed.",
                icon=":material/sync:")
    return True


def read_window_banner() -> None:
    """Stored rows every figure leaves out (timestamps outside 1970-2262, from an older version's
    ingestion) are counted and named, never silently omitted (:func:`inventory.outside_read_window`)."""
    try:
        notice = inventory.read_window_notice(data.try_call(inventory.outside_read_window))
    except Exception:  # noqa: BLE001 - the notice must not break the page it qualifies
        return
    if notice:
        st.warning(md(notice[0].upper() + notice[1:]) + ".", icon=":material/visibility_off:")


def require_cases(view: View, what: str = "cases") -> dict:
    """The counts in the filter; stop with a plain message when no case matches."""
    counts = data.call(inventory.counts, view.filter)
    if not counts["cases"]:
        st.info(f"No {what} match the filters ({md(view.describe())}). Widen the period, or choose another "
                "model version or segment.")
        st.stop()
    return counts


def chart(fig, *, key: str | None = None) -> None:
    st.plotly_chart(fig, width="stretch", config=CHART_CONFIG, key=key)


def section(title: str, caption: str | None = None) -> None:
    st.subheader(title)
    if caption:
        st.caption(caption)


def kpi(container, label: str, value: str, *, delta: str | None = None, help: str | None = None,
        delta_color: str = "normal", delta_description: str | None = None, delta_arrow: str = "auto") -> None:
    container.metric(label, value, delta=delta, help=help, delta_color=delta_color, border=True,
                     delta_description=delta_description if delta is not None else None, delta_arrow=delta_arrow)


def empty(message: str) -> None:
    st.info(message)


#: a text longer than this is cut in a table column (Streamlit sizes a column to at most 500 px);
#: such a column is a detail column of its table (:func:`table`), read in full below it
LONG_TEXT_CHARS = 70


def table(rows, *, column_config: dict | None = None, height: int | str = "auto", key: str | None = None,
          column_order=None, details: dict[str, str] | None = None, row_label=None) -> None:
    """A table of rows (dicts or a DataFrame). A column with no value in any row -- a rate that
    needs a model decision in an annotation-only selection, an accuracy without outcomes -- is
    left out and named in a caption, instead of a column of empty "None" cells; a missing value
    in the other columns is a dash, explained in a caption (:mod:`hitlgov.dashboard.cells`).

    ``details`` ({column: label}) names columns whose texts can be longer than a column shows (a
    quarantined row's raw values, an audit event's detail): they are shown wide, the table's rows
    can be selected, and the selected row's texts are written out in full under the table as code
    blocks (plain text, never markup; JSON pretty-printed). ``row_label(row) -> str`` names the
    selected row there. ``key`` is required with ``details``."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    empty = [c for c in frame.columns if len(frame) and frame[c].isna().all()]
    if empty:
        frame = frame.drop(columns=empty)
        if column_order is not None:
            column_order = [c for c in column_order if c not in empty]
        names = [cells.column_label(c, (column_config or {}).get(c)) for c in empty]
        st.caption("Not shown, no value in this selection: " + md(", ".join(names)) + ".")
    details = {c: label for c, label in (details or {}).items() if c in frame.columns}
    if details:
        if key is None:
            raise ValueError("a table with detail columns needs a key (its row selection is read back)")
        column_config = dict(column_config or {})
        for c, label in details.items():
            column_config[c] = st.column_config.TextColumn(
                label, width="large", help=f"Long texts are cut here: select the row to read its {label.lower()} in "
                                           "full under the table.")
    source = frame
    frame, column_config, dashed = cells.readable(frame, column_config)
    event = st.dataframe(frame, hide_index=True, width="stretch", column_config=column_config, height=height,
                         key=key, column_order=column_order,
                         **({"on_select": "rerun", "selection_mode": "single-row"} if details else {}))
    if dashed:
        st.caption(f"{cells.DASH} : no value for that row (" + md(", ".join(dashed)) + ").")
    if details:
        _details(source, event, details, row_label)


def _details(frame: pd.DataFrame, event, details: dict[str, str], row_label) -> None:
    """The selected row's detail texts in full (see :func:`table`)."""
    selected = [i for i in (event.selection.rows if event is not None else []) if 0 <= i < len(frame)]
    names = " and ".join(label.lower() for label in details.values())
    if not selected:
        st.caption(f"Select a row (the box at its left) to read its {names} in full.")
        return
    row = frame.iloc[selected[0]]
    with st.container(border=True):
        title = row_label(row.to_dict()) if row_label else f"Row {selected[0] + 1}"
        st.markdown(f"**{md(title)}**")
        for c, label in details.items():
            st.caption(label)
            text, language = _full_text(row[c])
            st.code(text, language=language, wrap_lines=True)


def _full_text(value) -> tuple[str, str | None]:
    """``(text, code language)`` of one detail cell: JSON objects pretty-printed, anything else as it is."""
    import json

    if cells.is_missing(value):
        return cells.DASH, None
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2, ensure_ascii=False, default=str), "json"
    text = str(value)
    if text[:1] in "{[":
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False), "json"
        except ValueError:
            pass
    return text, None


def pct_column(label: str, help: str | None = None):
    """A column of rates shown as percentages; pair with :func:`as_percent` on the rows."""
    return st.column_config.NumberColumn(label, format="%.1f%%", help=help)


def as_percent(rows: list[dict], keys) -> list[dict]:
    """Rates (fractions) rescaled to percent for display in a :func:`pct_column` (sorting stays numeric)."""
    keys = set(keys)
    return [{k: (v * 100 if k in keys and isinstance(v, (int, float)) and not isinstance(v, bool) else v)
             for k, v in r.items()} for r in rows]


def fact(container, label: str, value: str, help: str | None = None) -> None:
    """A compact labelled value (for record details, where metric tiles would truncate)."""
    with container:
        st.caption(label, help=help)
        st.markdown(f"**{md(value)}**")


def num_column(label: str, fmt_: str = "localized", help: str | None = None):
    return st.column_config.NumberColumn(label, format=fmt_, help=help)


def delta_pp(delta: float | None) -> str | None:
    return fmt.pp(delta)


md_escape = md  # one escaping rule for text from the data: hitlgov.dashboard.literal.md
