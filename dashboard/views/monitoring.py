"""Monitoring (compliance): what ``hitlgov monitor`` recorded -- each finding's history (when it
started failing, for how long), remediation items with owners and due dates, and the Art. 73
incident register with its deadlines counting down.

These are records the product keeps (``findings_history``, ``remediation``, ``incidents``), not
metrics computed on the log, so they are read from the store directly (read-only, small tables).
Every value is shown in a table cell, never inside markup.
"""
from __future__ import annotations

import datetime as dt

import streamlit as st
from hitlgov.dashboard import ui
from hitlgov.oversight import incidents, monitor, remediation

from hitlgov.errors import HitlgovError

view = ui.page("Monitoring", "Continuous oversight: every scheduled evaluation of the policy, what was done about "
               "the findings that failed, and the serious incidents on the reporting clock.")
system = view.filter.system


def _read(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except HitlgovError as exc:
        st.error(str(exc))
        st.stop()


# -- findings history -------------------------------------------------------------------------
ui.section("Findings history", "One row per spell: a run of consecutive monitor evaluations with the same status. "
           "Rate rules use an anytime-valid test (a mixture e-value), so repeated evaluation does not inflate "
           "false alarms; the window's plain status is in the full history.")
rows = _read(monitor.history, view.db, system=system)
if not rows:
    ui.empty("No monitor run recorded for this system yet. Schedule `hitlgov monitor` (cron or a systemd timer; "
             "see the README) to evaluate the policy on the latest window every day.")
else:
    spells = monitor.spells(rows)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    current = {}
    for sp in spells:
        current[(sp["system"], sp["metric"])] = sp  # the last spell of each finding is its current status
    table = [{"system": sp["system"], "finding": sp["metric"], "status": sp["status"].upper(),
              "since": sp["since"], "last evaluated": sp["until"], "runs": sp["runs"],
              "days in this status": round((now - sp["since"]).total_seconds() / 86400, 1)}
             for sp in current.values()]
    failing = [t for t in table if t["status"] == "FAIL"]
    c1, c2, c3 = st.columns(3)
    ui.kpi(c1, "Findings failing now", str(len(failing)))
    ui.kpi(c2, "Monitor runs", str(len({r["monitor_run"] for r in rows})))
    ui.kpi(c3, "Last run", f"{max(r['evaluated_at'] for r in rows):%Y-%m-%d %H:%M} UTC")
    st.markdown("**Current status of each finding**")
    ui.table(sorted(table, key=lambda t: ({"FAIL": 0, "WARN": 1, "PASS": 2}.get(t["status"], 3), t["finding"])),
             key="mon_current")
    with st.expander("Every spell"):
        ui.table([{**sp, "status": sp["status"].upper()} for sp in spells], key="mon_spells")
    with st.expander("Every evaluation"):
        ui.table(rows, key="mon_rows")

# -- remediation ------------------------------------------------------------------------------
ui.section("Remediation", "Failing findings assigned an owner and a due date (`hitlgov remediation assign`); "
           "overdue when not resolved after the due day.")
items = _read(remediation.items, view.db)
items = [i for i in items if system is None or i["system"] == system]
if not items:
    ui.empty("No remediation item recorded.")
else:
    overdue = [i for i in items if i["overdue"]]
    if overdue:
        st.warning(f"{len(overdue)} remediation item(s) overdue.", icon=":material/schedule:")
    ui.table([{"item": i["item_id"], "system": i["system"], "finding": i["metric"], "owner": i["owner"],
               "due": i["due"], "state": i["state"], "overdue": i["overdue"], "note": i["note"],
               "resolution": i["resolution"]} for i in items], key="mon_remediation")

# -- incidents --------------------------------------------------------------------------------
ui.section("Serious incidents (EU AI Act Art. 73)", "Deadlines count from awareness: 15 days; 2 for a widespread "
           "infringement or critical infrastructure; 10 for a death. The deadline is midnight after the last day "
           "in the time zone of awareness (`hitlgov incident add`).")
register = _read(incidents.register, view.db)
register = [i for i in register if system is None or i["system"] in (None, system)]
if not register:
    ui.empty("No serious incident recorded.")
else:
    ui.table([{"incident": i["incident_id"], "category": i["category"], "article": i["article"], "title": i["title"],
               "aware": i["aware_at"], "deadline": i["deadline_at"], "state": i["state"],
               "days left": None if i["seconds_remaining"] is None else round(i["seconds_remaining"] / 86400, 1),
               "linked cases": len(i["linked_cases"])} for i in register], key="mon_incidents")
