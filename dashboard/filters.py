"""The global sidebar filters, kept in the URL so a view can be shared.

Query string keys: ``system``, ``from`` and ``to`` (ISO dates; absent = the default period: the
last full calendar quarter of the system's log, else its whole log -- :mod:`hitlgov.metrics.periods`,
the same default as ``hitlgov report``), ``version`` (model version) and ``segment`` (``attribute=value``). A session starts
from the URL; afterwards the widgets (whose state lives in the session, so it survives page
switches, which clear the URL) write the URL back on every run. Pages may add their own keys;
only the filter keys are touched here.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import streamlit as st
from hitlgov.dashboard import data
from hitlgov.metrics import inventory, periods
from hitlgov.metrics.source import Filter

from hitlgov import formats as fmt
from hitlgov.errors import HitlgovError

KEYS = ("system", "from", "to", "version", "segment")
ALL_VERSIONS = "All versions"
EVERYONE = "Everyone"
_INIT = "_hitlgov_filters_from_url"
W_SYSTEM, W_PERIOD, W_VERSION, W_SEGMENT = "f_system", "f_period", "f_version", "f_segment"


@dataclass
class View:
    """What every page renders: the store, the selected system and the filter."""

    db: str
    status: str  # "ok" | "empty" (no cases) | "unavailable" (missing/locked/unreadable store)
    message: str | None = None
    filter: Filter | None = None
    system: dict | None = None  # system_catalog entry
    catalog: list[dict] = field(default_factory=list)
    context: dict = field(default_factory=dict)  # inventory.system_context
    period: tuple[dt.date, dt.date] | None = None  # the system's whole period
    notes: list[str] = field(default_factory=list)
    #: the default period of the system (last full quarter, else the whole log)
    default_period: periods.PeriodChoice | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        f = self.filter
        if f is None:
            return ""
        label = periods.quarter_label(f.start, f.end) if f.start and f.end else None
        parts = [f.system or "all systems", (f"{label}, " if label else "") + f"{fmt.day(f.start)} – {fmt.day(f.end)}",
                 f.model_version or ALL_VERSIONS.lower(),
                 f"{f.segment[0]} = {f.segment[1]}" if f.segment else EVERYONE.lower()]
        return " · ".join(parts)

    def period_notice(self) -> str | None:
        """What every page says about the period when it is the default one (the last full
        quarter, or the whole log when the log covers no whole quarter); None for a chosen period."""
        choice, f = self.default_period, self.filter
        if choice is None or f is None or (f.start, f.end) != (choice.start, choice.end):
            return None
        return choice.notice


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def default_system(catalog: list[dict]) -> str:
    """The first system (by name) that has human reviews, else the first system."""
    for s in catalog:
        if s.get("reviews"):
            return s["system"]
    return catalog[0]["system"]


def _from_url(catalog: list[dict]) -> list[str]:
    """Seed the widgets' session state from the query string, once per session."""
    ss, qp, notes = st.session_state, st.query_params, []
    names = [s["system"] for s in catalog]
    wanted = qp.get("system")
    if wanted and wanted not in names:
        notes.append(f"System '{wanted}' from the link is not in this store; showing {default_system(catalog)}.")
    ss[W_SYSTEM] = wanted if wanted in names else default_system(catalog)
    start, end = _date(qp.get("from")), _date(qp.get("to"))
    if (qp.get("from") and not start) or (qp.get("to") and not end):
        notes.append("The period in the link is not a valid date range; showing the default period.")
    if start or end:
        ss["_url_period"] = (start, end)
    if qp.get("version"):
        ss["_url_version"] = qp.get("version")
    if qp.get("segment"):
        ss["_url_segment"] = qp.get("segment")
    return notes


def _reset_dependents() -> None:
    for k in (W_PERIOD, W_VERSION, W_SEGMENT, "_url_period", "_url_version", "_url_segment"):
        st.session_state.pop(k, None)


def _reset_all() -> None:
    _reset_dependents()
    st.session_state.pop(W_SYSTEM, None)
    st.session_state[_INIT] = False
    for k in KEYS:
        if k in st.query_params:
            del st.query_params[k]


def system_period(system: dict) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(system["first"][:10]), dt.date.fromisoformat(system["last"][:10])



def _init_choice(ss, key: str, url_key: str, options: list[str], notes: list[str], *, unknown) -> None:
    """A select box's value before it is drawn: the URL's value on a first visit (with a note when
    the current system does not have it), else the current one, falling back to the first option
    ("all") when the options changed under it (another system chosen)."""
    if key not in ss:
        wanted = ss.pop(url_key, None)
        if wanted and wanted not in options:
            notes.append(unknown(wanted))
        ss[key] = wanted if wanted in options else options[0]
    elif ss[key] not in options:
        ss[key] = options[0]


