"""hitlgov dashboard entrypoint: ``hitlgov serve`` (which runs ``streamlit run <this file> -- --db FILE``).

The entrypoint renders what every page shares (logo, global filters in the sidebar) and routes
to the pages, grouped by audience. Errors users can act on (missing or locked store) are shown
as one message, never as a traceback.
"""
from __future__ import annotations

import traceback
from pathlib import Path

import streamlit as st
from hitlgov.dashboard import filters

from hitlgov.errors import HitlgovError

HERE = Path(__file__).resolve().parent  # the installed package's folder: assets and pages ship in the wheel

st.set_page_config(page_title="hitlgov · Human oversight of AI", page_icon=str(HERE / "assets" / "icon.svg"),
                   layout="wide", initial_sidebar_state="expanded")
st.logo(str(HERE / "assets" / "logo.svg"), size="large")


def _page(file: str, title: str, icon: str, url: str, **kw) -> st.Page:
    return st.Page(str(HERE / "views" / file), title=title, icon=icon, url_path=url, **kw)


PAGES = {
    "Executive": [
        _page("overview.py", "Overview", ":material/monitoring:", "overview", default=True),
    ],
    "Compliance": [
        _page("oversight.py", "Oversight", ":material/visibility:", "oversight"),
        _page("reviewers.py", "Reviewers & agreement", ":material/groups:", "reviewers"),
        _page("reliance.py", "Reliance", ":material/fact_check:", "reliance"),
        _page("fairness.py", "Fairness", ":material/balance:", "fairness"),
        _page("drift.py", "Drift", ":material/trending_down:", "drift"),
        _page("monitoring.py", "Monitoring", ":material/notifications_active:", "monitoring"),
    ],
    "Audit": [
        _page("audit_trail.py", "Audit trail", ":material/policy:", "audit-trail"),
        _page("data_page.py", "Data", ":material/database:", "data"),
        _page("reports.py", "Reports", ":material/description:", "reports"),
    ],
}

page = st.navigation(PAGES)
try:
    filters.sidebar()
    page.run()
except HitlgovError as exc:  # missing / locked / unreadable store: one line, no traceback
    st.error(str(exc))
except Exception as exc:  # noqa: BLE001 - the app must never show a raw traceback
    st.error(f"Unexpected error on this page: {type(exc).__name__}: {exc}")
    with st.expander("Technical details (for a bug report)"):
        st.code("".join(traceback.format_exception(exc)), language="text")
