"""hitlgov dashboard entrypoint: ``hitlgov serve`` (which runs ``streamlit run <this file> -- --db FILE``).

The entrypoint renders what every page shares (logo, global filters in the sidebar) and routes
to the pages, grouped by audience. Errors users can act on (missing or locked store) are shown
as one message, never as a traceback.
"""
from __future__ import annotations

import traceback
from pathlib import Path

import streamlit as st
from hitlgov.dashboard import access, data, filters

from hitlgov import actor
from hitlgov.errors import HitlgovError

HERE = Path(__file__).resolve().parent  # the installed package's folder: assets and pages ship in the wheel

st.set_page_config(page_title="hitlgov · Human oversight of AI", page_icon=str(HERE / "assets" / "icon.svg"),
                   layout="wide", initial_sidebar_state="expanded")
st.logo(str(HERE / "assets" / "logo.svg"), size="large")


def _page(file: str, title: str, icon: str, url: str, **kw) -> st.Page:
    return st.Page(str(HERE / "views" / file), title=title, icon=icon, url_path=url, **kw)


# (group, view file, title, icon, url path); who may open which is hitlgov.dashboard.access.PAGE_ROLES
PAGES = [
    ("Executive", "overview.py", "Overview", ":material/monitoring:", "overview"),
    ("Compliance", "oversight.py", "Oversight", ":material/visibility:", "oversight"),
    ("Compliance", "reviewers.py", "Reviewers & agreement", ":material/groups:", "reviewers"),
    ("Compliance", "reliance.py", "Reliance", ":material/fact_check:", "reliance"),
    ("Compliance", "fairness.py", "Fairness", ":material/balance:", "fairness"),
    ("Compliance", "drift.py", "Drift", ":material/trending_down:", "drift"),
    ("Compliance", "monitoring.py", "Monitoring", ":material/notifications_active:", "monitoring"),
    ("Audit", "audit_trail.py", "Audit trail", ":material/policy:", "audit-trail"),
    ("Audit", "data_page.py", "Data", ":material/database:", "data"),
    ("Audit", "reports.py", "Reports", ":material/description:", "reports"),
    ("Administration", "users.py", "Users", ":material/manage_accounts:", "users"),
]


def _navigation(identity: access.Identity) -> st.Page:
    """Only the permitted pages are listed; the others stay registered but hidden, so their URL
    lands on this app's "not permitted" instead of a silent redirect (checked again below)."""
    allowed = [p for p in PAGES if access.can_view(identity, Path(p[1]).stem)]
    default = allowed[0][1] if allowed else None
    groups: dict[str, list[st.Page]] = {}
    for group, file, title, icon, url in PAGES:
        visible = access.can_view(identity, Path(file).stem)
        is_default = file == default
        # the default page is served at "/"; its own name (/overview) stays a working address
        # through a hidden alias that opens it with the link's filters
        page = _page(file, title, icon, f"{url}-home" if is_default else url, default=is_default,
                     visibility="visible" if visible else "hidden")
        groups.setdefault(group if visible else "", []).append(page)
        if is_default:
            groups.setdefault("", []).append(st.Page(_alias(page), title=title, url_path=url, visibility="hidden"))
    hidden = groups.pop("", [])
    if hidden:
        groups.setdefault(next(iter(groups), "Pages"), []).extend(hidden)
    return st.navigation(groups)


def _alias(target: st.Page):
    def open_target() -> None:
        st.switch_page(target, query_params=dict(st.query_params))
    return open_target


try:
    identity = access.sign_in(data.db_path())
except HitlgovError as exc:  # sign-in not configured, or the config file became unreadable
    st.error(str(exc))
    st.stop()
page = _navigation(identity)
try:
    access.sidebar(identity)
    # server side, before any line of the page runs: a hidden page opened by its URL stops here
    access.require_page(next((Path(f).stem for _g, f, t, _i, _u in PAGES if t == page.title), ""))
    with actor.acting_as(identity.actor):  # every audit event of this run names the signed-in user
        filters.sidebar()
        page.run()
except HitlgovError as exc:  # missing / locked / unreadable store: one line, no traceback
    st.error(str(exc))
except Exception as exc:  # noqa: BLE001 - the app must never show a raw traceback
    st.error(f"Unexpected error on this page: {type(exc).__name__}: {exc}")
    with st.expander("Technical details (for a bug report)"):
        st.code("".join(traceback.format_exception(exc)), language="text")