def sidebar() -> View:
    """Render the filters in the sidebar and return the view every page uses."""
    db = data.db_path()
    ss = st.session_state
    try:
        catalog = data.try_call(inventory.system_catalog)
    except HitlgovError as exc:
        st.sidebar.error("The store cannot be opened.")
        view = View(db=db, status="unavailable", message=str(exc))
        ss["hitlgov_view"] = view
        return view
    if not catalog:
        st.sidebar.info("The store holds no decisions yet.")
        view = View(db=db, status="empty", message="The store holds no decisions yet.")
        _store_footer(view)
        ss["hitlgov_view"] = view
        return view

    notes: list[str] = []
    if not ss.get(_INIT):
        notes += _from_url(catalog)
        ss[_INIT] = True
    by_name = {s["system"]: s for s in catalog}
    if ss.get(W_SYSTEM) not in by_name:
        ss[W_SYSTEM] = default_system(catalog)

    sb = st.sidebar
    sb.markdown("**Filters**")
    name = sb.selectbox(
        "System", list(by_name), key=W_SYSTEM, on_change=_reset_dependents,
        format_func=lambda s: f"{s} ({by_name[s]['cases']:,} cases)",
        help="The AI system / use case. Defaults to the first system with human reviews.")
    system = by_name[name]
    lo, hi = system_period(system)
    context = data.call(inventory.system_context, system=name)

    # period: the last full quarter by default (else the whole log), widened in the control
    default = periods.default_period(lo, hi)
    if W_PERIOD not in ss:
        start, end = ss.pop("_url_period", (None, None))
        ss[W_PERIOD] = (start or lo, end or hi) if (start or end) else (default.start, default.end)
    period = tuple(ss[W_PERIOD]) if isinstance(ss[W_PERIOD], (tuple, list)) else (ss[W_PERIOD],)
    clamped = tuple(min(max(d, lo), hi) for d in period)
    if clamped != period:
        ss[W_PERIOD] = clamped
        notes.append("The period was limited to the decisions the system has.")
    picked = sb.date_input("Period", min_value=lo, max_value=hi, key=W_PERIOD, format="YYYY-MM-DD",
                           help="Model decision dates, inclusive. Defaults to the last full calendar quarter of the "
                                f"system's log (else its whole log); the log covers {lo} to {hi}.")
    picked = tuple(picked) if isinstance(picked, (tuple, list)) else (picked,)
    start = picked[0] if picked else lo
    end = picked[1] if len(picked) > 1 else hi
    if start > end:
        start, end = end, start
    label = periods.quarter_label(start, end)
    if (start, end) == (default.start, default.end) and default.how == periods.LAST_FULL_QUARTER:
        sb.caption(f"{label}: the last full quarter (default).")
    elif label:
        sb.caption(f"{label}.")
    if (start, end) != (lo, hi):
        sb.button(f"Whole log ({lo} – {hi})", on_click=_set_period, args=((lo, hi),), width="stretch",
                  help="Widen the period to every decision of the system.")

    # model version
    versions = [ALL_VERSIONS] + context["versions"]
    _init_choice(ss, W_VERSION, "_url_version", versions, notes,
                 unknown=lambda wanted: f"Model version '{wanted}' is not in {name}; showing all versions.")
    version = sb.selectbox("Model version", versions, key=W_VERSION)

    # segment
    segments = [EVERYONE] + [f"{a}={v}" for a, values in context["segments"].items() for v in values]
    _init_choice(ss, W_SEGMENT, "_url_segment", segments, notes,
                 unknown=lambda wanted: f"Segment '{wanted}' is not in {name}; showing everyone.")
    segment = sb.selectbox("Segment", segments, key=W_SEGMENT,
                           format_func=lambda s: s.replace("=", " = ") if s != EVERYONE else s,
                           help="Restrict every page to the cases with one value of a sensitive attribute.")
    sb.button("Reset filters", on_click=_reset_all, width="stretch")

    flt = Filter(start=start, end=end, system=name,
                 model_version=None if version == ALL_VERSIONS else version,
                 segment=tuple(segment.split("=", 1)) if segment != EVERYONE else None)
    _to_url(flt, (default.start, default.end))
    view = View(db=db, status="ok", filter=flt, system=system, catalog=catalog, context=context,
                period=(lo, hi), notes=notes, default_period=default)
    for note in notes:
        sb.warning(note)
    _store_footer(view)
    ss["hitlgov_view"] = view
    return view


def _set_period(period: tuple[dt.date, dt.date]) -> None:
    st.session_state[W_PERIOD] = period


def _to_url(flt: Filter, default: tuple[dt.date, dt.date]) -> None:
    """The filter in the query string; ``from``/``to`` only when the period is not the default."""
    wanted = {"system": flt.system}
    if (flt.start, flt.end) != default:
        wanted["from"], wanted["to"] = flt.start.isoformat(), flt.end.isoformat()
    if flt.model_version:
        wanted["version"] = flt.model_version
    if flt.segment:
        wanted["segment"] = f"{flt.segment[0]}={flt.segment[1]}"
    qp = st.query_params
    for k in KEYS:
        if k in wanted:
            if qp.get(k) != wanted[k]:
                qp[k] = wanted[k]
        elif k in qp:
            del qp[k]


def _store_footer(view: View) -> None:
    from hitlgov.metrics import inventory

    st.sidebar.divider()
    runs = data.try_call(inventory.ingestion_runs, limit=1) if view.status != "unavailable" else []
    last = f" · last ingestion {fmt.when(runs[0]['finished_at'])} (run {runs[0]['run_id']})" if runs else ""
    st.sidebar.caption(f"Store `{view.db}`, read-only{last}")


def current() -> View:
    """The view the entrypoint computed in this run."""
    view = st.session_state.get("hitlgov_view")
    if view is None:  # a page run on its own (tests of a single page)
        view = sidebar()
    return view
